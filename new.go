package oauthlink

import (
	"cmp"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oauthlink/oauthlink/internal/replayguard"
	"github.com/oauthlink/oauthlink/store"
)

// New validates cfg and returns a Connector. Every problem is an error
// wrapping ErrConfig that names the field; New never panics on bad input.
// Beyond the per-field rules, New refuses a provider endpoint (AuthURL,
// TokenURL, RevokeURL, APIURL) over plain http unless AllowInsecureHTTP, an
// authorization request that would repeat a parameter (see
// Provider.AllowedAuthParams), and a nil pointer held in Store or
// HTTPClient.Transport, which would otherwise panic on first use.
func New(cfg Config) (*Connector, error) {
	if err := checkConfig(&cfg); err != nil {
		return nil, err
	}
	cfg = withDefaults(cfg)
	c := &Connector{cfg: cfg, provider: cfg.Provider.withDefaults(), log: cfg.Logger}
	c.api, c.apiErr = apiOrigin(&c.provider)
	c.crossOrigin = cmp.Or(cfg.Flow.CrossOrigin, http.NewCrossOriginProtection())
	if _, sealed := store.Capability[interface{ EncryptsAtRest() bool }](cfg.Store); !sealed {
		plaintextWarning.Do(func() {
			c.log.Warn("oauthlink: the Store does not encrypt tokens at rest (wrap it with store/encrypted)")
		})
	}
	scopes := cfg.Scopes
	if len(scopes) == 0 {
		scopes = c.provider.DefaultScopes
	}
	c.scopes = mergeScopes(scopes, c.provider.RequiredScopes)
	for _, s := range c.scopes {
		if s == "" || strings.ContainsAny(s, " \"\\") {
			return nil, fmt.Errorf("%w: scope %q is not a valid scope token (RFC 6749 §3.3)", ErrConfig, s)
		}
	}
	c.e = newEngine(&c.cfg, c.provider, c.scopes)
	if g, ok := store.Capability[store.ReplayGuard](cfg.Store); ok {
		c.guard = g
	} else {
		// Correct for one instance; each owner may hold at most
		// maxFlowsPerOwner entries, so filling it takes a thousand owners.
		c.guard = replayguard.New(100_000, c.e.now)
	}
	flows, err := newFlowCodec(cfg.CookieSecrets)
	if err != nil {
		return nil, err
	}
	c.flows = flows
	c.ctxKey = keyFor(c.provider.Name)
	c.cookieAttrs = cookieAttrs(int(cfg.Flow.TTL/time.Second), !cfg.AllowInsecureHTTP)
	c.cookieDelAttrs = cookieAttrs(0, !cfg.AllowInsecureHTTP)
	c.cookiePrefix = "oauthlink-" + c.provider.Name + "-"
	if !cfg.AllowInsecureHTTP {
		c.cookiePrefix = "__Host-" + c.cookiePrefix
	} else {
		c.log.Warn("oauthlink: AllowInsecureHTTP is set: flow cookies lose Secure and __Host-; use only for local development", "provider", c.provider.Name)
	}
	c.authPrefix, err = buildAuthPrefix(&c.provider, cfg.ClientID, cfg.RedirectURL, c.scopes)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// checkConfig applies the per-field rules New documents.
func checkConfig(cfg *Config) error {
	if err := cfg.Provider.validate(); err != nil {
		return err
	}
	if err := cfg.Provider.checkTransport(cfg.AllowInsecureHTTP); err != nil {
		return err
	}
	switch {
	case cfg.ClientID == "":
		return fmt.Errorf("%w: ClientID is required", ErrConfig)
	case cfg.ClientSecret == "":
		return fmt.Errorf("%w: ClientSecret is required", ErrConfig)
	case cfg.Store == nil:
		return fmt.Errorf("%w: Store is required", ErrConfig)
	case isNil(cfg.Store):
		return fmt.Errorf("%w: Store is a nil %T", ErrConfig, cfg.Store)
	case cfg.HTTPClient != nil && cfg.HTTPClient.Transport != nil && isNil(cfg.HTTPClient.Transport):
		return fmt.Errorf("%w: HTTPClient.Transport is a nil %T (leave it nil for http.DefaultTransport)", ErrConfig, cfg.HTTPClient.Transport)
	case cfg.Owner == nil:
		return fmt.Errorf("%w: Owner is required", ErrConfig)
	case cfg.Flow.TTL < 0 || cfg.Flow.TTL > 10*time.Minute:
		return fmt.Errorf("%w: Flow.TTL must be at most 10 minutes", ErrConfig)
	case cfg.Flow.MaxPerBrowser < 0 || cfg.Tokens.ExchangeTimeout < 0:
		return fmt.Errorf("%w: Flow.MaxPerBrowser and Tokens.ExchangeTimeout must not be negative", ErrConfig)
	case cfg.Tokens.LockTTL != 0 && cfg.Tokens.LockTTL < time.Second:
		return fmt.Errorf("%w: Tokens.LockTTL must be at least 1 second", ErrConfig)
	}
	return checkRedirectURL(cfg.RedirectURL, cfg.AllowInsecureHTTP)
}

// withDefaults fills in the documented defaults.
func withDefaults(cfg Config) Config {
	f, t := &cfg.Flow, &cfg.Tokens
	f.TTL = cmp.Or(f.TTL, 10*time.Minute)
	f.MaxPerBrowser = cmp.Or(f.MaxPerBrowser, 5)
	f.ReturnToParam = cmp.Or(f.ReturnToParam, "return_to")
	t.ExchangeTimeout = cmp.Or(t.ExchangeTimeout, 15*time.Second)
	t.RefreshAhead = cmp.Or(t.RefreshAhead, 60*time.Second)
	t.RefreshJitter = cmp.Or(t.RefreshJitter, 0.1)
	t.RefreshAttempts = max(t.RefreshAttempts, 0)
	t.RefreshAttempts = cmp.Or(t.RefreshAttempts, 4)
	if t.RetryBase <= 0 {
		t.RetryBase = 500 * time.Millisecond
	}
	if t.RetryMax <= 0 {
		t.RetryMax = 30 * time.Second
	}
	t.LockTTL = cmp.Or(t.LockTTL, 10*time.Second)
	t.CacheTTL = cmp.Or(t.CacheTTL, 10*time.Second)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Hooks.OnError == nil {
		cfg.Hooks.OnError = DefaultErrorHandler
	}
	if cfg.Hooks.OnConnected == nil {
		cfg.Hooks.OnConnected = defaultConnected
	}
	return cfg
}

// isNil reports whether v is nil or an interface holding a nil pointer,
// map, slice, channel or func: a value whose methods would panic or
// misbehave on first use.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return rv.IsNil()
	}
	return false
}

