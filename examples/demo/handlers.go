package main

import (
	"cmp"
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
	user := a.sessions.user(r)
	if user == "" {
		a.render(w, http.StatusOK, "login", loginView{})
		return
	}
	a.dashboard(w, r, http.StatusOK, user, nil)
}

// dashboard renders the user's connections; form, when not nil, is a
// client-link form to show again with its error.
func (a *app) dashboard(w http.ResponseWriter, r *http.Request, status int, user string, form *signupForm) {
	v := dashboardView{User: user, Store: a.storeDesc}
	conns, err := a.store0().List(r.Context(), user)
	if err != nil {
		a.log.Error("listing connections", "owner", user, "error", err)
		v.Problem = "The token store could not be read, so the connections below may be incomplete. Try again in a moment."
	}
	now := a.now()
	for _, p := range a.providers {
		pv := providerView{Name: p.name, Title: p.title, Sandbox: p.sandbox, ClientLinks: p.clientLinks != nil}
		for _, c := range conns {
			if c.Provider == p.name {
				pv.Conn = newConnView(c, now)
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

// store0 is the store as the connectors see it (tokens decrypted); every
// connector wraps the same store with the same key.
func (a *app) store0() store.TokenStore { return a.store }

// login is POST /login: form field user.
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	user := strings.TrimSpace(r.PostFormValue("user"))
	if !userName.MatchString(user) {
		a.render(w, http.StatusUnprocessableEntity, "login", loginView{
			User:  user,
			Error: "user: enter 1 to 64 letters, digits or . _ @ + -",
		})
		return
	}
	if err := a.sessions.login(w, user); err != nil {
		a.errorPage(w, r, http.StatusInternalServerError, "Login failed", "The login cookie could not be made.", "")
		return
	}
	a.log.Info("login", "user", user)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout is POST /logout.
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	a.sessions.logout(w)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// refresh is POST /connections/{provider}/refresh: "refresh now". The
// library refreshes by itself ahead of expiry and offers no forced
// refresh, so the demo marks the stored token as due (a compare-and-swap
// write like any other) and then asks for a fresh one.
func (a *app) refresh(p *provider) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := a.sessions.user(r)
		st := a.store
		c, err := st.Load(r.Context(), p.name, user)
		if errors.Is(err, store.ErrNotFound) {
			a.errorPage(w, r, http.StatusNotFound, "Nothing to refresh", p.title+" is not connected.", "")
			return
		}
		if err == nil && c.Status == store.StatusActive {
			c.Expiry = a.now().Add(-time.Second)
			if err = st.Save(r.Context(), c); errors.Is(err, store.ErrVersionConflict) {
				err = nil // someone else wrote (a refresh, most likely): fine
			}
		}
		if err == nil {
			_, err = p.conn.Connection(r.Context(), user)
		}
		switch {
		case err == nil:
			http.Redirect(w, r, "/", http.StatusSeeOther)
		case errors.Is(err, oauthlink.ErrReauthRequired), errors.Is(err, oauthlink.ErrDisconnected):
			a.errorPage(w, r, http.StatusConflict, "Reconnect needed",
				p.title+" no longer accepts this connection's refresh token. Connect again from the dashboard.", "")
		default:
			a.log.Warn("refresh failed", "provider", p.name, "owner", user, "error", err)
			a.errorPage(w, r, http.StatusBadGateway, "Refresh failed",
				"The token could not be refreshed right now. Nothing was lost; try again in a moment.", "")
		}
	})
}

// flowError is every connector's Hooks.OnError, so it also gets the Mollie
// client-link handler's failures (clientLinkError): a readable page with
// oauthlink.HTTPStatus(err). The only provider text shown is the
// description of a provider error, escaped by html/template.
func (a *app) flowError(w http.ResponseWriter, r *http.Request, err error) {
	if r.URL.Path == clientLinkPath && a.clientLinkError(w, r, err) {
		return
	}
	status := oauthlink.HTTPStatus(err)
	title, msg, detail := "Connection failed", "Something went wrong while connecting the account. Nothing was saved; please try again.", ""
	var pe *oauthlink.ProviderError
	var param *oauthlink.ParamError
	switch {
	case errors.As(err, &pe) && pe.Cancelled():
		title, msg = "Connection cancelled", "The connection was declined at the provider. Nothing was changed."
	case errors.As(err, &pe) && pe.StatusCode == 0: // on the callback, not from the token endpoint
		msg, detail = "The provider refused the connection. Nothing was saved.", pe.Description
		if detail == "" {
			detail = pe.Code
		}
	case errors.Is(err, oauthlink.ErrOwnerMismatch):
		msg = "This connection was started by another user. Log in as that user, or start again."
	case errors.Is(err, oauthlink.ErrNoOwner):
		msg = "Please log in, then start the connection again."
	case status == http.StatusForbidden: // a cross-site request (the cancelled and other-user cases come first)
		title, msg = "Request refused", "This form must be sent from the demo's own pages. Please open the dashboard and try again."
	case errors.Is(err, oauthlink.ErrStateExpired):
		msg = "This connection attempt took too long and expired. Please start again."
	case errors.Is(err, oauthlink.ErrNoFlowCookie):
		msg = "This browser has no record of this connection attempt: it was started in another browser, " +
			"the browser did not keep its cookie, or it was started too long ago. Please start again from the dashboard in this browser."
	case errors.Is(err, oauthlink.ErrAlreadyConnected):
		msg = "This link was already used, and it connected the account: there is nothing more to do. The connection is on the dashboard."
	case errors.Is(err, oauthlink.ErrStateReplayed):
		msg = "This link was already used. Please start the connection again."
	case errors.Is(err, oauthlink.ErrIssuer):
		msg = "The answer did not say it came from the provider this connection was started with, so it was refused. Please start the connection again."
	case errors.As(err, &param):
		// The parameter's name only: its value is the request's.
		msg = "The start request's " + param.Param + " parameter is invalid. Nothing was started; please check it and try again."
	case status == http.StatusBadRequest:
		msg = "This request is invalid or was already used. Please start the connection again from the dashboard."
	case errors.Is(err, oauthlink.ErrExchange):
		msg = "The provider did not complete the connection (its token endpoint failed). Nothing was saved; please try again."
	case status == http.StatusServiceUnavailable: // the store check before the code is spent
		msg = "The token store is unavailable, so the connection was not attempted. Please try again in a moment."
	case errors.Is(err, oauthlink.ErrStore):
		msg = "The token store failed, so the connection was not saved (a grant already issued is revoked). Please try again."
	}
	a.errorPage(w, r, status, title, msg, detail)
}

// errorPage renders the error page with status.
func (a *app) errorPage(w http.ResponseWriter, r *http.Request, status int, title, msg, detail string) {
	w.Header().Set("Cache-Control", "no-store")
	a.render(w, status, "error", errorView{Status: status, StatusText: http.StatusText(status), Title: title, Message: msg, Detail: detail, LoggedIn: a.sessions.user(r) != ""})
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
