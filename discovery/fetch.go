package discovery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/oauthlink/oauthlink"
)

var (
	// ErrFetch: the metadata could not be fetched: the network failed, the
	// time or size bound was hit, a redirect left the issuer's origin, or
	// no location answered 200.
	ErrFetch = errors.New("discovery: cannot fetch authorization server metadata")
	// ErrInvalid: a document was fetched but is not valid metadata for
	// the issuer asked for: not one JSON object, another issuer (RFC 8414
	// §3.3), a missing endpoint, or an endpoint that is not an absolute
	// https URL.
	ErrInvalid = errors.New("discovery: invalid authorization server metadata")
	// ErrUnsupported: the metadata is valid, but oauthlink cannot use the
	// server as it describes itself: no authorization code grant, or no
	// client authentication by secret that both its token and revocation
	// endpoints accept (a public-client server that offers only "none").
	ErrUnsupported = errors.New("discovery: the authorization server offers nothing oauthlink can use")
)

// Options configure Provider, Fetch and a Cache. Zero values get the
// defaults.
type Options struct {
	// HTTPClient supplies the transport (its Transport, or
	// http.DefaultTransport when nil) and, when non-zero, its Timeout as a
	// further bound on each fetch. Its CheckRedirect and Jar are not used:
	// redirects are followed only on the issuer's origin, and no cookie is
	// sent or kept. Default http.DefaultTransport.
	HTTPClient *http.Client
	// AllowInsecureHTTP accepts an http issuer and http endpoints, for a
	// server on the developer's machine; the Connector then needs its own
	// AllowInsecureHTTP. Default false: https only.
	AllowInsecureHTTP bool
	// AuthStyle pins the client authentication the client was registered
	// with; the server must list it. Default: AuthStyleBasic when the
	// server accepts client_secret_basic, else AuthStyleBody.
	AuthStyle oauthlink.AuthStyle
	// Timeout bounds one fetch: every location tried and every redirect.
	// Default 10 seconds.
	Timeout time.Duration
	// MaxBytes caps the document's size. Default 256 KiB.
	MaxBytes int64
	// MaxAge is the longest a Cache serves a document before fetching it
	// again; a shorter Cache-Control max-age from the server wins, down to
	// 1 minute. Default 1 hour.
	MaxAge time.Duration
	// StaleIfError is how long past its expiry a Cache still serves a
	// document whose refresh failed. Default 24 hours; negative: never.
	StaleIfError time.Duration
	// Now is a Cache's clock. Default time.Now.
	Now func() time.Time
}

