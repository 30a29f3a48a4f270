package oauthlink

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/oauthlink/oauthlink/store"
)

// A Config and a Connector hold the client secret, the cookie secrets and
// the token keys (and the Connector the precomputed Basic credentials).
// Both describe themselves instead of printing their fields: fmt (every
// verb), log/slog (LogValue) and encoding/json (MarshalJSON) see the
// settings with every secret "[redacted]", hooks only as the names of those
// set, and stores and clients only by type, never by contents. Methods on
// the values, rather than a store.Secret-typed ClientSecret, keep every
// construction site compiling and cover the byte-slice secrets and the
// provider's headers too.

// describedField is one entry of a description: the Go field name (for
// fmt and JSON), the log key, and a value that prints, logs and marshals
// without a secret.
type describedField struct {
	name, key string
	v         any
}

// word is a description value printed without quotes (a type name, a
// duration).
type word string

// describe lists cfg's settings, with p for its provider (the Connector's
// has defaults applied).
func describe(cfg *Config, p Provider) []describedField {
	cookies := make([]store.Secret, len(cfg.CookieSecrets))
	for i, s := range cfg.CookieSecrets {
		cookies[i] = presence(len(s) > 0)
	}
	var hooks []string
	for _, h := range []struct {
		name string
		set  bool
	}{
		{"Owner", cfg.Owner != nil}, {"Flow.AuthParams", cfg.Flow.AuthParams != nil},
		{"Hooks.Identify", cfg.Hooks.Identify != nil}, {"Hooks.OnError", cfg.Hooks.OnError != nil},
		{"Hooks.OnConnected", cfg.Hooks.OnConnected != nil}, {"Hooks.OnEvent", cfg.Hooks.OnEvent != nil},
		{"Logger", cfg.Logger != nil}, {"Now", cfg.Now != nil},
	} {
		if h.set {
			hooks = append(hooks, h.name)
		}
	}
	f, t := &cfg.Flow, &cfg.Tokens
	return []describedField{
		{"Provider", "provider", p},
		{"ClientID", "client_id", cfg.ClientID},
		{"ClientSecret", "client_secret", presence(cfg.ClientSecret != "")},
		{"RedirectURL", "redirect_url", redactedURL(cfg.RedirectURL)},
		{"Scopes", "scopes", cfg.Scopes},
		{"Store", "store", typeName(cfg.Store)},
		{"CookieSecrets", "cookie_secrets", cookies},
		{"AllowInsecureHTTP", "allow_insecure_http", cfg.AllowInsecureHTTP},
		{"HTTPClient", "http_client", typeName(cfg.HTTPClient)},
		{"Flow.TTL", "flow_ttl", word(f.TTL.String())},
		{"Flow.MaxPerBrowser", "flow_max_per_browser", f.MaxPerBrowser},
		{"Flow.ReturnToParam", "flow_return_to_param", f.ReturnToParam},
		{"Flow.CrossOrigin", "flow_cross_origin", typeName(f.CrossOrigin)},
		{"Tokens.RefreshAhead", "refresh_ahead", word(t.RefreshAhead.String())},
		{"Tokens.RefreshJitter", "refresh_jitter", t.RefreshJitter},
		{"Tokens.RefreshAttempts", "refresh_attempts", t.RefreshAttempts},
		{"Tokens.RetryBase", "retry_base", word(t.RetryBase.String())},
		{"Tokens.RetryMax", "retry_max", word(t.RetryMax.String())},
		{"Tokens.ExchangeTimeout", "exchange_timeout", word(t.ExchangeTimeout.String())},
		{"Tokens.LockTTL", "lock_ttl", word(t.LockTTL.String())},
		{"Tokens.CacheTTL", "cache_ttl", word(t.CacheTTL.String())},
		{"Hooks", "hooks", hooks},
	}
}

// presence is a store.Secret that says only whether a value is set: "[redacted]"
// or "". The secret itself is never copied into a description.
func presence(set bool) store.Secret {
	if set {
		return redacted
	}
	return ""
}

// typeName names a store, guard or client by its type, never by its
// contents (a store's DSN or a session store's keys).
func typeName(v any) word {
	if isNil(v) {
		return "<nil>"
	}
	return word(fmt.Sprintf("%T", v))
}

func describeString(kind string, fields []describedField) string {
	var b strings.Builder
	b.WriteString(kind)
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.name)
		b.WriteByte(':')
		switch v := f.v.(type) {
		case string, []string:
			fmt.Fprintf(&b, "%q", v)
		default:
			fmt.Fprintf(&b, "%v", v)
		}
	}
	b.WriteByte('}')
	return b.String()
}

func describeJSON(fields []describedField) ([]byte, error) {
	b := []byte{'{'}
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		name, _ := json.Marshal(f.name)
		v, err := json.Marshal(f.v)
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, name...), ':'), v...)
	}
	return append(b, '}'), nil
}

// Format prints the configuration's description for every verb, so %v,
// %+v, %#v, %s, %q and %x never reveal a secret; log/slog's text handler
// prints it too.
func (cfg Config) Format(f fmt.State, verb rune) {
	fmt.Fprint(f, describeString("oauthlink.Config", describe(&cfg, cfg.Provider)))
}

