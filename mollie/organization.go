package mollie

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/internal/apiclient"
)

// ScopeOrganizationsRead is the OAuth scope GET /v2/organizations/me needs.
const ScopeOrganizationsRead = "organizations.read"

// Organization is the connected organization (GET /v2/organizations/me),
// with Mollie's field names as JSON tags.
type Organization struct {
	// ID is the organization id, "org_…".
	ID string `json:"id"`
	// Name is the organization's name.
	Name string `json:"name"`
	// Email is the organization's email address.
	Email string `json:"email"`
	// Locale is the organization's locale, e.g. "nl_NL".
	Locale string `json:"locale"`
	// Address is the organization's address.
	Address Address `json:"address"`
	// RegistrationNumber is the chamber-of-commerce number.
	RegistrationNumber string `json:"registrationNumber"`
	// VATNumber is the VAT number.
	VATNumber string `json:"vatNumber"`
	// VATRegulation says which country's VAT rules apply, e.g. "dutch".
	VATRegulation string `json:"vatRegulation"`
	// DashboardURL is _links.dashboard.href when it is an https URL on an
	// allowed host (Client.BrowserHosts), else "".
	DashboardURL string `json:"-"`
}

// OnboardingState is the status of an organization's onboarding at Mollie.
// It is Onboarding.Status. Values other than the constants may appear;
// treat them as "not ready".
type OnboardingState string

// Onboarding states documented by Mollie.
const (
	// OnboardingNeedsData: the merchant must provide (more) information;
	// send them to Onboarding.DashboardURL.
	OnboardingNeedsData OnboardingState = "needs-data"
	// OnboardingInReview: everything is provided and Mollie is checking it.
	OnboardingInReview OnboardingState = "in-review"
	// OnboardingCompleted: onboarding is done.
	OnboardingCompleted OnboardingState = "completed"
	// OnboardingPaymentsDisabled: Mollie disabled payments (listed in the
	// older API documentation next to the three above).
	OnboardingPaymentsDisabled OnboardingState = "payments-disabled"
)

// Onboarding is the organization's onboarding (GET /v2/onboarding/me,
// scope onboarding.read).
// Mollie's field names are its JSON tags.
type Onboarding struct {
	// Name is the organization's name.
	Name string `json:"name"`
	// Status is where the onboarding stands.
	Status OnboardingState `json:"status"`
	// CanReceivePayments and CanReceiveSettlements say what the
	// organization may do today, whatever Status says.
	CanReceivePayments    bool `json:"canReceivePayments"`
	CanReceiveSettlements bool `json:"canReceiveSettlements"`
	// SignedUpAt is when the organization signed up; zero when absent or
	// unparsable.
	SignedUpAt time.Time `json:"-"`
	// DashboardURL is _links.dashboard.href, the onboarding page in Mollie's
	// dashboard, when it is an https URL on an allowed host
	// (Client.BrowserHosts), else "". Send the merchant there to finish
	// onboarding.
	DashboardURL string `json:"-"`
}

// halLink is a link in a HAL answer's _links.
type halLink struct {
	Href string `json:"href"`
}

// dashboardLinks is the part of an answer that links to Mollie's
// dashboard.
type dashboardLinks struct {
	Links struct {
		Dashboard halLink `json:"dashboard"`
	} `json:"_links"`
}

// href is the dashboard link.
func (d *dashboardLinks) href() string { return d.Links.Dashboard.Href }

// getResource GETs one of the token's own resources into out, and returns
// the hosts its browser links may name.
func (c *Client) getResource(ctx context.Context, path string, out any) (hostSet, error) {
	hosts, err := c.browserHosts()
	if err != nil {
		return hostSet{}, err
	}
	return hosts, c.call(ctx, apiclient.Call{Method: http.MethodGet, Path: path, Want: http.StatusOK, Out: out})
}

// Organization returns the organization the Client's token belongs to
// (GET /v2/organizations/me; the token needs organizations.read). For a
// connected merchant, use the Connector's client:
//
//	api := &mollie.Client{HTTPClient: conn.Client(owner)}
//	org, err := api.Organization(ctx)
func (c *Client) Organization(ctx context.Context) (*Organization, error) {
	var resp struct {
		Organization
		dashboardLinks
	}
	hosts, err := c.getResource(ctx, "/v2/organizations/me", &resp)
	if err != nil {
		return nil, err
	}
	if !apiclient.Opaque(resp.ID, maxID) {
		return nil, fmt.Errorf("%w: organization without a usable id", ErrResponse)
	}
	org := resp.Organization
	org.DashboardURL = hosts.dashboardURL(resp.href())
	return &org, nil
}

// Onboarding returns the onboarding status of the organization the Client's
// token belongs to (GET /v2/onboarding/me; the token needs onboarding.read),
// typically a connected merchant's through the Connector's client.
func (c *Client) Onboarding(ctx context.Context) (*Onboarding, error) {
	var resp struct {
		Onboarding
		SignedUpAt string `json:"signedUpAt"`
		dashboardLinks
	}
	hosts, err := c.getResource(ctx, "/v2/onboarding/me", &resp)
	if err != nil {
		return nil, err
	}
	if resp.Status == "" {
		return nil, fmt.Errorf("%w: onboarding without a status", ErrResponse)
	}
	st := resp.Onboarding
	st.Status = OnboardingState(apiclient.Sanitize(string(st.Status), 64))
	st.DashboardURL = hosts.dashboardURL(resp.href())
	if t, err := time.Parse(time.RFC3339, resp.SignedUpAt); err == nil {
		st.SignedUpAt = t
	}
	return &st, nil
}

// dashboardURL keeps a provider link only when it is safe to redirect to:
// well formed and on an allowed host.
func (s hostSet) dashboardURL(href string) string {
	if href == "" || checkHref(href) != nil || s.check(href) != nil {
		return ""
	}
	return href
}

// Identify returns a function for oauthlink.Config.Hooks.Identify that
// records the Mollie organization id ("org_…") as Connection.AccountID:
// Mollie's token response carries no organization id, so it calls
// GET /v2/organizations/me with the connection's new access token (the
// connection is not stored yet, so the Connector's Client cannot be used).
// It does so only when the granted scopes include organizations.read;
// otherwise it leaves AccountID empty and succeeds.
//
// api says where and how: BaseURL (default APIURL), AllowInsecureHTTP,
// Timeout and HTTPClient, which carries the requests underneath (its
// Transport and Timeout; e.g. a test fake's client); Identify adds the
// token as NewTokenClient does, so it goes only to BaseURL's origin and
// never in clear.
//
// An error (a BaseURL that is not acceptable, Mollie unreachable, 401, an
// answer without an id) fails the callback, and the connector then revokes
// the new grant, so no connection is stored without the id the app asked
// for.
func Identify(api Client) func(ctx context.Context, conn *oauthlink.Connection) error {
	return func(ctx context.Context, conn *oauthlink.Connection) error {
		if !slices.Contains(conn.Scopes, ScopeOrganizationsRead) {
			return nil
		}
		c, err := NewTokenClient(conn.AccessToken, api)
		if err != nil {
			return err
		}
		org, err := c.Organization(ctx)
		if err != nil {
			return err
		}
		conn.AccountID = org.ID
		return nil
	}
}
