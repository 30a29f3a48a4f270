package main

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/mollie"
	"github.com/oauthlink/oauthlink/store"
)

// home is the login page, or the dashboard once logged in.
func (a *app) home(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	user := a.sessions.user(r)
	if user == "" {
		a.render(w, http.StatusOK, "login", a.loginView(r, "", ""))
		return
	}
	a.dashboard(w, r, http.StatusOK, user, nil)
}

// loginView is the login form; it says "Log in to continue" when a
// logged-out visit to a connect link is waiting (nextCookie), or a notice
// is (a callback reached while logged out).
func (a *app) loginView(r *http.Request, user, problem string) loginView {
	v := loginView{User: user, Error: problem}
	if next := a.sessions.peekFlash(r, nextCookie); safeNext(next) {
		v.Continue = "Log in to continue: you will be taken back to " + next + "."
	} else if n := a.sessions.peekFlash(r, noticeCookie); n != "" {
		v.Continue = n
	}
	return v
}

// dashboard renders the user's connections; form, when not nil, is a
// client-link form to show again with its error.
func (a *app) dashboard(w http.ResponseWriter, r *http.Request, status int, user string, form *signupForm) {
	w.Header().Set("Cache-Control", "no-store") // Back must not show a stale account
	v := dashboardView{User: user, Store: a.storeDesc, SandboxLost: a.sandboxLost}
	if form == nil {
		v.Notice = a.sessions.takeFlash(w, r, noticeCookie)
	}
	conns, err := a.store0().List(r.Context(), user)
	if err != nil {
		a.log.Error("listing connections", "owner", user, "error", err)
		v.Problem = "The token store could not be read, so the connections below may be incomplete. Try again in a moment."
	}
	// Names the demo has not seen yet are read from the provider's API as
	// the merchant; a token the provider refuses takes the library's 401
	// path, and a connection it marks reauth_required is shown so.
	if a.learnNames(r.Context(), user, conns) {
		if again, err := a.store0().List(r.Context(), user); err == nil {
			conns = again
		}
	}
	now := a.now()
	for _, p := range a.providers {
		pv := providerView{Name: p.name, Title: p.title, Sandbox: p.sandbox, ClientLinks: p.clientLinks != nil}
		if p.name == "qonto" && a.fakeQonto != nil {
			pv.Consents = p.sandbox + sandboxConsentsPath
		}
		for _, c := range conns {
			if c.Provider == p.name {
				pv.Conn = newConnView(c, now)
				pv.Conn.AccountName = a.accounts.get(p.name, c.AccountID)
				if n, ok := a.apiTrouble.get(p.name, user); ok && pv.Conn.Active {
					pv.Conn.Trouble = "Last API call, " + relative(n.At, now) + ": " + n.What + "."
				}
			}
		}
		if p.name == "mollie" {
			pv.Signup = form
			if pv.Signup == nil {
				pv.Signup = &signupForm{}
			}
		}
		v.Providers = append(v.Providers, pv)
	}
	a.render(w, status, "dashboard", v)
}

// learnNames reads the names of the user's active connections' accounts
// the demo does not know yet, and reports whether a call changed a
// connection's status (the provider refused it).
func (a *app) learnNames(ctx context.Context, user string, conns []*oauthlink.Connection) (changed bool) {
	for _, c := range conns {
		p := a.provider(c.Provider)
		if p == nil || c.Status != store.StatusActive || c.AccountID == "" {
			continue
		}
		if _, known := a.accounts.lookup(p.name, c.AccountID); known {
			continue
		}
		if _, recent := a.apiTrouble.get(p.name, user); recent {
			continue // asked already; the card says what went wrong
		}
		if _, _, err := a.fetchAccount(ctx, p, user); errors.Is(err, oauthlink.ErrReauthRequired) || errors.Is(err, oauthlink.ErrDisconnected) {
			changed = true
		}
	}
	return changed
}

// store0 is the store as the connectors see it (tokens decrypted); every
// connector wraps the same store with the same key.
func (a *app) store0() store.TokenStore { return a.store }

