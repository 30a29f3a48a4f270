package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/mollie"
	"github.com/oauthlink/oauthlink/qonto"
	"github.com/oauthlink/oauthlink/store"
)

// connectionJSON is what /api/connections shows of a connection: never a
// token.
type connectionJSON struct {
	Provider  string   `json:"provider"`
	Account   string   `json:"account"`
	Scopes    []string `json:"scopes"`
	ExpiresAt string   `json:"expires_at"` // RFC 3339
	Status    string   `json:"status"`
}

// apiConnections is GET /api/connections: the logged-in user's connections,
// ordered by provider.
func (a *app) apiConnections(w http.ResponseWriter, r *http.Request) {
	conns, err := a.store0().List(r.Context(), a.sessions.user(r))
	if err != nil {
		a.log.Error("listing connections", "error", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "store_unavailable"})
		return
	}
	out := make([]connectionJSON, 0, len(conns))
	for _, c := range conns {
		scopes := c.Scopes
		if scopes == nil {
			scopes = []string{}
		}
		out = append(out, connectionJSON{
			Provider: c.Provider, Account: c.AccountID, Scopes: scopes,
			ExpiresAt: c.Expiry.UTC().Format(time.RFC3339), Status: string(c.Status),
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// apiTimeout bounds a provider API call the demo makes for a request.
const apiTimeout = 30 * time.Second

// apiOrganization is GET /api/{provider}/organization: it calls the
// provider's organization endpoint as the logged-in user with the provider
// package's typed client over Connector.Client (a fresh bearer token,
// refreshed as needed and once more on a 401, sent only to the provider's
// API host), and relays the provider's JSON as it came.
func (a *app) apiOrganization(p *provider) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), apiTimeout)
		defer cancel()
		user := a.sessions.user(r)
		body, err := p.organization(ctx, p.conn.Client(user))
		if err != nil {
			a.apiTrouble.fail(p.name, user, a.now(), err)
			a.log.Warn("organization call failed", "provider", p.name, "error", err)
			status, answer := organizationError(p.name, err)
			writeJSON(w, status, answer)
			return
		}
		a.apiTrouble.ok(p.name, user)
		if id, name, err := parseOrganization(p.name, body); err == nil {
			a.accounts.set(p.name, id, name)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	})
}

// organizationError is the status and JSON answer for a failed
// organization call.
func organizationError(provider string, err error) (int, any) {
	reason := func(r string) map[string]string { return map[string]string{"error": r, "provider": provider} }
	var me *mollie.APIError
	var qe *qonto.APIError
	switch {
	case errors.Is(err, oauthlink.ErrReauthRequired):
		return http.StatusUnauthorized, reason("reauth_required")
	case errors.Is(err, store.ErrNotFound), errors.Is(err, oauthlink.ErrDisconnected):
		return http.StatusUnauthorized, reason("not_connected")
	case errors.As(err, &me):
		return providerError(provider, me.StatusCode)
	case errors.As(err, &qe):
		return providerError(provider, qe.StatusCode)
	case errors.Is(err, mollie.ErrResponse), errors.Is(err, qonto.ErrResponse):
		return http.StatusBadGateway, reason("provider_malformed")
	case errors.Is(err, mollie.ErrClientConfig), errors.Is(err, qonto.ErrClientConfig):
		return http.StatusInternalServerError, map[string]string{"error": "bad_api_url"}
	}
	return http.StatusBadGateway, reason("provider_unreachable")
}

// providerError is the answer when the provider answered an error status.
func providerError(provider string, status int) (int, any) {
	return http.StatusBadGateway, map[string]any{"error": "provider_error", "provider": provider, "provider_status": status}
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
