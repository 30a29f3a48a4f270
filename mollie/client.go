package mollie

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/oauthlink/oauthlink/store"
)

// Sentinel errors of the API client. Test with errors.Is; an error answer
// from Mollie itself is an *APIError instead.
var (
	// ErrClientConfig: the Client is unusable (no token, a BaseURL that is
	// not https). Nothing was sent.
	ErrClientConfig = errors.New("mollie: invalid client configuration")
	// ErrRequest: the call did not get an answer (network failure, timeout,
	// cancelled context). The cause stays reachable with errors.Is, e.g.
	// context.DeadlineExceeded.
	ErrRequest = errors.New("mollie: request failed")
	// ErrResponse: Mollie answered something unusable: a redirect (never
	// followed, so the token cannot leak to another host), an unexpected
	// success status, a body over 1 MiB, or JSON without the fields the
	// call needs. The body is never included.
	ErrResponse = errors.New("mollie: malformed response")
)

// maxBody caps what is read from any Mollie answer, success or error (the
// same 1 MiB golang.org/x/oauth2 allows a token response).
const maxBody = 1 << 20

// Client calls Mollie's REST API with one bearer token. Fill in the fields;
// the zero value of every optional field gets the documented default. A
// Client is safe for concurrent use as long as its fields are not changed.
//
// For client links the token is the partner's organization access token
// (access_…) holding clients.write: clients.write is never an OAuth scope,
// so a merchant's OAuth token cannot create links. For
// Organization, Onboarding and Get it is a connected merchant's OAuth access
// token (Connection.AccessToken).
type Client struct {
	// BaseURL is the API root without /v2. Default APIURL
	// ("https://api.mollie.com"). It must be https; plain http is accepted
	// only for loopback hosts (tests and local fakes), since the bearer token
	// travels in every request.
	BaseURL string
	// Token is the bearer token sent as "Authorization: Bearer". Required.
	// It is an store.Secret, so printing or logging the Client never
	// shows it, and no error of this package contains it.
	Token store.Secret
	// HTTPClient sends the requests. Default: a client with a 30-second
	// timeout. Its CheckRedirect is replaced on a copy: redirects are never
	// followed, so the token is never forwarded to another host.
	HTTPClient *http.Client
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
	// OnboardingStatus.DashboardURL. A client link elsewhere is refused
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

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// base returns the validated API root without a trailing slash.
func (c *Client) base() (string, error) {
	raw := c.BaseURL
	if raw == "" {
		raw = APIURL
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%w: BaseURL must be an absolute URL without userinfo, query or fragment", ErrClientConfig)
	}
	if !secureScheme(u) {
		return "", fmt.Errorf("%w: BaseURL must use https (plain http only for loopback hosts)", ErrClientConfig)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// secureScheme accepts https, and http only towards a loopback host.
func secureScheme(u *url.URL) bool {
	switch u.Scheme {
	case "https":
		return true
	case "http":
		return isLoopback(u.Hostname())
	}
	return false
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
	return hostSet{entries: []hostEntry{defaultBrowserHost}, loopback: isLoopback(u.Hostname())}.withHosts(c.BrowserHosts)
}

// checkToken refuses an empty token or one that cannot travel in a header;
// the value itself never appears in the error.
func checkToken(t store.Secret) error {
	v := t.Reveal()
	if v == "" {
		return fmt.Errorf("%w: Token is required", ErrClientConfig)
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= 0x20 || v[i] >= 0x7f {
			return fmt.Errorf("%w: Token contains whitespace, control or non-ASCII bytes", ErrClientConfig)
		}
	}
	return nil
}

func (c *Client) httpClient() *http.Client {
	hc := &http.Client{Timeout: 30 * time.Second}
	if c.HTTPClient != nil {
		cp := *c.HTTPClient
		hc = &cp
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return hc
}

// do sends one request and decodes a `want` answer into out. Any status of
// 400 or more becomes an *APIError; anything else unexpected is ErrResponse.
// path starts with "/v2/".
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any, want int) error {
	base, err := c.base()
	if err != nil {
		return err
	}
	if err := checkToken(c.Token); err != nil {
		return err
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("mollie: encoding %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	target := base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return fmt.Errorf("%w: building %s %s: %w", ErrClientConfig, method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token.Reveal())
	req.Header.Set("Accept", "application/hal+json, application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		// The *url.Error repeats the URL, which is not secret but noisy;
		// keep only the cause so timeouts stay recognisable.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%w: %s %s: %w", ErrRequest, method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		return fmt.Errorf("%w: %s %s answered redirect %d, not followed", ErrResponse, method, path, resp.StatusCode)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("%w: reading %s %s: %w", ErrRequest, method, path, err)
	}
	if resp.StatusCode >= 400 {
		return parseAPIError(resp.StatusCode, resp.Header, raw, c.now())
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%w: %s %s answered %d, want %d", ErrResponse, method, path, resp.StatusCode, want)
	}
	if len(raw) > maxBody {
		return fmt.Errorf("%w: %s %s body larger than %d bytes", ErrResponse, method, path, maxBody)
	}
	// Decoded as JSON whatever the Content-Type: Mollie labels these
	// application/hal+json, its examples application/json.
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%w: %s %s body is not the expected JSON (%d bytes)", ErrResponse, method, path, len(raw))
		}
	}
	return nil
}

// Get sends an authenticated GET to path (which must start with "/v2/"),
// adds testmode=true when TestMode is set, and decodes a 200 answer into
// out (nil discards it). It is for endpoints this package does not wrap,
// e.g. GET /v2/permissions or the mode-specific GET /v2/profiles.
func (c *Client) Get(ctx context.Context, path string, query url.Values, out any) error {
	if !strings.HasPrefix(path, "/v2/") || strings.ContainsAny(path, "?#%\\") || strings.Contains(path, "..") {
		return fmt.Errorf("%w: path must start with /v2/ and carry no query, escapes or dot segments", ErrClientConfig)
	}
	if c.TestMode {
		q := url.Values{}
		for k, vs := range query {
			q[k] = append([]string(nil), vs...)
		}
		q.Set("testmode", "true")
		query = q
	}
	return c.do(ctx, http.MethodGet, path, query, nil, out, http.StatusOK)
}