// login is POST /login: form field user. After the login the browser goes
// to the connect link it was sent away from, if any, else to /.
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	user := strings.TrimSpace(r.PostFormValue("user"))
	if !userName.MatchString(user) {
		a.render(w, http.StatusUnprocessableEntity, "login", a.loginView(r, user, userRule))
		return
	}
	if err := a.sessions.login(w, user); err != nil {
		a.errorPage(w, r, http.StatusInternalServerError, "Login failed", "The login cookie could not be made.", "")
		return
	}
	a.log.Info("login", "user", user)
	a.sessions.takeFlash(w, r, noticeCookie) // "Log in to continue" has been said
	next := a.sessions.takeFlash(w, r, nextCookie)
	if !safeNext(next) {
		next = "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// userRule says which user names the login takes.
const userRule = "user: use 1 to 64 letters (A–Z, a–z), digits or . _ @ + - and no spaces, e.g. ada.lovelace"

// logout is POST /logout.
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	a.sessions.logout(w)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// refresh is POST /connections/{provider}/refresh: "refresh now", with
// Connector.ForceRefresh, and a notice that says what came of it.
func (a *app) refresh(p *provider) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := a.sessions.user(r)
		before, err := a.store.Load(r.Context(), p.name, user)
		if errors.Is(err, store.ErrNotFound) {
			a.errorPage(w, r, http.StatusNotFound, "Nothing to refresh", p.title+" is not connected.", "")
			return
		}
		var after *oauthlink.Connection
		if err == nil {
			after, err = p.conn.ForceRefresh(r.Context(), user)
		}
		switch {
		case err == nil:
			a.notice(w, refreshNotice(p.title, before, after, a.now()))
			http.Redirect(w, r, "/", http.StatusSeeOther)
		case errors.Is(err, oauthlink.ErrRefresh) && before.RefreshToken == "" && before.Status == store.StatusActive:
			// ForceRefresh changed nothing: there is no refresh token.
			a.notice(w, refreshNotice(p.title, before, nil, a.now()))
			http.Redirect(w, r, "/", http.StatusSeeOther)
		case errors.Is(err, oauthlink.ErrReauthRequired), errors.Is(err, oauthlink.ErrDisconnected):
			a.errorPageAction(w, r, http.StatusConflict, "Reconnect needed",
				p.title+" no longer accepts this connection, so it cannot be refreshed. Connect again to link the account.", "",
				&pageAction{Label: "Reconnect " + p.title, Href: "/connect/" + p.name})
		default:
			a.log.Warn("refresh failed", "provider", p.name, "owner", user, "error", err)
			a.errorPage(w, r, http.StatusBadGateway, "Refresh failed",
				"The token could not be refreshed right now. Nothing was lost; try again in a moment.", "")
		}
	})
}

// refreshNotice says what "Refresh now" did: after is the connection
// ForceRefresh returned, nil when it refused for want of a refresh token.
// The same access token back (a peer refreshed just before, or a provider
// that hands out the token it has) is "nothing to refresh".
func refreshNotice(title string, before, after *oauthlink.Connection, now time.Time) string {
	switch {
	case after == nil:
		return "Nothing to refresh: " + title + " gave this connection no refresh token; its token is valid " + validFor(before.Expiry, now) + "."
	case after.AccessToken == before.AccessToken:
		return "Nothing to refresh yet: " + title + "'s token is valid " + validFor(after.Expiry, now) + "."
	case after.Expiry.IsZero():
		return "Token refreshed: " + title + " gave a new token without an expiry."
	}
	return "Token refreshed: " + title + "'s new token is valid until " + fmtTime(after.Expiry) + " (" + relative(after.Expiry, now) + ")."
}

// validFor says how long a token stays valid: "for 58 more minutes".
func validFor(expiry, now time.Time) string {
	switch {
	case expiry.IsZero():
		return "until the provider rejects it (no expiry given)"
	case expiry.After(now):
		return "for " + human(expiry.Sub(now)) + " more, until " + fmtTime(expiry)
	}
	return "no longer (expired " + human(now.Sub(expiry)) + " ago); it is refreshed on next use"
}

// providerOf returns the provider whose route r is on (/connect/{name}...,
// /connections/{name}/...), or nil.
func (a *app) providerOf(r *http.Request) *provider {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if len(parts) >= 2 && (parts[0] == "connect" || parts[0] == "connections") {
		return a.provider(parts[1])
	}
	return nil
}

