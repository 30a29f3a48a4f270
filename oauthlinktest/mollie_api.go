package oauthlinktest

import (
	"net"
	"net/http"
	"net/url"
	"time"
)

// Onboarding is a Mollie organization's onboarding state, as
// GET /v2/onboarding/me reports it.
type Onboarding struct {
	// Status is OnboardingNeedsData, OnboardingInReview or
	// OnboardingCompleted.
	Status string
	// CanReceivePayments and CanReceiveSettlements are reported verbatim.
	CanReceivePayments    bool
	CanReceiveSettlements bool
}

// Mollie's onboarding statuses.
const (
	OnboardingNeedsData = "needs-data"
	OnboardingInReview  = "in-review"
	OnboardingCompleted = "completed"
)

// SetOnboarding sets the onboarding state of the organization accountID
// ("org_<n>"), creating the organization if no authorization produced it
// yet (combine with ApproveNextAs to connect it).
func (m *Mollie) SetOnboarding(accountID string, o Onboarding) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.accountLocked(accountID).onboarding = o
}

type halLink struct {
	Href string `json:"href"`
	Type string `json:"type"`
}

func (m *Mollie) halLink(path string) halLink {
	base := m.URL()
	if m.opts.BrowserHost != "" {
		if u, err := url.Parse(base); err == nil {
			u.Host = net.JoinHostPort(m.opts.BrowserHost, u.Port())
			base = u.String()
		}
	}
	return halLink{Href: base + path, Type: "text/html"}
}

// organization serves GET /v2/organizations/me (scope organizations.read).
func (m *Mollie) organization(w http.ResponseWriter, r *http.Request) {
	acct, ok := m.authorizeAPI(w, r, "organizations.read")
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, "application/hal+json", map[string]any{
		"resource": "organization",
		"id":       acct.id,
		"name":     acct.name,
		"email":    acct.email,
		"locale":   acct.locale,
		"_links": map[string]halLink{
			"self":      {Href: m.URL() + "/v2/organizations/" + acct.id, Type: "application/hal+json"},
			"dashboard": m.halLink("/dashboard/" + acct.id),
		},
	})
}

// onboarding serves GET /v2/onboarding/me (scope onboarding.read).
func (m *Mollie) onboarding(w http.ResponseWriter, r *http.Request) {
	acct, ok := m.authorizeAPI(w, r, "onboarding.read")
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, "application/hal+json", map[string]any{
		"resource":              "onboarding",
		"name":                  acct.name,
		"signedUpAt":            time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC).Format(time.RFC3339),
		"status":                acct.onboarding.Status,
		"canReceivePayments":    acct.onboarding.CanReceivePayments,
		"canReceiveSettlements": acct.onboarding.CanReceiveSettlements,
		"_links": map[string]halLink{
			"self":         {Href: m.URL() + "/v2/onboarding/me", Type: "application/hal+json"},
			"dashboard":    m.halLink("/dashboard/" + acct.id + "/onboarding"),
			"organization": {Href: m.URL() + "/v2/organizations/" + acct.id, Type: "application/hal+json"},
		},
	})
}

// authorizeAPI checks the bearer token and scope, answering Mollie's HAL
// error (401, or 403 for a missing scope) when they fail.
func (m *Mollie) authorizeAPI(w http.ResponseWriter, r *http.Request, scope string) (account, bool) {
	g, acct, ok := m.bearer(r)
	if !ok {
		m.unauthorized(w)
		return account{}, false
	}
	if !g.hasScope(scope) {
		m.halError(w, http.StatusForbidden, "Forbidden", "The access token is missing the scope "+scope)
		return account{}, false
	}
	return acct, true
}

// unauthorized writes Mollie's 401 for a missing or bad Bearer token.
func (m *Mollie) unauthorized(w http.ResponseWriter) {
	writeInvalidToken(w)
	m.halError(w, http.StatusUnauthorized, "Unauthorized Request", "Missing authentication, or failed to authenticate")
}

// halError writes Mollie's error shape: status, title, detail, _links.
func (m *Mollie) halError(w http.ResponseWriter, status int, title, detail string) {
	writeJSON(w, status, "application/hal+json", map[string]any{
		"status": status,
		"title":  title,
		"detail": detail,
		"_links": map[string]halLink{"documentation": m.halLink("/docs/authentication")},
	})
}