// The plaintext warning is said once per process, not once per Connector.
var plaintextWarning sync.Once

func checkRedirectURL(raw string, insecure bool) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("%w: RedirectURL must be an absolute URL", ErrConfig)
	}
	if u.Scheme != "https" && !(insecure && u.Scheme == "http") {
		return fmt.Errorf("%w: RedirectURL must use https (set AllowInsecureHTTP for local http development)", ErrConfig)
	}
	if u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%w: RedirectURL must not carry a fragment or userinfo", ErrConfig)
	}
	return nil
}

func mergeScopes(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// buildAuthPrefix precomputes the authorization URL with the fixed
// parameters; each flow appends state, PKCE and extras.
func buildAuthPrefix(p *Provider, clientID, redirect string, scopes []string) (string, error) {
	u, err := url.Parse(p.AuthURL)
	if err != nil {
		return "", fmt.Errorf("%w: AuthURL: %v", ErrConfig, err)
	}
	q := u.Query()
	q.Set("client_id", clientID)
	q.Set("redirect_uri", redirect)
	q.Set("response_type", "code")
	enc := q.Encode()
	// RFC 6749 §3.3: space-delimited; encoded as %20 (Mollie's docs and
	// several providers reject '+').
	enc += "&scope=" + strings.ReplaceAll(url.QueryEscape(strings.Join(scopes, " ")), "+", "%20")
	u.RawQuery = enc
	return u.String(), nil
}
