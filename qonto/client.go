package qonto

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/oauthlink/oauthlink/internal/apiclient"
	"github.com/oauthlink/oauthlink/internal/retry"
	"github.com/oauthlink/oauthlink/store"
)

// ScopeOrganizationRead is the OAuth scope GET /v2/organization needs.
const ScopeOrganizationRead = "organization.read"

// Sentinel errors of the API client. Test with errors.Is; an error answer
// from Qonto itself is an *APIError instead.
var (
	// ErrClientConfig: the Client is unusable (no HTTPClient, a BaseURL
	// that is not https). Nothing was sent.
	ErrClientConfig = errors.New("qonto: invalid client configuration")
	// ErrRequest: the call did not get an answer (network failure, timeout,
	// cancelled context), or the HTTPClient refused to send it: a
	// Connector's Client(owner) for an owner who is not connected or must
	// reconnect. The cause stays reachable with errors.Is, e.g.
	// oauthlink.ErrReauthRequired or store.ErrNotFound.
	ErrRequest = errors.New("qonto: request failed")
	// ErrResponse: Qonto answered something unusable: a redirect (never
	// followed), an unexpected success status, a body over 1 MiB, or JSON
	// without what the call needs. In the sandbox, an HTML login page or a
	// redirect usually means the X-Qonto-Staging-Token header is missing.
	// The body is never included.
	ErrResponse = errors.New("qonto: malformed response")
)

var callErrors = apiclient.Errors{Config: ErrClientConfig, Request: ErrRequest, Response: ErrResponse}

// Client calls Qonto's Business API. Its HTTPClient authenticates every
// call: for a connected organization, the Connector's Client(owner), which
// sends the owner's fresh token (and the sandbox's staging header) only to
// the provider's API origin, refreshes it when it expires, and on a 401
// refreshes once and retries. A Client is safe for concurrent use as long
// as its fields are not changed.
type Client struct {
	// HTTPClient sends and authenticates the requests. Required. Redirects
	// are never followed, whatever its CheckRedirect says.
	HTTPClient *http.Client
	// BaseURL is the API root without /v2. Default APIURL; with a
	// Connector's client, its Provider.APIURL (SandboxAPIURL in the
	// sandbox). It must be https: plain http is accepted only towards a
	// loopback host and only with AllowInsecureHTTP.
	BaseURL string
	// AllowInsecureHTTP accepts a plain-http BaseURL on a loopback host
	// (tests and local fakes). Default false.
	AllowInsecureHTTP bool
	// Timeout bounds each call, on top of the caller's context. Default 15
	// seconds.
	Timeout time.Duration
}

// APIError is an error answer (status 400 or more) from Qonto's API, whose
// body is {"errors":[{"code","detail"}]}; other bodies still give an
// APIError with the status. Code and Detail are the first error's, cut down
// to printable ASCII and capped in length, but remain provider text: escape
// them on output. The body is never kept.
type APIError struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Code is the first error's code, e.g. "forbidden"; may be empty.
	Code string
	// Detail is the first error's explanation; may be empty.
	Detail string
	// RetryAfter is the parsed Retry-After header on 429 and 5xx answers
	// (capped at one hour), else 0. Qonto limits requests per IP address.
	RetryAfter time.Duration
}

// Error names the status and Qonto's error code and detail, never the raw
// body.
func (e *APIError) Error() string {
	s := fmt.Sprintf("qonto: API answered %d", e.StatusCode)
	for _, part := range []string{e.Code, e.Detail} {
		if part != "" {
			s += ": " + part
		}
	}
	return s
}

func parseAPIError(status int, header http.Header, body []byte) error {
	e := &APIError{StatusCode: status}
	if status == http.StatusTooManyRequests || status >= 500 {
		e.RetryAfter = retry.After(header.Get("Retry-After"), time.Now())
	}
	var answer struct {
		Errors []struct {
			Code   string `json:"code"`
			Detail string `json:"detail"`
		} `json:"errors"`
	}
	if len(body) <= apiclient.MaxBody && json.Unmarshal(body, &answer) == nil && len(answer.Errors) > 0 {
		e.Code = apiclient.Sanitize(answer.Errors[0].Code, 64)
		e.Detail = apiclient.Sanitize(answer.Errors[0].Detail, 300)
	}
	return e
}

// Get sends an authenticated GET to path (which must start with "/v2/")
// and decodes a 200 answer into out (nil discards it; a *json.RawMessage
// receives the body byte for byte). It is for endpoints this package does
// not wrap.
func (c *Client) Get(ctx context.Context, path string, out any) error {
	if err := apiclient.CheckPath(path, "/v2/"); err != nil {
		return fmt.Errorf("%w: %w", ErrClientConfig, err)
	}
	base, err := c.base()
	if err != nil {
		return err
	}
	caller := &apiclient.Caller{HTTPClient: c.HTTPClient, Base: base, Timeout: c.Timeout,
		Accept: "application/json", Errors: callErrors, APIError: parseAPIError}
	return caller.Do(ctx, apiclient.Call{Method: http.MethodGet, Path: path, Want: http.StatusOK, Out: out})
}

func (c *Client) base() (string, error) {
	base, err := apiclient.Base(cmp.Or(c.BaseURL, APIURL), c.AllowInsecureHTTP)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrClientConfig, err)
	}
	return base, nil
}

// withToken returns a copy of c that sends token and header with every
// call, to BaseURL's origin only, over c.HTTPClient's transport.
func (c Client) withToken(token store.Secret, header http.Header) (*Client, error) {
	base, err := c.base()
	if err != nil {
		return nil, err
	}
	if c.HTTPClient, err = apiclient.TokenClient(base, token, header, c.HTTPClient); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrClientConfig, err)
	}
	return &c, nil
}

// Organization is the connected organization (GET /v2/organization), with
// Qonto's field names as JSON tags.
type Organization struct {
	// ID is the organization's id.
	ID string `json:"id"`
	// Slug is the organization's short name at Qonto.
	Slug string `json:"slug"`
	// LegalName is the organization's registered name.
	LegalName string `json:"legal_name"`
	// Locale is the organization's language, e.g. "fr".
	Locale string `json:"locale"`
}

// Organization returns the organization the Client's token belongs to
// (GET /v2/organization; the token needs organization.read):
//
//	api := &qonto.Client{HTTPClient: conn.Client(owner), BaseURL: provider.APIURL}
//	org, err := api.Organization(ctx)
func (c *Client) Organization(ctx context.Context) (*Organization, error) {
	var resp struct {
		Organization Organization `json:"organization"`
	}
	if err := c.Get(ctx, "/v2/organization", &resp); err != nil {
		return nil, err
	}
	org := resp.Organization
	if !apiclient.Opaque(org.ID, 128) {
		return nil, fmt.Errorf("%w: the answer carries no usable organization id", ErrResponse)
	}
	return &org, nil
}
