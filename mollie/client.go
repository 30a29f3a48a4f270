package mollie

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/oauthlink/oauthlink/internal/apiclient"
	"github.com/oauthlink/oauthlink/store"
)

// Sentinel errors of the API client. Test with errors.Is; an error answer
// from Mollie itself is an *APIError instead. ErrRequest and ErrResponse
// make oauthlink.HTTPStatus answer 502: Mollie failed, which the user
// cannot fix.
var (
	// ErrClientConfig: the Client is unusable (no HTTPClient, a BaseURL that
	// is not https, a malformed BrowserHosts entry), or NewTokenClient got
	// no usable token. Nothing was sent.
	ErrClientConfig = errors.New("mollie: invalid client configuration")
	// ErrRequest: the call did not get an answer (network failure, timeout,
	// cancelled context), or the HTTPClient refused to send it: a
	// Connector's Client(owner) for an owner who is not connected or must
	// reconnect. The cause stays reachable with errors.Is, e.g.
	// context.DeadlineExceeded, oauthlink.ErrReauthRequired or
	// store.ErrNotFound.
	ErrRequest = apiclient.BadGateway("mollie: request failed")
	// ErrResponse: Mollie answered something unusable: a redirect (never
	// followed, so neither the token nor a request body goes to another
	// host), an unexpected success status, a body over 1 MiB, or JSON
	// without the fields the call needs. The body is never included.
	ErrResponse = apiclient.BadGateway("mollie: malformed response")
)

var callErrors = apiclient.Errors{Config: ErrClientConfig, Request: ErrRequest, Response: ErrResponse}

// maxBody caps what is read from any Mollie answer, success or error.
const maxBody = apiclient.MaxBody

// Client calls Mollie's REST API. Its HTTPClient authenticates every call:
//
//   - for a connected merchant (Organization, Onboarding, Get), the
//     Connector's Client(owner), which sends the owner's fresh token only
//     to the provider's API origin, refreshes it when it expires, and on a
//     401 refreshes once and retries;
//   - for the partner's organization access token (access_…, holding
//     clients.write, which is never an OAuth scope, so a merchant's token
//     cannot create client links), the Client NewTokenClient returns.
//
// Fill in the fields; the zero value of every optional field gets the
// documented default. A Client is safe for concurrent use as long as its
// fields are not changed.
type Client struct {
	// HTTPClient sends and authenticates the requests. Required. Redirects
	// are never followed, whatever its CheckRedirect says: the calls use a
	// copy without it.
	HTTPClient *http.Client
	// BaseURL is the API root without /v2. Default APIURL
	// ("https://api.mollie.com"); with a Connector's client, its
	// Provider.APIURL. It must be https: plain http is accepted only
	// towards a loopback host and only with AllowInsecureHTTP.
	BaseURL string
	// AllowInsecureHTTP accepts a plain-http BaseURL on a loopback host
	// (tests and local fakes). Default false.
	AllowInsecureHTTP bool
	// Timeout bounds each call, on top of the caller's context. Default 15
	// seconds.
	Timeout time.Duration
	// TestMode adds testmode=true to calls made with Get. Mollie lets OAuth
	// and organization tokens pick test mode per request, but only on
	// mode-specific endpoints: client links, organizations/me and
	// onboarding/me take no testmode parameter, so CreateClientLink,
	// Organization and Onboarding never send it. Default false.
	TestMode bool
	// Now is the clock, used for ClientLink.CreatedAt and Retry-After dates.
	// Default time.Now.
	Now func() time.Time
	// BrowserHosts are further hosts ("host" or "host:port", compared
	// without regard to case; no port means the scheme's default port) that
	// URLs in Mollie's answers may name when they are meant for a browser:
	// ClientLink.Href, Organization.DashboardURL and
	// Onboarding.DashboardURL. A client link elsewhere is refused
	// (ErrHostNotAllowed) and a dashboard link elsewhere is dropped, so a
	// spoofed or misconfigured answer cannot send the merchant, or a flow's
	// state, to another site.
	//
	// Besides these, the Client's own calls allow the host of Mollie's
	// authorization endpoint (my.mollie.com, where client links and
	// dashboards live), and every loopback host while BaseURL is a loopback
	// fake; NewClientLinkHandler allows the host of its connector's
	// authorization endpoint (Provider.AuthURL). Default none.
	BrowserHosts []string
}