// flowError is every connector's Hooks.OnError, so it also gets the Mollie
// client-link handler's failures (clientLinkError): a page of its own for
// each cause, with oauthlink.HTTPStatus(err) and the action that fixes it.
// The only provider text shown is the description of a provider error,
// escaped by html/template.
func (a *app) flowError(w http.ResponseWriter, r *http.Request, err error) {
	if r.URL.Path == clientLinkPath && a.clientLinkError(w, r, err) {
		return
	}
	status := oauthlink.HTTPStatus(err)
	title, msg, detail := "Connection failed", "Something went wrong while connecting the account. Nothing was saved; please try again.", ""
	p := a.providerOf(r)
	name, start := "the provider", (*pageAction)(nil)
	if p != nil {
		name = p.title
		start = &pageAction{Label: "Start again", Href: "/connect/" + p.name}
	}
	action := start
	var pe *oauthlink.ProviderError
	var param *oauthlink.ParamError
	switch {
	case errors.As(err, &pe) && pe.Cancelled():
		title, msg = "Connection cancelled", "The connection was declined at "+name+". Nothing was changed."
	case errors.As(err, &pe) && pe.StatusCode == 0: // on the callback, not from the token endpoint
		msg, detail = name+" refused the connection. Nothing was saved.", pe.Description
		if detail == "" {
			detail = pe.Code
		}
	case errors.Is(err, oauthlink.ErrOwnerMismatch):
		title, msg, action = "Started by another user", "This connection was started while another user was logged in. Log in as that user to finish it, or start again as "+a.sessions.user(r)+".", start
	case errors.Is(err, oauthlink.ErrNoOwner):
		title, msg, action = "Log in to continue", "Please log in, then start the connection again.", nil
	case errors.Is(err, oauthlink.ErrRevoke):
		title, msg = "Disconnected — revocation pending",
			"The connection is disconnected here, but "+name+" did not confirm the revocation of its access. "+
				"The demo's keeper retries it every 10 minutes; you can also retry now."
		if p != nil {
			action = &pageAction{Label: "Retry the revocation", Href: "/connections/" + p.name + "/disconnect", Post: true}
		}
	case status == http.StatusForbidden: // a cross-site request (the cancelled and other-user cases come first)
		title, msg, action = "Request refused", "This form must be sent from the demo's own pages. Please open the dashboard and try again.", nil
	case errors.Is(err, oauthlink.ErrAlreadyConnected):
		title, msg, action = "You're already connected",
			"This sign-in answer was already used, and it connected your "+name+" account: there is nothing more to do. "+
				"(It happens when the page is reloaded, or Back is used after connecting.)", nil
	case errors.Is(err, oauthlink.ErrStateReplayed):
		title, msg = "This connection attempt was already used",
			"The answer from "+name+" belongs to an attempt that was already finished (a reload, or a second tab that finished first), and it is not connected now. Please start again."
	case errors.Is(err, oauthlink.ErrStateExpired):
		title, msg = "This connection attempt expired; start again",
			"More than 10 minutes passed between starting the connection and approving it at "+name+", so the attempt expired. Nothing was saved."
	case errors.Is(err, oauthlink.ErrNoFlowCookie):
		title, msg = "Your browser did not send back the sign-in cookie",
			"This browser has no cookie for this connection attempt: cookies are blocked for this site, the attempt was started in another browser "+
				"(or a private window since closed), or too long ago. Allow cookies for this site and start again in this browser."
	case errors.Is(err, oauthlink.ErrIssuer):
		msg = "The answer did not say it came from the provider this connection was started with, so it was refused. Please start the connection again."
	case errors.Is(err, oauthlink.ErrInvalidState):
		title, msg = "This answer does not match your connection attempt",
			"The answer from "+name+" does not match the attempt this browser started: it was changed, it belongs to an older attempt, "+
				"or the demo restarted since. Nothing was saved; please start again."
	case errors.As(err, &param):
		// The parameter's name only: its value is the request's.
		title = "Invalid " + param.Param
		msg = "The start request's " + param.Param + " parameter is invalid"
		switch param.Param {
		case "return_to":
			msg += ": it must be a path on this site, such as /."
		case "organization_id", "registration_id":
			msg += ": it must be a UUID, such as a584b060-8c96-488d-8bbb-74f0d3d2803c (and send only one of organization_id and registration_id)."
		default:
			msg += "."
		}
		msg += " Nothing was started."
	case status == http.StatusBadRequest:
		msg = "This request is malformed. Please start the connection again from the dashboard."
	case errors.Is(err, oauthlink.ErrExchange):
		msg = name + " did not complete the connection (its token endpoint failed). Nothing was saved; please try again."
	case status == http.StatusServiceUnavailable: // the store check before the code is spent
		msg = "The token store is unavailable, so the connection was not attempted. Please try again in a moment."
	case errors.Is(err, oauthlink.ErrStore):
		msg = "The token store failed, so the connection was not saved (a grant already issued is revoked). Please try again."
	}
	a.errorPageAction(w, r, status, title, msg, detail, action)
}

