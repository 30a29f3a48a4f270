package mollie

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/oauthlink/oauthlink/internal/apiclient"
)

// ClientLinkLifetime is how long a client link may be used after creation:
// 30 days, as Mollie's OpenAPI description and Node SDK say (one PHP
// recipe claims 24 hours; the longer figure is the documented one).
const ClientLinkLifetime = 30 * 24 * time.Hour

// ClientLinkRequest is the body of Create client link
// (POST /v2/client-links), with Mollie's field names on the wire. It
// describes the merchant's organization; when it already exists at Mollie,
// the merchant simply logs in and consents.
type ClientLinkRequest struct {
	// OrganizationOwner is the person who will own the organization at
	// Mollie (Mollie's "owner"; not the platform account that oauthlink
	// calls the owner). Required.
	OrganizationOwner OrganizationOwner `json:"owner"`
	// Name is the organization's name. Required.
	Name string `json:"name"`
	// Address is the organization's address; Country is required.
	Address Address `json:"address"`
	// RegistrationNumber is the chamber-of-commerce number. Optional.
	RegistrationNumber string `json:"registrationNumber,omitempty"`
	// VATNumber is checked by Mollie against VIES. Optional.
	VATNumber string `json:"vatNumber,omitempty"`
	// LegalEntity is Mollie's legal form code, e.g. "nl-bv". Optional.
	LegalEntity string `json:"legalEntity,omitempty"`
	// RegistrationOffice is the registering court or office, e.g. "aachen".
	// Optional.
	RegistrationOffice string `json:"registrationOffice,omitempty"`
	// IncorporationDate is "YYYY-MM-DD". Optional.
	IncorporationDate string `json:"incorporationDate,omitempty"`
}

// OrganizationOwner is the person who will own the organization a
// ClientLinkRequest describes: the "owner" object of Mollie's request.
type OrganizationOwner struct {
	// Email is required; internationalised domains in Punycode.
	Email string `json:"email"`
	// GivenName and FamilyName are required.
	GivenName  string `json:"givenName"`
	FamilyName string `json:"familyName"`
	// Locale, e.g. "nl_NL", sets the language of Mollie's login screen only
	// (the consent screen uses the merchant's own locale). Optional; Mollie
	// falls back to the browser's language.
	Locale string `json:"locale,omitempty"`
}

// Address is a postal address in Mollie's shape, used by client links and
// organizations.
type Address struct {
	// StreetAndNumber, e.g. "Keizersgracht 126". Optional, but once given
	// PostalCode and City are required.
	StreetAndNumber string `json:"streetAndNumber,omitempty"`
	PostalCode      string `json:"postalCode,omitempty"`
	City            string `json:"city,omitempty"`
	// Country is an ISO 3166-1 alpha-2 code, e.g. "NL". Required in a
	// ClientLinkRequest.
	Country string `json:"country"`
}

// ClientLink is a created client link. ID and Href are opaque: Mollie issues
// both cl_ and csr_ ids, and hrefs in more than one path shape, sometimes
// with a query already.
type ClientLink struct {
	// ID is Mollie's id for the link, e.g. "cl_vZCnNQsV2UtfXxYifWKWH".
	ID string
	// Href is _links.clientLink.href: where to send the customer after
	// ClientLinkURL has added client_id, state and scope. It is checked to
	// be an https URL (plain http only on loopback, for fakes) on an
	// allowed host (Client.BrowserHosts).
	Href string
	// CreatedAt is our clock just before the request was sent (Mollie's
	// answer carries no timestamp), so ExpiresAt never overstates.
	CreatedAt time.Time
	// ExpiresAt is CreatedAt + ClientLinkLifetime.
	ExpiresAt time.Time
}

// Expired reports whether the link can no longer be used at now.
func (l *ClientLink) Expired(now time.Time) bool { return !now.Before(l.ExpiresAt) }

// maxID caps the opaque ids (client links, organizations) we accept.
const maxID = 128