// NewTokenClient returns a copy of c whose HTTPClient authenticates every
// call with one static bearer token: the partner's organization access
// token, for CreateClientLink and NewClientLinkHandler. The token is sent
// only to the origin of c.BaseURL (a request for any other origin fails
// before it is sent) and never over plain http but to a loopback host with
// c.AllowInsecureHTTP. c.HTTPClient, when set, carries the requests
// underneath (its Transport and Timeout). An empty token, one that cannot
// travel in a header, or a BaseURL that is not acceptable is an error
// wrapping ErrClientConfig that never contains the token.
func NewTokenClient(token store.Secret, c Client) (*Client, error) {
	base, err := c.base()
	if err != nil {
		return nil, err
	}
	if c.HTTPClient, err = apiclient.TokenClient(base, token, nil, c.HTTPClient); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrClientConfig, err)
	}
	return &c, nil
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// base returns the validated API root without a trailing slash.
func (c *Client) base() (string, error) {
	base, err := apiclient.Base(cmp.Or(c.BaseURL, APIURL), c.AllowInsecureHTTP)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrClientConfig, err)
	}
	return base, nil
}

// browserHosts is the set of hosts this Client hands out browser URLs on:
// Mollie's authorization host, BrowserHosts, and every loopback host while
// BaseURL is a loopback fake.
func (c *Client) browserHosts() (hostSet, error) {
	base, err := c.base()
	if err != nil {
		return hostSet{}, err
	}
	u, err := url.Parse(base)
	if err != nil {
		return hostSet{}, fmt.Errorf("%w: unparsable BaseURL", ErrClientConfig)
	}
	return hostSet{entries: []hostEntry{defaultBrowserHost}, loopback: apiclient.IsLoopback(u.Hostname())}.withHosts(c.BrowserHosts)
}

// call sends one request through HTTPClient and decodes a call.Want answer
// into call.Out. Any status of 400 or more becomes an *APIError; anything
// else unexpected is ErrResponse. call.Path starts with "/v2/".
func (c *Client) call(ctx context.Context, call apiclient.Call) error {
	base, err := c.base()
	if err != nil {
		return err
	}
	caller := &apiclient.Caller{
		HTTPClient: c.HTTPClient, Base: base, Timeout: c.Timeout,
		Accept: "application/hal+json, application/json", Errors: callErrors,
		APIError: func(status int, header http.Header, body []byte) error {
			return parseAPIError(status, header, body, c.now())
		},
	}
	return caller.Do(ctx, call)
}

// Get sends an authenticated GET to path (which must start with "/v2/"),
// adds testmode=true when TestMode is set, and decodes a 200 answer into
// out (nil discards it; a *json.RawMessage receives the body byte for
// byte). It is for endpoints this package does not wrap, e.g.
// GET /v2/permissions or the mode-specific GET /v2/profiles.
func (c *Client) Get(ctx context.Context, path string, query url.Values, out any) error {
	if err := apiclient.CheckPath(path, "/v2/"); err != nil {
		return fmt.Errorf("%w: %w", ErrClientConfig, err)
	}
	if c.TestMode {
		q := url.Values{}
		for k, vs := range query {
			q[k] = append([]string(nil), vs...)
		}
		q.Set("testmode", "true")
		query = q
	}
	return c.call(ctx, apiclient.Call{Method: http.MethodGet, Path: path, Query: query, Want: http.StatusOK, Out: out})
}