// MarshalJSON writes the configuration's description as a JSON object
// keyed by field name, for display (log/slog's JSON handler uses it), not
// for reading back.
func (cfg Config) MarshalJSON() ([]byte, error) { return describeJSON(describe(&cfg, cfg.Provider)) }

// Format prints the Connector's effective configuration (defaults applied)
// with every secret redacted, for every verb.
func (c *Connector) Format(f fmt.State, verb rune) {
	if c == nil {
		fmt.Fprint(f, "<nil>")
		return
	}
	fmt.Fprint(f, describeString("oauthlink.Connector", describe(&c.cfg, c.provider)))
}

// MarshalJSON writes the Connector's description (see Format).
func (c *Connector) MarshalJSON() ([]byte, error) {
	if c == nil {
		return []byte("null"), nil
	}
	return describeJSON(describe(&c.cfg, c.provider))
}

// Provider prints, logs and marshals itself with the values of Header
// redacted: headers carry credentials (Qonto's X-Qonto-Staging-Token). The
// names stay visible. A URL's userinfo (which Validate refuses anyway) is
// masked.

// redactedHeader returns h with every value replaced by "[redacted]".
func redactedHeader(h http.Header) http.Header {
	if h == nil {
		return nil
	}
	out := make(http.Header, len(h))
	for k, vs := range h {
		r := make([]string, len(vs))
		for i := range r {
			r[i] = redacted
		}
		out[k] = r
	}
	return out
}

// redactedURL is raw with its userinfo, user name and password alike,
// replaced by "redacted". A URL that does not parse is replaced whole when
// it has an '@' (it might hold userinfo).
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if strings.Contains(raw, "@") {
			return redacted
		}
		return raw
	}
	if u.User == nil {
		return raw
	}
	u.User = url.User("redacted")
	return u.String()
}

// describeProvider describes p with its header values redacted.
func describeProvider(p Provider) string {
	names := make([]string, 0, len(p.Header))
	for k := range p.Header {
		names = append(names, k)
	}
	slices.Sort(names)
	return fmt.Sprintf("oauthlink.Provider{Name:%q AuthURL:%q TokenURL:%q RevokeURL:%q RevokeMethod:%q AuthStyle:%s "+
		"DefaultScopes:%q RequiredScopes:%q PKCE:%t AuthParams:%q Header:%s ResendRedirectURIOnRefresh:%t "+
		"RequireRefreshToken:%t DefaultTokenLifetime:%s MaxTokenLifetime:%s RotatesRefreshTokens:%t RefreshGrace:%s IdleLifetime:%s "+
		"AccountIDField:%q AccessTokensDoNotExpire:%t Revoke:%s RevokesAccount:%t Issuer:%q IssuerRequired:%t APIURL:%q}",
		p.Name, redactedURL(p.AuthURL), redactedURL(p.TokenURL), redactedURL(p.RevokeURL), p.RevokeMethod, authStyleName(p.AuthStyle),
		p.DefaultScopes, p.RequiredScopes, p.PKCE, p.AllowedAuthParams, headerNames(names), p.ResendRedirectURIOnRefresh,
		p.RequireRefreshToken, p.DefaultTokenLifetime, p.MaxTokenLifetime, p.RotatesRefreshTokens, p.RefreshGrace, p.IdleLifetime,
		p.AccountIDField, p.AccessTokensDoNotExpire, customOrRFC(p.Revoke != nil), p.RevokesAccount,
		p.Issuer, p.IssuerRequired, redactedURL(p.APIURL))
}

// customOrRFC names how a provider revokes in its description.
func customOrRFC(custom bool) string {
	if custom {
		return "custom"
	}
	return "rfc7009"
}

// headerNames prints header names with redacted values.
type headerNames []string

func (h headerNames) String() string {
	var b strings.Builder
	b.WriteString("map[")
	for i, k := range h {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteString(":" + redacted)
	}
	b.WriteString("]")
	return b.String()
}

// Format prints the provider's description for every verb, so no verb
// reveals a header value; log/slog's text handler prints it too.
func (p Provider) Format(f fmt.State, verb rune) { fmt.Fprint(f, describeProvider(p)) }

// MarshalJSON writes the provider as encoding/json would, field for field,
// with every header value "[redacted]".
func (p Provider) MarshalJSON() ([]byte, error) {
	type plain Provider // no methods: marshals field by field
	q := plain(p)
	q.Header = redactedHeader(p.Header)
	for _, u := range []*string{&q.AuthURL, &q.TokenURL, &q.RevokeURL, &q.APIURL} {
		*u = redactedURL(*u)
	}
	return json.Marshal(q)
}

var (
	_ fmt.Formatter  = Provider{}
	_ json.Marshaler = Provider{}
	_ fmt.Formatter  = Config{}
	_ json.Marshaler = Config{}
	_ fmt.Formatter  = (*Connector)(nil)
	_ json.Marshaler = (*Connector)(nil)
)

const redacted = "[redacted]"
