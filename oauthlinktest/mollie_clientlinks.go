package oauthlinktest

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
)

// ClientLinkLifetime is how long a client link can be used (30 days, as
// Mollie documents).
const ClientLinkLifetime = 30 * 24 * time.Hour

// DefaultOrganizationToken is the fake's default partner organization
// access token, the Bearer credential for POST /v2/client-links.
const DefaultOrganizationToken = "access_fake_organization_token"

// ClientLink is a client link the fake created, for assertions.
type ClientLink struct {
	ID        string
	Name      string // organization name
	Email     string // owner email
	Country   string
	CreatedAt time.Time
	// AccountID is the organization the link created on first use ("" until
	// then); later uses sign in to the same organization.
	AccountID string
}

type clientLink struct {
	ClientLink
}

var countryCode = regexp.MustCompile(`^[A-Z]{2}$`)

// createClientLink serves POST /v2/client-links (Mollie Create client link):
// Bearer organization token, JSON body, 201 application/hal+json whose
// clientLink href already carries a query; 401/422 in Mollie's HAL error
// shape.
func (m *Mollie) createClientLink(w http.ResponseWriter, r *http.Request) {
	if !m.organizationTokenOK(w, r) {
		return
	}
	var body struct {
		Owner struct {
			Email, GivenName, FamilyName, Locale string
		} `json:"owner"`
		Name    string `json:"name"`
		Address struct {
			StreetAndNumber, PostalCode, City, Country string
		} `json:"address"`
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil || json.Unmarshal(raw, &body) != nil {
		m.halFieldError(w, http.StatusBadRequest, "Bad Request", "The request body is not valid JSON", "")
		return
	}
	problem, field := "", ""
	switch {
	case body.Owner.Email == "" && body.Owner.GivenName == "" && body.Owner.FamilyName == "":
		problem, field = "The 'owner' field is missing", "owner"
	case body.Owner.Email == "":
		problem, field = "The 'owner.email' field is missing", "owner.email"
	case !validEmail(body.Owner.Email):
		problem, field = "The 'owner.email' field is not a valid email address", "owner.email"
	case body.Owner.GivenName == "":
		problem, field = "The 'owner.givenName' field is missing", "owner.givenName"
	case body.Owner.FamilyName == "":
		problem, field = "The 'owner.familyName' field is missing", "owner.familyName"
	case body.Name == "":
		problem, field = "The 'name' field is missing", "name"
	case !countryCode.MatchString(body.Address.Country):
		problem, field = "The 'address.country' field must be an ISO 3166-1 alpha-2 code", "address.country"
	case body.Address.StreetAndNumber != "" && (body.Address.PostalCode == "" || body.Address.City == ""):
		problem, field = "The 'address.postalCode' and 'address.city' fields are required with a street", "address.postalCode"
	}
	if problem != "" {
		m.halFieldError(w, http.StatusUnprocessableEntity, "Unprocessable Entity", problem, field)
		return
	}
	link := &clientLink{ClientLink{ID: "cl_" + randomAlnum(10), Name: body.Name, Email: body.Owner.Email,
		Country: body.Address.Country, CreatedAt: m.now()}}
	m.mu.Lock()
	m.links[link.ID] = link
	m.mu.Unlock()
	writeJSON(w, http.StatusCreated, "application/hal+json", m.linkResource(link))
}

// organizationTokenOK reports whether r carries the partner's organization
// token as Bearer, answering Mollie's 401 when it does not.
func (m *Mollie) organizationTokenOK(w http.ResponseWriter, r *http.Request) bool {
	scheme, value, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if strings.EqualFold(scheme, "Bearer") && subtle.ConstantTimeCompare([]byte(value), []byte(m.opts.OrganizationToken)) == 1 {
		return true
	}
	m.unauthorized(w)
	return false
}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && strings.Contains(s[strings.LastIndex(s, "@"):], ".")
}

func (m *Mollie) linkResource(link *clientLink) map[string]any {
	return map[string]any{
		"resource": "client-link",
		"id":       link.ID,
		"_links": map[string]halLink{
			// The href already has a query, as Mollie's sometimes do:
			// clients must append, not replace.
			"clientLink":    m.halLink("/dashboard/client-link/" + link.ID + "?utm_source=api"),
			"self":          {Href: m.URL() + "/v2/client-links/" + link.ID, Type: "application/hal+json"},
			"documentation": m.halLink("/docs/create-client-link"),
		},
	}
}

// getClientLink serves GET /v2/client-links/{id}: the link, or a 404.
func (m *Mollie) getClientLink(w http.ResponseWriter, r *http.Request) {
	if !m.organizationTokenOK(w, r) {
		return
	}
	m.mu.Lock()
	link := m.links[r.PathValue("id")]
	m.mu.Unlock()
	if link == nil {
		m.halFieldError(w, http.StatusNotFound, "Not Found", "No client link exists with token "+sanitizeID(r.PathValue("id")), "")
		return
	}
	writeJSON(w, http.StatusOK, "application/hal+json", m.linkResource(link))
}

func sanitizeID(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '<' || r == '>' || r == '"' {
			return -1
		}
		return r
	}, s)
}

// clientLinkPage serves the browser side of a client link: like the
// authorization endpoint, with client_id, state, scope and approval_prompt
// appended by the app, but never a redirect_uri (the app's registered URL
// is used). The first use creates the organization from the link's data and
// authorizes the app for it; later uses sign in to the same organization.
func (m *Mollie) clientLinkPage(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		m.errorPage(w, "malformed request")
		return
	}
	if r.Form.Has("redirect_uri") {
		m.errorPage(w, "client links do not take a redirect_uri; the app's registered redirect URL is used")
		return
	}
	m.mu.Lock()
	link := m.links[r.PathValue("id")]
	var acct *account
	if link != nil && m.now().Sub(link.CreatedAt) < ClientLinkLifetime {
		acct = m.accountLocked(link.AccountID)
		if link.AccountID == "" {
			acct.name, acct.email = link.Name, link.Email
			acct.onboarding = Onboarding{Status: OnboardingNeedsData}
			link.AccountID = acct.id
		}
	}
	m.mu.Unlock()
	if acct == nil {
		m.errorPage(w, "this client link does not exist or has expired")
		return
	}
	q := r.URL.Query()
	q.Del("utm_source")
	q.Set("response_type", "code")
	r2 := r.Clone(context.WithValue(r.Context(), forcedDecision{}, decision{accountID: acct.id}))
	r2.Method = http.MethodGet
	r2.URL.RawQuery = q.Encode()
	m.authorize(w, r2)
}

// ClientLinks returns the client links created so far, oldest first.
func (m *Mollie) ClientLinks() []ClientLink {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]ClientLink, 0, len(m.links))
	for _, l := range m.links {
		out = append(out, l.ClientLink)
	}
	slices.SortStableFunc(out, func(a, b ClientLink) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out
}

// halFieldError writes Mollie's HAL error with an optional field.
func (m *Mollie) halFieldError(w http.ResponseWriter, status int, title, detail, field string) {
	body := map[string]any{
		"status": status, "title": title, "detail": detail,
		"_links": map[string]halLink{"documentation": m.halLink("/docs/errors")},
	}
	if field != "" {
		body["field"] = field
	}
	writeJSON(w, status, "application/hal+json", body)
}
