package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/oauthlink/oauthlink"
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

// maxAPIBody caps what the demo relays from a provider.
const maxAPIBody = 1 << 20

// apiOrganization is GET /api/{provider}/organization: it calls the
// provider's organization endpoint as the logged-in user, through
// Connector.Client (a fresh bearer token, refreshed as needed, sent only
// to the provider's API host), and relays the provider's JSON.
func (a *app) apiOrganization(p *provider) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.apiURL+p.orgPath, nil)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "bad_api_url"})
			return
		}
		req.Header.Set("Accept", "application/json")
		resp, err := p.conn.Client(a.sessions.user(r)).Do(req)
		if err != nil {
			reason, status := "provider_unreachable", http.StatusBadGateway
			switch {
			case errors.Is(err, oauthlink.ErrReauthRequired):
				reason, status = "reauth_required", http.StatusUnauthorized
			case errors.Is(err, store.ErrNotFound), errors.Is(err, oauthlink.ErrDisconnected):
				reason, status = "not_connected", http.StatusUnauthorized
			}
			a.log.Warn("organization call failed", "provider", p.name, "error", err)
			writeJSON(w, status, map[string]string{"error": reason, "provider": p.name})
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIBody+1))
		switch {
		case err != nil:
			writeJSON(w, http.StatusBadGateway, map[string]string{"error": "provider_unreachable", "provider": p.name})
		case resp.StatusCode != http.StatusOK:
			writeJSON(w, http.StatusBadGateway, map[string]any{"error": "provider_error", "provider": p.name, "provider_status": resp.StatusCode})
		case len(body) > maxAPIBody || !json.Valid(body):
			writeJSON(w, http.StatusBadGateway, map[string]string{"error": "provider_malformed", "provider": p.name})
		default:
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusOK)
			w.Write(body)
		}
	})
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
