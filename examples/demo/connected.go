package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store"
)

// What the dashboard says after a connect flow: connected to which
// organization, or, for a reconnect, whether the link moved to another
// one, or that a client link signed a new merchant up.

// previousKey is the request-context key of the connection the owner had
// when the callback arrived.
type previousKey struct{}

// previous is that connection, as far as the notice needs it.
type previous struct {
	Account string
	Status  store.Status
}

// callback is the connector's callback handler with the owner's current
// connection (if any) noted in the request's context, for the notice.
func (a *app) callback0(p *provider) http.Handler {
	h := p.conn.CallbackHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user := a.sessions.user(r); user != "" {
			if c, err := a.store.Load(r.Context(), p.name, user); err == nil {
				r = r.WithContext(context.WithValue(r.Context(), previousKey{}, previous{Account: c.AccountID, Status: c.Status}))
			}
		}
		h.ServeHTTP(w, r)
	})
}

// connected returns the connector's Hooks.OnConnected: then (the Qonto
// webhook subscription), the notice, and the library's default redirect.
// The connection is committed when it runs.
func (a *app) connected(providerName string, then func(r *http.Request, c *oauthlink.Connection)) func(http.ResponseWriter, *http.Request, *oauthlink.Connection, string) {
	return func(w http.ResponseWriter, r *http.Request, c *oauthlink.Connection, returnTo string) {
		if then != nil {
			then(r, c)
		}
		if p := a.provider(providerName); p != nil {
			a.notice(w, a.connectedNotice(w, r, p, c))
		}
		redirectConnected(w, r, returnTo)
	}
}

// connectedNotice says what the flow did.
func (a *app) connectedNotice(w http.ResponseWriter, r *http.Request, p *provider, c *oauthlink.Connection) string {
	id, name, err := a.fetchAccount(context.WithoutCancel(r.Context()), p, c.Owner)
	if err != nil || id != c.AccountID {
		name = a.accounts.get(p.name, c.AccountID)
	}
	now := describeAccount(name, c.AccountID)
	signup := ""
	if p.name == "mollie" {
		signup = a.sessions.takeFlash(w, r, signupCookie)
	}
	prev, had := r.Context().Value(previousKey{}).(previous)
	switch {
	case signup != "":
		return "Signed up " + cmpOr(name, signup) + " via a client link: its new Mollie organization (" + cmpOr(c.AccountID, "id unknown") + ") is connected."
	case !had:
		return "Connected to " + now + " at " + p.title + "."
	case prev.Account != "" && c.AccountID != "" && prev.Account != c.AccountID:
		return "Reconnected: now linked to " + now + " instead of " +
			describeAccount(a.accounts.get(p.name, prev.Account), prev.Account) + " at " + p.title + "."
	case prev.Status != store.StatusActive:
		return "Reconnected to " + now + " at " + p.title + ": the connection is active again (it was " + statusLabel(prev.Status) + ")."
	}
	return "Reconnected to " + now + " at " + p.title + " (the same organization as before), with a new token."
}

// describeAccount is "Name (id)", or the id alone, or "an unnamed
// organization".
func describeAccount(name, id string) string {
	switch {
	case name != "" && id != "":
		return name + " (" + id + ")"
	case id != "":
		return id
	case name != "":
		return name
	}
	return "an organization whose id the provider did not give"
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// disconnect0 is the connector's disconnect handler with a notice on
// success (the library answers 303 only once the provider confirmed the
// revocation; a failure goes to flowError).
func (a *app) disconnect0(p *provider) http.Handler {
	h := p.conn.DisconnectHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		msg := "Disconnected and revoked at " + p.title + "."
		if c, err := a.store.Load(r.Context(), p.name, a.sessions.user(r)); err == nil {
			account := describeAccount(a.accounts.get(p.name, c.AccountID), c.AccountID)
			switch c.Status {
			case store.StatusRevoked:
				msg = "Removed the connection to " + account + ": the merchant had already revoked it at " + p.title + "."
			case store.StatusDisconnected:
				msg = "Revocation confirmed: " + account + " is disconnected and revoked at " + p.title + "."
			default:
				msg = "Disconnected " + account + " and revoked the demo's access at " + p.title + "."
			}
		} else if errors.Is(err, store.ErrNotFound) {
			msg = p.title + " was not connected: nothing to disconnect."
		}
		onRedirect(h, func(w http.ResponseWriter, _ *http.Request) { a.notice(w, msg) }).ServeHTTP(w, r)
	})
}

// clientLink0 is the client-link handler; when it sends the browser to
// the link (303) it notes the organization's name, so the callback's
// notice can say a merchant was signed up.
func (a *app) clientLink0(p *provider) http.Handler {
	h := a.clientLink(p)
	return onRedirect(h, func(w http.ResponseWriter, r *http.Request) {
		if name := r.PostFormValue("organization_name"); name != "" {
			a.sessions.setFlash(w, signupCookie, name)
		}
	})
}