// CreateClientLink creates a client link (POST /v2/client-links). The
// Client must authenticate with the partner's organization access token
// holding clients.write (NewTokenClient). req is trimmed of surrounding spaces and validated first:
// a problem is a *ValidationError and nothing is sent. Mollie's refusals are
// *APIError (422 names the field; 429 carries RetryAfter; 404 when the
// account may not use client links, a beta feature for partners). The call
// is not retried: a retry after a lost answer would create a second link.
//
// The link's href must be an https URL on an allowed host (see
// Client.BrowserHosts): the flow's state will be appended to it, so an
// answer naming any other host is refused with an error wrapping
// ErrResponse and ErrHostNotAllowed.
func (c *Client) CreateClientLink(ctx context.Context, req ClientLinkRequest) (*ClientLink, error) {
	hosts, err := c.browserHosts()
	if err != nil {
		return nil, err
	}
	link, err := c.createClientLink(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := hosts.check(link.Href); err != nil {
		return nil, fmt.Errorf("%w: client link href: %w", ErrResponse, err)
	}
	return link, nil
}

// createClientLink is CreateClientLink without the host check, which the
// caller makes against its own set of hosts.
func (c *Client) createClientLink(ctx context.Context, req ClientLinkRequest) (*ClientLink, error) {
	req = req.trimmed()
	if err := req.Validate(); err != nil {
		return nil, err
	}
	created := c.now()
	var resp struct {
		ID    string `json:"id"`
		Links struct {
			ClientLink struct {
				Href string `json:"href"`
			} `json:"clientLink"`
		} `json:"_links"`
	}
	call := apiclient.Call{Method: http.MethodPost, Path: "/v2/client-links", In: req, Want: http.StatusCreated, Out: &resp}
	if err := c.call(ctx, call); err != nil {
		return nil, err
	}
	if !apiclient.Opaque(resp.ID, maxID) {
		return nil, fmt.Errorf("%w: client link without a usable id", ErrResponse)
	}
	if err := checkHref(resp.Links.ClientLink.Href); err != nil {
		return nil, fmt.Errorf("%w: client link href: %w", ErrResponse, err)
	}
	return &ClientLink{
		ID: resp.ID, Href: resp.Links.ClientLink.Href,
		CreatedAt: created, ExpiresAt: created.Add(ClientLinkLifetime),
	}, nil
}

// maxHref caps a provider URL we redirect browsers to.
const maxHref = 2048

// checkHref accepts an absolute https URL (http only on loopback) without
// userinfo or fragment: the handler sends the browser there, so a
// javascript: or attacker-shaped value must never pass. Which hosts are
// allowed is hostSet's concern.
func checkHref(href string) error {
	if href == "" || len(href) > maxHref {
		return fmt.Errorf("missing or longer than %d bytes", maxHref)
	}
	for i := 0; i < len(href); i++ {
		if href[i] <= 0x20 || href[i] >= 0x7f {
			return fmt.Errorf("contains whitespace, control or non-ASCII bytes")
		}
	}
	u, err := url.Parse(href)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("not an absolute URL")
	}
	if u.Scheme != "https" && (u.Scheme != "http" || !apiclient.IsLoopback(u.Hostname())) {
		return fmt.Errorf("must be https")
	}
	if u.User != nil || u.Fragment != "" || strings.HasSuffix(href, "#") {
		return fmt.Errorf("must not carry userinfo or a fragment")
	}
	return nil
}

// trimmed returns a copy with surrounding spaces removed from every field
// (form input often carries them).
func (r ClientLinkRequest) trimmed() ClientLinkRequest {
	for _, p := range []*string{
		&r.OrganizationOwner.Email, &r.OrganizationOwner.GivenName, &r.OrganizationOwner.FamilyName, &r.OrganizationOwner.Locale,
		&r.Name, &r.Address.StreetAndNumber, &r.Address.PostalCode, &r.Address.City,
		&r.Address.Country, &r.RegistrationNumber, &r.VATNumber, &r.LegalEntity,
		&r.RegistrationOffice, &r.IncorporationDate,
	} {
		*p = strings.TrimSpace(*p)
	}
	return r
}