const (
	defaultTimeout      = 10 * time.Second
	defaultMaxBytes     = 256 << 10
	defaultMaxAge       = time.Hour
	defaultStaleIfError = 24 * time.Hour
	// minAge is the shortest a document is kept, and the shortest time
	// between two failed refreshes: a server that says no-store is not
	// asked on every call.
	minAge       = time.Minute
	maxRedirects = 3
)

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = defaultMaxBytes
	}
	if o.MaxAge <= 0 {
		o.MaxAge = defaultMaxAge
	}
	o.MaxAge = max(o.MaxAge, minAge)
	if o.StaleIfError == 0 {
		o.StaleIfError = defaultStaleIfError
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Fetch fetches and validates the issuer's metadata, once, without
// caching (see the package documentation for the locations tried and the
// checks). Errors: ErrFetch, ErrInvalid, ErrUnsupported, or
// oauthlink.ErrConfig for an issuer that is not an https URL.
func Fetch(ctx context.Context, issuer string, opts Options) (*Metadata, error) {
	m, _, err := fetch(ctx, issuer, opts.withDefaults())
	return m, err
}

// Provider fetches the issuer's metadata, once, without caching, and
// returns the oauthlink.Provider it describes, named name (see the package
// documentation for what it sets). Errors: those of Fetch, and
// ErrUnsupported when the server accepts no client authentication by
// secret.
func Provider(ctx context.Context, name, issuer string, opts Options) (oauthlink.Provider, error) {
	opts = opts.withDefaults()
	m, _, err := fetch(ctx, issuer, opts)
	if err != nil {
		return oauthlink.Provider{}, err
	}
	return m.provider(name, opts.AuthStyle)
}

// locations returns where issuer's metadata may be: the RFC 8414 location
// (the well-known path inserted before the issuer's path, §3.1) and the
// OpenID one (appended, OpenID Connect Discovery 1.0 §4).
func locations(issuer string, insecure bool) ([]string, error) {
	if err := checkURL(issuer, insecure); err != nil {
		return nil, fmt.Errorf("%w: discovery: issuer %v", oauthlink.ErrConfig, err)
	}
	u, _ := url.Parse(issuer)
	if u.RawQuery != "" || u.ForceQuery {
		return nil, fmt.Errorf("%w: discovery: issuer %q must not carry a query (RFC 8414 §2)", oauthlink.ErrConfig, issuer)
	}
	origin := u.Scheme + "://" + u.Host
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	return []string{
		origin + "/.well-known/oauth-authorization-server" + path,
		origin + path + "/.well-known/openid-configuration",
	}, nil
}

// fetch tries each location in turn and returns the first valid document
// with the freshness its response allows.
func fetch(ctx context.Context, issuer string, opts Options) (*Metadata, time.Duration, error) {
	locs, err := locations(issuer, opts.AllowInsecureHTTP)
	if err != nil {
		return nil, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	var missing []string
	var invalid error // the first location's invalid document, if any
	for _, loc := range locs {
		body, age, status, err := get(ctx, loc, opts)
		if err != nil {
			return nil, 0, err
		}
		switch {
		case status == http.StatusOK:
			m, err := parseMetadata(body, issuer, opts.AllowInsecureHTTP)
			if err == nil {
				return m, min(age, opts.MaxAge), nil
			}
			if !errors.Is(err, ErrInvalid) {
				return nil, 0, fmt.Errorf("%w (from %s)", err, loc)
			}
			// Not this issuer's metadata (an application's catch-all
			// page, another issuer's document): never used (RFC 8414
			// §3.3), but the next location may hold the right one.
			if invalid == nil {
				invalid = fmt.Errorf("%w (from %s)", err, loc)
			}
			missing = append(missing, fmt.Sprintf("%s served no valid document", loc))
		case status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
			// Not at this location: try the next one.
			missing = append(missing, fmt.Sprintf("%s answered %d", loc, status))
		default:
			return nil, 0, fmt.Errorf("%w: %s answered %d", ErrFetch, loc, status)
		}
	}
	if invalid != nil {
		return nil, 0, fmt.Errorf("%w; tried %s", invalid, strings.Join(missing, "; "))
	}
	return nil, 0, fmt.Errorf("%w: no metadata for %s: %s", ErrFetch, issuer, strings.Join(missing, "; "))
}

// get GETs loc within the bounds: redirects only on loc's origin, the body
// capped at MaxBytes. It returns the body only for a 200.
func get(ctx context.Context, loc string, opts Options) (body []byte, age time.Duration, status int, err error) {
	if opts.HTTPClient != nil && opts.HTTPClient.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.HTTPClient.Timeout)
		defer cancel()
	}
	start, _ := url.Parse(loc)
	base := http.DefaultTransport
	if opts.HTTPClient != nil && opts.HTTPClient.Transport != nil {
		base = opts.HTTPClient.Transport
	}
	client := &http.Client{Transport: base, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if !sameOrigin(req.URL, start) {
			return fmt.Errorf("%w: %s redirects to another origin (%s://%s)", ErrFetch, loc, req.URL.Scheme, req.URL.Host)
		}
		if len(via) > maxRedirects {
			return fmt.Errorf("%w: %s: more than %d redirects", ErrFetch, loc, maxRedirects)
		}
		return nil
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%w: %s: %v", ErrFetch, loc, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, ErrFetch) {
			return nil, 0, 0, err
		}
		return nil, 0, 0, fmt.Errorf("%w: %w", ErrFetch, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, 0, resp.StatusCode, nil
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, opts.MaxBytes+1))
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%w: %s: reading the document: %w", ErrFetch, loc, err)
	}
	if int64(len(body)) > opts.MaxBytes {
		return nil, 0, 0, fmt.Errorf("%w: %s: the document is larger than %d bytes", ErrFetch, loc, opts.MaxBytes)
	}
	return body, freshness(resp.Header), http.StatusOK, nil
}

// sameOrigin compares scheme, host and port, a missing port being the
// scheme's default (RFC 6454).
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) &&
		portOf(a) == portOf(b)
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}
