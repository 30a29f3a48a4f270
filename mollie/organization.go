package mollie

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/oauthlink/oauthlink"
)

// ScopeOrganizationsRead is the OAuth scope GET /v2/organizations/me needs.
const ScopeOrganizationsRead = "organizations.read"

// Organization is the connected organization (GET /v2/organizations/me).
type Organization struct {
	// ID is the organization id, "org_…".
	ID                 string
	Name               string
	Email              string
	Locale             string
	Address            Address
	RegistrationNumber string
	VATNumber          string
	VATRegulation      string
	// DashboardURL is _links.dashboard.href when it is an https URL on an
	// allowed host (Client.BrowserHosts), else "".
	DashboardURL string
}

// OnboardingState is the status of an organization's onboarding at Mollie.
// Values other than the constants may appear; treat them as "not ready".
type OnboardingState string

// Onboarding states documented by Mollie.
const (
	// OnboardingNeedsData: the merchant must provide (more) information;
	// send them to OnboardingStatus.DashboardURL.
	OnboardingNeedsData OnboardingState = "needs-data"
	// OnboardingInReview: everything is provided and Mollie is checking it.
	OnboardingInReview OnboardingState = "in-review"
	// OnboardingCompleted: onboarding is done.
	OnboardingCompleted OnboardingState = "completed"
	// OnboardingPaymentsDisabled: Mollie disabled payments (listed in the
	// older API documentation next to the three above).
	OnboardingPaymentsDisabled OnboardingState = "payments-disabled"
)

// OnboardingStatus is the organization's onboarding (GET /v2/onboarding/me,
// scope onboarding.read).
type OnboardingStatus struct {
	// Name is the organization's name.
	Name   string
	Status OnboardingState
	// CanReceivePayments and CanReceiveSettlements say what the
	// organization may do today, whatever Status says.
	CanReceivePayments    bool
	CanReceiveSettlements bool
	// SignedUpAt is when the organization signed up; zero when absent or
	// unparsable.
	SignedUpAt time.Time
	// DashboardURL is _links.dashboard.href, the onboarding page in Mollie's
	// dashboard, when it is an https URL on an allowed host
	// (Client.BrowserHosts), else "". Send the merchant there to finish
	// onboarding.
	DashboardURL string
}

type halLink struct {
	Href string `json:"href"`
}

// Organization returns the organization the Client's token belongs to
// (GET /v2/organizations/me; the token needs organizations.read).
func (c *Client) Organization(ctx context.Context) (*Organization, error) {
	hosts, err := c.browserHosts()
	if err != nil {
		return nil, err
	}
	var resp struct {
		ID                 string  `json:"id"`
		Name               string  `json:"name"`
		Email              string  `json:"email"`
		Locale             string  `json:"locale"`
		Address            Address `json:"address"`
		RegistrationNumber string  `json:"registrationNumber"`
		VATNumber          string  `json:"vatNumber"`
		VATRegulation      string  `json:"vatRegulation"`
		Links              struct {
			Dashboard halLink `json:"dashboard"`
		} `json:"_links"`
	}
	if err := c.do(ctx, http.MethodGet, "/v2/organizations/me", nil, nil, &resp, http.StatusOK); err != nil {
		return nil, err
	}
	if resp.ID == "" || len(resp.ID) > maxLinkID || sanitize(resp.ID, maxLinkID) != resp.ID {
		return nil, fmt.Errorf("%w: organization without a usable id", ErrResponse)
	}
	return &Organization{
		ID: resp.ID, Name: resp.Name, Email: resp.Email, Locale: resp.Locale,
		Address: resp.Address, RegistrationNumber: resp.RegistrationNumber,
		VATNumber: resp.VATNumber, VATRegulation: resp.VATRegulation,
		DashboardURL: hosts.dashboardURL(resp.Links.Dashboard.Href),
	}, nil
}

// Onboarding returns the onboarding status of the organization the Client's
// token belongs to (GET /v2/onboarding/me; the token needs onboarding.read).
// Use it with a connected merchant's token:
//
//	st, err := (&mollie.Client{Token: conn.AccessToken}).Onboarding(ctx)
func (c *Client) Onboarding(ctx context.Context) (*OnboardingStatus, error) {
	hosts, err := c.browserHosts()
	if err != nil {
		return nil, err
	}
	var resp struct {
		Name                  string `json:"name"`
		Status                string `json:"status"`
		CanReceivePayments    bool   `json:"canReceivePayments"`
		CanReceiveSettlements bool   `json:"canReceiveSettlements"`
		SignedUpAt            string `json:"signedUpAt"`
		Links                 struct {
			Dashboard halLink `json:"dashboard"`
		} `json:"_links"`
	}
	if err := c.do(ctx, http.MethodGet, "/v2/onboarding/me", nil, nil, &resp, http.StatusOK); err != nil {
		return nil, err
	}
	if resp.Status == "" {
		return nil, fmt.Errorf("%w: onboarding without a status", ErrResponse)
	}
	st := &OnboardingStatus{
		Name: resp.Name, Status: OnboardingState(sanitize(resp.Status, 64)),
		CanReceivePayments: resp.CanReceivePayments, CanReceiveSettlements: resp.CanReceiveSettlements,
		DashboardURL: hosts.dashboardURL(resp.Links.Dashboard.Href),
	}
	if t, err := time.Parse(time.RFC3339, resp.SignedUpAt); err == nil {
		st.SignedUpAt = t
	}
	return st, nil
}

// dashboardURL keeps a provider link only when it is safe to redirect to:
// well formed and on an allowed host.
func (s hostSet) dashboardURL(href string) string {
	if href == "" || checkHref(href) != nil || s.check(href) != nil {
		return ""
	}
	return href
}

// Identify returns a function for oauthlink.Config.Identify that records the
// Mollie organization id ("org_…") as Connection.AccountID: Mollie's token
// response carries no organization id, so it calls
// GET /v2/organizations/me with the new access token. It does so only when
// the granted scopes include organizations.read; otherwise it leaves
// AccountID empty and succeeds. apiURL is the API root (default APIURL);
// hc sends the call (default: a client with a 30-second timeout; redirects
// are never followed).
//
// An error (Mollie unreachable, 401, an answer without an id) fails the
// callback, and the connector then revokes the new grant, so no connection
// is stored without the id the app asked for.
func Identify(apiURL string, hc *http.Client) func(ctx context.Context, conn *oauthlink.Connection) error {
	return func(ctx context.Context, conn *oauthlink.Connection) error {
		if !slices.Contains(conn.Scopes, ScopeOrganizationsRead) {
			return nil
		}
		api := &Client{BaseURL: apiURL, Token: conn.AccessToken, HTTPClient: hc}
		org, err := api.Organization(ctx)
		if err != nil {
			return err
		}
		conn.AccountID = org.ID
		return nil
	}
}