// errorPage renders the error page with status and the dashboard link.
func (a *app) errorPage(w http.ResponseWriter, r *http.Request, status int, title, msg, detail string) {
	a.errorPageAction(w, r, status, title, msg, detail, nil)
}

// errorPageAction renders the error page with status, the header (who is
// logged in) and action, the button that fixes the problem.
func (a *app) errorPageAction(w http.ResponseWriter, r *http.Request, status int, title, msg, detail string, action *pageAction) {
	w.Header().Set("Cache-Control", "no-store")
	user := a.sessions.user(r)
	a.render(w, status, "error", errorView{Status: status, StatusText: http.StatusText(status), Title: title, Message: msg,
		Detail: detail, LoggedIn: user != "", User: user, Action: action})
}

// clientLink is POST /connect/mollie/client-link, or a page explaining
// what is missing when there is no organization token.
func (a *app) clientLink(p *provider) http.Handler {
	if p.clientLinks != nil {
		return p.clientLinks
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.errorPage(w, r, http.StatusNotImplemented, "Client links are not configured",
			"Set MOLLIE_ORG_TOKEN to your organization access token (with clients.write) to create Mollie client links.", "")
	})
}

// clientLinkPath is where the Mollie client-link handler is served.
const clientLinkPath = "/connect/mollie/client-link"

// clientLinkError answers a failure of the client-link handler and reports
// whether it did: a form problem re-renders the dashboard with the form and
// the bad field (422); Mollie failing gets the signup's error page with
// oauthlink.HTTPStatus(err) (502, or 503 when Mollie throttles). The
// connector's own causes (nobody logged in, a bad return_to, a cross-site
// post) are left to flowError.
func (a *app) clientLinkError(w http.ResponseWriter, r *http.Request, err error) bool {
	var ve *mollie.ValidationError
	var ae *mollie.APIError
	switch {
	case errors.As(err, &ve):
		a.signupProblem(w, r, ve.Field, ve.Reason)
		return true
	case errors.As(err, &ae) && ae.StatusCode == http.StatusUnprocessableEntity && formField(ae.Field) != "":
		a.signupProblem(w, r, ae.Field, "was refused by Mollie: "+ae.Detail)
		return true
	}
	status := oauthlink.HTTPStatus(err)
	msg := "The Mollie signup link could not be created. Nothing was created; please try again."
	switch {
	case status == http.StatusServiceUnavailable:
		msg = "Mollie is busy right now. Nothing was created; please try again in a moment."
	case status < 500:
		return false
	}
	a.log.Warn("client link failed", "status", status, "error", err)
	a.errorPage(w, r, status, "Could not start the Mollie signup", msg, "")
	return true
}

// signupProblem shows the client-link form again, filled in as sent, with
// the message next to the bad field; 422.
func (a *app) signupProblem(w http.ResponseWriter, r *http.Request, molliePath, reason string) {
	f := &signupForm{Values: map[string]string{}}
	for _, sf := range signupFields {
		f.Values[sf.Name] = r.PostFormValue(sf.Name)
	}
	f.Field = formField(molliePath)
	label := molliePath
	if sf := fieldByName(f.Field); sf != nil {
		label = sf.Label
	}
	f.Error = label + " (" + cmp.Or(f.Field, molliePath) + ") " + reason + "."
	w.Header().Set("Cache-Control", "no-store")
	a.dashboard(w, r, http.StatusUnprocessableEntity, a.sessions.user(r), f)
}

// buildClientLink turns the signup form into Mollie's request. Validation
// (and trimming) is the mollie package's: a bad field comes back as a
// *mollie.ValidationError naming it.
func buildClientLink(r *http.Request) (mollie.ClientLinkRequest, error) {
	f := r.PostForm
	return mollie.ClientLinkRequest{
		OrganizationOwner: mollie.OrganizationOwner{Email: f.Get("email"), GivenName: f.Get("given_name"), FamilyName: f.Get("family_name")},
		Name:              f.Get("organization_name"),
		Address: mollie.Address{
			StreetAndNumber: f.Get("street"), PostalCode: f.Get("postal_code"), City: f.Get("city"),
			Country: strings.ToUpper(strings.TrimSpace(f.Get("country"))),
		},
		RegistrationNumber: f.Get("registration_number"),
		VATNumber:          f.Get("vat_number"),
	}, nil
}
