package main

import (
	"cmp"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/oauthlink/oauthlink/cmd/storeenv"
)

// config is everything the demo reads from its environment. The zero value
// of every field gets the default the README documents; tests fill the
// struct directly instead of setting variables.
type config struct {
	// Addr is where the demo listens (OAUTHLINK_ADDR). Default
	// 127.0.0.1:8080.
	Addr string
	// PublicURL is the base URL browsers use (OAUTHLINK_PUBLIC_URL), without
	// a trailing slash. Default "http://" + Addr.
	PublicURL string
	// Store selects the token store (OAUTHLINK_STORE): "sqlite:<path>",
	// "memory", "postgres://…" or "redis://…". Default
	// "sqlite:oauthlink-demo.db".
	Store string
	// TokenKey encrypts tokens at rest (OAUTHLINK_TOKEN_KEY, base64 of 32
	// bytes). Nil: generated, and kept in a file beside a SQLite database.
	TokenKey []byte
	// CookieKey signs and encrypts the flow cookies and the login cookie
	// (OAUTHLINK_COOKIE_KEY, base64 of at least 32 bytes). Nil: random per
	// run.
	CookieKey []byte

	// SandboxAddrs are where the sandbox fakes listen, by provider
	// ("mollie", "qonto"): OAUTHLINK_SANDBOX_MOLLIE_ADDR and
	// OAUTHLINK_SANDBOX_QONTO_ADDR. configFromEnv defaults them to the
	// two ports after OAUTHLINK_ADDR's (127.0.0.1:8081 and :8082), so a
	// browser finds the consent pages again after a restart; a missing
	// entry (as tests leave it) is a random loopback port.
	SandboxAddrs map[string]string
	// SandboxState is where the sandbox fakes keep their grants
	// (OAUTHLINK_SANDBOX_STATE), a path prefix: <prefix>.mollie.json and
	// <prefix>.qonto.json. Default with a SQLite store "<database>.sandbox";
	// "memory" or, with another store, "": kept in memory only.
	SandboxState string
	// Now is the demo's clock, for the connectors too. Default time.Now;
	// tests set it.
	Now func() time.Time

	Mollie providerEnv
	Qonto  providerEnv
}

// providerEnv is one provider's settings. Without ClientID the provider
// runs against the built-in fake from oauthlinktest.
type providerEnv struct {
	ClientID, ClientSecret string
	AuthURL, TokenURL      string
	RevokeURL              string // Qonto only; Mollie revokes at TokenURL
	APIURL                 string // base of /v2
	Scopes                 []string
	// OrgToken is Mollie's organization access token for client links
	// (MOLLIE_ORG_TOKEN).
	OrgToken string
	// StagingToken is Qonto's sandbox staging token (QONTO_STAGING_TOKEN).
	StagingToken string
	// WebhookSecret signs Qonto's webhook deliveries
	// (QONTO_WEBHOOK_SECRET, 32 to 128 characters). "" in the sandbox: a
	// random one per run; "" against the real Qonto: no webhooks.
	WebhookSecret string
}

// sandbox reports whether the provider runs against the built-in fake.
func (p providerEnv) sandbox() bool { return p.ClientID == "" }

