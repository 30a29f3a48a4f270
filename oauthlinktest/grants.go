package oauthlinktest

import (
	"slices"
	"time"
)

// account is a merchant (Mollie organization, Qonto organization) that
// approved an authorization.
type account struct {
	id, name, email, locale, slug string
	onboarding                    Onboarding
}

// grant is one approved authorization: the code issued for it and every
// token that code and its refresh tokens produced. Revoking a grant revokes
// all of them (Hydra's chain revocation, Mollie's refresh-token revocation).
type grant struct {
	clientID     string
	account      *account
	scopes       []string
	authRedirect string // redirect_uri sent at authorize; "" when none
	redirect     string // where the browser was sent
	// exchangeRedirect is the redirect_uri sent with the code exchange;
	// Mollie then requires it on every refresh.
	exchangeRedirect string
	challenge        string // S256 code_challenge; "" when none
	tokens           []*token
	revoked          bool
}

func (g *grant) hasScope(scope string) bool { return slices.Contains(g.scopes, scope) }

func (g *grant) revokeAll() {
	g.revoked = true
	for _, t := range g.tokens {
		t.revoked = true
	}
}

type authCode struct {
	grant   *grant
	expires time.Time
	used    bool
}

type token struct {
	grant   *grant
	refresh bool
	expires time.Time // zero: never
	revoked bool
	usedAt  time.Time // refresh tokens that rotate: first use
	access  *token    // refresh tokens: the access token issued with it
}

func (t *token) expired(now time.Time) bool {
	return !t.expires.IsZero() && !now.Before(t.expires)
}

// decision is a scripted answer for the next authorization request.
type decision struct {
	deny       bool
	code, desc string
	accountID  string
}

// issueLocked creates an access token, and a refresh token when withRefresh,
// for g. s.mu must be held.
func (s *server) issueLocked(g *grant, withRefresh bool) (accessValue, refreshValue string) {
	now := s.now()
	at := &token{grant: g, expires: now.Add(s.cfg.accessLifetime)}
	accessValue = s.cfg.newAccess()
	s.access[accessValue] = at
	g.tokens = append(g.tokens, at)
	if withRefresh {
		rt := &token{grant: g, refresh: true, access: at}
		if s.cfg.refreshLifetime > 0 {
			rt.expires = now.Add(s.cfg.refreshLifetime)
		}
		refreshValue = s.cfg.newRefresh()
		s.refresh[refreshValue] = rt
		g.tokens = append(g.tokens, rt)
	}
	return accessValue, refreshValue
}

// accountLocked returns the account with id, creating it when id is new
// (with a generated id when id is empty). s.mu must be held.
func (s *server) accountLocked(id string) *account {
	if a := s.accounts[id]; a != nil {
		return a
	}
	for n := len(s.accounts) + 1; ; n++ {
		a := s.cfg.newAccount(n)
		if id != "" {
			a.id = id
		}
		if s.accounts[a.id] == nil {
			s.accounts[a.id] = a
			return a
		}
	}
}
