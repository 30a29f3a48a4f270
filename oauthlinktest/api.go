package oauthlinktest

import (
	"net/http"
	"strings"
)

// bearer returns the grant of the request's valid bearer access token
// (RFC 6750 §2.1) with a snapshot of its account, or ok=false when the
// token is missing, unknown, expired or revoked.
func (s *server) bearer(r *http.Request) (g grant, acct account, ok bool) {
	scheme, value, found := strings.Cut(r.Header.Get("Authorization"), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || value == "" {
		return grant{}, account{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.access[value]
	if t == nil || t.revoked || t.expired(s.now()) {
		return grant{}, account{}, false
	}
	return *t.grant, *t.grant.account, true
}

// writeInvalidToken adds the RFC 6750 §3 challenge for a missing or bad
// token.
func writeInvalidToken(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
}