// configFromEnv reads the demo's variables through getenv (os.Getenv in
// main). It checks shapes only; newServer checks the rest.
func configFromEnv(getenv func(string) string) (config, error) {
	c := config{
		Addr:      cmp.Or(getenv("OAUTHLINK_ADDR"), "127.0.0.1:8080"),
		PublicURL: getenv("OAUTHLINK_PUBLIC_URL"),
		Store:     getenv("OAUTHLINK_STORE"),
		Mollie: providerEnv{
			ClientID: getenv("MOLLIE_CLIENT_ID"), ClientSecret: getenv("MOLLIE_CLIENT_SECRET"),
			OrgToken: getenv("MOLLIE_ORG_TOKEN"),
			AuthURL:  getenv("MOLLIE_AUTHORIZE_URL"), TokenURL: getenv("MOLLIE_TOKEN_URL"),
			APIURL: getenv("MOLLIE_API_URL"), Scopes: splitScopes(getenv("MOLLIE_SCOPES")),
		},
		Qonto: providerEnv{
			ClientID: getenv("QONTO_CLIENT_ID"), ClientSecret: getenv("QONTO_CLIENT_SECRET"),
			StagingToken: getenv("QONTO_STAGING_TOKEN"),
			AuthURL:      getenv("QONTO_AUTHORIZE_URL"), TokenURL: getenv("QONTO_TOKEN_URL"),
			RevokeURL: getenv("QONTO_REVOKE_URL"), APIURL: getenv("QONTO_API_URL"),
			Scopes:        splitScopes(getenv("QONTO_SCOPES")),
			WebhookSecret: getenv("QONTO_WEBHOOK_SECRET"),
		},
	}
	var err error
	if c.SandboxAddrs, err = sandboxAddrs(c.Addr, getenv); err != nil {
		return c, err
	}
	c.SandboxState = getenv("OAUTHLINK_SANDBOX_STATE")
	if c.TokenKey, err = decodeKey("OAUTHLINK_TOKEN_KEY", getenv("OAUTHLINK_TOKEN_KEY")); err != nil {
		return c, err
	}
	if c.CookieKey, err = decodeKey("OAUTHLINK_COOKIE_KEY", getenv("OAUTHLINK_COOKIE_KEY")); err != nil {
		return c, err
	}
	return c, nil
}

// withDefaults fills in the documented defaults and checks the URLs.
func (c config) withDefaults() (config, error) {
	c.Addr = cmp.Or(c.Addr, "127.0.0.1:8080")
	c.PublicURL = strings.TrimRight(cmp.Or(c.PublicURL, "http://"+c.Addr), "/")
	c.Store = cmp.Or(c.Store, "sqlite:oauthlink-demo.db")
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return c, fmt.Errorf("OAUTHLINK_PUBLIC_URL must be an absolute http(s) URL without query, got %q", c.PublicURL)
	}
	if u.Path != "" {
		return c, fmt.Errorf("OAUTHLINK_PUBLIC_URL must not have a path (the demo serves from /), got %q", c.PublicURL)
	}
	for _, p := range []struct {
		name string
		env  providerEnv
	}{{"MOLLIE", c.Mollie}, {"QONTO", c.Qonto}} {
		if !p.env.sandbox() && p.env.ClientSecret == "" {
			return c, fmt.Errorf("%s_CLIENT_ID is set but %s_CLIENT_SECRET is empty", p.name, p.name)
		}
	}
	if n := len(c.Qonto.WebhookSecret); n != 0 && (n < 32 || n > 128) {
		return c, fmt.Errorf("QONTO_WEBHOOK_SECRET must be 32 to 128 characters, got %d", n)
	}
	return c, nil
}

// insecure reports whether browsers reach the demo over plain http.
func (c config) insecure() bool { return strings.HasPrefix(c.PublicURL, "http:") }

// decodeKey decodes a base64 key (standard or URL alphabet, padded or not);
// "" yields nil. The value never appears in the error.
func decodeKey(name, v string) ([]byte, error) { return storeenv.DecodeBase64(name, v) }

// splitScopes splits a space- or comma-separated scope list.
func splitScopes(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' })
}

// sandboxAddrs are the sandbox fakes' listen addresses from
// OAUTHLINK_SANDBOX_MOLLIE_ADDR and OAUTHLINK_SANDBOX_QONTO_ADDR, by
// default OAUTHLINK_ADDR's host with the next two ports (random ports
// when OAUTHLINK_ADDR's is 0).
func sandboxAddrs(addr string, getenv func(string) string) (map[string]string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("OAUTHLINK_ADDR must be host:port, got %q", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65533 {
		n = -1 // a named port: the fakes take random ones unless told
	}
	out := map[string]string{}
	for i, p := range []string{"mollie", "qonto"} {
		env := "OAUTHLINK_SANDBOX_" + strings.ToUpper(p) + "_ADDR"
		v := getenv(env)
		switch {
		case v != "":
			if _, _, err := net.SplitHostPort(v); err != nil {
				return nil, fmt.Errorf("%s must be host:port, got %q", env, v)
			}
		case n > 0:
			v = net.JoinHostPort(host, strconv.Itoa(n+1+i))
		default:
			v = net.JoinHostPort(host, "0")
		}
		out[p] = v
	}
	return out, nil
}
