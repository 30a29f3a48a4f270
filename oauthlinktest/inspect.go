package oauthlinktest

import (
	"maps"
	"slices"
)

// Calls returns how many requests reached endpoint e, including those a
// fault or the staging check answered.
func (s *server) Calls(e Endpoint) int {
	return locked(s, func() int { return s.calls[e] })
}

// Exchanges returns how many authorization_code grant requests were
// processed (client authenticated), whether or not the code was accepted:
// a client that retries a failed exchange shows up here.
func (s *server) Exchanges() int {
	return locked(s, func() int { return s.exchanges })
}

// Refreshes returns how many refresh_token grant requests were processed
// (client authenticated), whether or not the refresh token was accepted.
func (s *server) Refreshes() int {
	return locked(s, func() int { return s.refreshes })
}

// ReuseDetections returns how many times a spent authorization code, or a
// refresh token that was revoked or used outside the grace window, was
// presented, each of which revoked the whole grant.
func (s *server) ReuseDetections() int {
	return locked(s, func() int { return s.reuses })
}

// Revocations returns how many revocation requests were accepted
// (authenticated and carrying a token, known or not).
func (s *server) Revocations() int {
	return locked(s, func() int { return s.revocations })
}

// Presented returns how many times secret was sent to the token endpoint
// as a code or refresh_token, whether or not the client authenticated
// (requests stopped by a fault or the staging check never reached it).
func (s *server) Presented(secret string) int {
	return locked(s, func() int { return s.presented[secret] })
}

// PresentedRefreshTokens returns every value sent to the token endpoint as
// refresh_token, with how many times it was sent (as Presented counts), so
// a test can check that no refresh token was spent twice without knowing
// the tokens in advance. The map is the caller's.
func (s *server) PresentedRefreshTokens() map[string]int {
	return locked(s, func() map[string]int { return maps.Clone(s.presentedRefresh) })
}

// ClientAuths returns the client-authentication style of each request to
// e (EndpointToken or EndpointRevoke) that reached authentication, in
// order.
func (s *server) ClientAuths(e Endpoint) []ClientAuth {
	return locked(s, func() []ClientAuth { return slices.Clone(s.auths[e]) })
}

// AccessTokenValid reports whether tok is an access token the API accepts
// now: issued by this fake, not revoked and not expired.
func (s *server) AccessTokenValid(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.access[tok]
	return t != nil && !t.revoked && !t.expired(s.now())
}

// RefreshTokenValid reports whether tok is a refresh token the token
// endpoint accepts now: issued by this fake, not revoked, not expired and,
// once rotated, still inside the grace window.
func (s *server) RefreshTokenValid(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.refresh[tok]
	if t == nil || t.revoked || t.expired(s.now()) {
		return false
	}
	return t.usedAt.IsZero() || s.now().Before(t.usedAt.Add(s.cfg.grace))
}

// locked returns f's result, computed with s.mu held.
func locked[T any](s *server, f func() T) T {
	s.mu.Lock()
	defer s.mu.Unlock()
	return f()
}
