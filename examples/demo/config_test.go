package main

import (
	"encoding/base64"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := configFromEnv(env(nil))
	require.NoError(t, err)
	cfg, err = cfg.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:8080", cfg.Addr)
	assert.Equal(t, "http://127.0.0.1:8080", cfg.PublicURL)
	assert.Equal(t, "sqlite:oauthlink-demo.db", cfg.Store)
	assert.Nil(t, cfg.TokenKey)
	assert.Nil(t, cfg.CookieKey)
	assert.True(t, cfg.Mollie.sandbox())
	assert.True(t, cfg.Qonto.sandbox())
	assert.True(t, cfg.insecure())
	assert.Equal(t, map[string]string{"mollie": "127.0.0.1:8081", "qonto": "127.0.0.1:8082"}, cfg.SandboxAddrs,
		"the sandbox on the two ports after the demo's")
	assert.Empty(t, cfg.SandboxState, "beside the SQLite file, decided when the store is known")
}

func TestConfigSandbox(t *testing.T) {
	cfg, err := configFromEnv(env(map[string]string{"OAUTHLINK_ADDR": "0.0.0.0:9000"}))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"mollie": "0.0.0.0:9001", "qonto": "0.0.0.0:9002"}, cfg.SandboxAddrs)
	cfg, err = configFromEnv(env(map[string]string{"OAUTHLINK_ADDR": "127.0.0.1:0"}))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"mollie": "127.0.0.1:0", "qonto": "127.0.0.1:0"}, cfg.SandboxAddrs, "a random port: random sandbox ports")
	cfg, err = configFromEnv(env(map[string]string{
		"OAUTHLINK_SANDBOX_MOLLIE_ADDR": "127.0.0.1:7001", "OAUTHLINK_SANDBOX_QONTO_ADDR": "localhost:7002",
		"OAUTHLINK_SANDBOX_STATE": "/var/lib/demo/sandbox",
	}))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"mollie": "127.0.0.1:7001", "qonto": "localhost:7002"}, cfg.SandboxAddrs)
	assert.Equal(t, "/var/lib/demo/sandbox", cfg.SandboxState)
	_, err = configFromEnv(env(map[string]string{"OAUTHLINK_SANDBOX_QONTO_ADDR": "7002"}))
	assert.ErrorContains(t, err, "OAUTHLINK_SANDBOX_QONTO_ADDR must be host:port")

	// The state files: beside a SQLite database, where the variable
	// says, or nowhere.
	for name, tc := range map[string]struct{ store, state, want string }{
		"sqlite default":   {"sqlite:" + filepath.Join("data", "demo.db"), "", filepath.Join("data", "demo.db") + ".sandbox.qonto.json"},
		"sqlite, memory":   {"sqlite:demo.db", "memory", ""},
		"memory store":     {"memory", "", ""},
		"memory, explicit": {"memory", "/tmp/sb", "/tmp/sb.qonto.json"},
	} {
		t.Run(name, func(t *testing.T) {
			spec, err := parseStore(tc.store)
			require.NoError(t, err)
			a := &app{cfg: config{SandboxState: tc.state}, spec: spec}
			assert.Equal(t, tc.want, a.sandboxStatePath("qonto"))
		})
	}
}

// TestSandboxPortTaken: a sandbox port in use stops the demo with an
// error that names the variable to change.
func TestSandboxPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	_, err = newApp(t.Context(), config{Addr: "127.0.0.1:0", Store: "memory",
		SandboxAddrs: map[string]string{"qonto": ln.Addr().String()}}, slog.New(slog.DiscardHandler))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the sandbox qonto cannot listen on "+ln.Addr().String()+" (set OAUTHLINK_SANDBOX_QONTO_ADDR to another address)")
}

// TestSandboxStateUnusable: a state file that is not the sandbox's stops
// the demo, saying how to start that sandbox afresh.
func TestSandboxStateUnusable(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sb.mollie.json"), []byte("{not json"), 0o600))
	_, err := newApp(t.Context(), config{Addr: "127.0.0.1:0", Store: "memory", SandboxState: filepath.Join(dir, "sb")}, slog.New(slog.DiscardHandler))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "sandbox mollie: oauthlinktest: unusable state file")
	assert.Contains(t, err.Error(), "move the file away to start that sandbox afresh")
}

func TestConfigFromEnv(t *testing.T) {
	key := make([]byte, 32)
	key[0] = 7
	cfg, err := configFromEnv(env(map[string]string{
		"OAUTHLINK_ADDR":       "0.0.0.0:9000",
		"OAUTHLINK_PUBLIC_URL": "https://demo.example/",
		"OAUTHLINK_STORE":      "memory",
		"OAUTHLINK_TOKEN_KEY":  base64.StdEncoding.EncodeToString(key),
		"OAUTHLINK_COOKIE_KEY": base64.RawURLEncoding.EncodeToString(key),
		"MOLLIE_CLIENT_ID":     "app_x", "MOLLIE_CLIENT_SECRET": "s", "MOLLIE_ORG_TOKEN": "access_x",
		"MOLLIE_AUTHORIZE_URL": "https://m.example/auth", "MOLLIE_TOKEN_URL": "https://m.example/token",
		"MOLLIE_API_URL": "https://m.example", "MOLLIE_SCOPES": "organizations.read, onboarding.write",
		"QONTO_CLIENT_ID": "q", "QONTO_CLIENT_SECRET": "qs", "QONTO_STAGING_TOKEN": "st",
		"QONTO_AUTHORIZE_URL": "https://q.example/auth", "QONTO_TOKEN_URL": "https://q.example/token",
		"QONTO_REVOKE_URL": "https://q.example/revoke", "QONTO_API_URL": "https://q.example", "QONTO_SCOPES": "organization.read",
		"QONTO_WEBHOOK_SECRET": strings.Repeat("w", 32),
	}))
	require.NoError(t, err)
	cfg, err = cfg.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, "https://demo.example", cfg.PublicURL, "trailing slash dropped")
	assert.False(t, cfg.insecure())
	assert.Equal(t, key, cfg.TokenKey)
	assert.Equal(t, key, cfg.CookieKey)
	assert.Equal(t, providerEnv{
		ClientID: "app_x", ClientSecret: "s", OrgToken: "access_x",
		AuthURL: "https://m.example/auth", TokenURL: "https://m.example/token", APIURL: "https://m.example",
		Scopes: []string{"organizations.read", "onboarding.write"},
	}, cfg.Mollie)
	assert.Equal(t, providerEnv{
		ClientID: "q", ClientSecret: "qs", StagingToken: "st",
		AuthURL: "https://q.example/auth", TokenURL: "https://q.example/token", RevokeURL: "https://q.example/revoke",
		APIURL: "https://q.example", Scopes: []string{"organization.read"}, WebhookSecret: strings.Repeat("w", 32),
	}, cfg.Qonto)
}

func TestConfigErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"token key not base64":  {map[string]string{"OAUTHLINK_TOKEN_KEY": "not base64!"}, "OAUTHLINK_TOKEN_KEY is not valid base64"},
		"cookie key not base64": {map[string]string{"OAUTHLINK_COOKIE_KEY": "%%%"}, "OAUTHLINK_COOKIE_KEY is not valid base64"},
		"public URL relative":   {map[string]string{"OAUTHLINK_PUBLIC_URL": "/demo"}, "OAUTHLINK_PUBLIC_URL must be an absolute"},
		"public URL ftp":        {map[string]string{"OAUTHLINK_PUBLIC_URL": "ftp://x"}, "OAUTHLINK_PUBLIC_URL must be an absolute"},
		"public URL path":       {map[string]string{"OAUTHLINK_PUBLIC_URL": "https://x.example/demo"}, "must not have a path"},
		"mollie id only":        {map[string]string{"MOLLIE_CLIENT_ID": "app_x"}, "MOLLIE_CLIENT_SECRET is empty"},
		"qonto id only":         {map[string]string{"QONTO_CLIENT_ID": "q"}, "QONTO_CLIENT_SECRET is empty"},
		"webhook secret short":  {map[string]string{"QONTO_WEBHOOK_SECRET": strings.Repeat("w", 31)}, "QONTO_WEBHOOK_SECRET must be 32 to 128 characters, got 31"},
		"webhook secret long":   {map[string]string{"QONTO_WEBHOOK_SECRET": strings.Repeat("w", 129)}, "QONTO_WEBHOOK_SECRET must be 32 to 128 characters, got 129"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := configFromEnv(env(tc.env))
			if err == nil {
				_, err = cfg.withDefaults()
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			for k, v := range tc.env {
				if strings.HasSuffix(k, "_KEY") {
					assert.NotContains(t, err.Error(), v, "a key is never echoed")
				}
			}
		})
	}
}

func TestParseStore(t *testing.T) {
	for spec, want := range map[string]storeSpec{
		"sqlite:oauthlink-demo.db":             {Kind: "sqlite", Path: "oauthlink-demo.db"},
		"sqlite:/var/lib/demo/x.db":            {Kind: "sqlite", Path: "/var/lib/demo/x.db"},
		"memory":                               {Kind: "memory"},
		"postgres://u:pw@127.0.0.1/db":         {Kind: "postgres", URL: "postgres://u:pw@127.0.0.1/db"},
		"postgresql://127.0.0.1/db":            {Kind: "postgres", URL: "postgresql://127.0.0.1/db"},
		"redis://127.0.0.1:6379/0":             {Kind: "redis", URL: "redis://127.0.0.1:6379/0"},
		"rediss://:pw@cache.example:6380/1":    {Kind: "redis", URL: "rediss://:pw@cache.example:6380/1"},
		"postgres://u@h/db?sslmode=disable&x=": {Kind: "postgres", URL: "postgres://u@h/db?sslmode=disable&x="},
	} {
		got, err := parseStore(spec)
		require.NoError(t, err, spec)
		assert.Equal(t, want, got, spec)
		assert.NotContains(t, got.String(), "pw", "the description hides passwords")
	}
	for _, bad := range []string{"", "sqlite:", "sqlite:x.db?mode=ro", "mysql://h/db", "Memory", "file:x.db"} {
		_, err := parseStore(bad)
		assert.Error(t, err, bad)
	}
}

func TestTokenKey(t *testing.T) {
	t.Run("from the environment", func(t *testing.T) {
		key := make([]byte, 32)
		got, note, err := tokenKey(key, storeSpec{Kind: "postgres"})
		require.NoError(t, err)
		assert.Equal(t, key, got)
		assert.Contains(t, note, "from OAUTHLINK_TOKEN_KEY")
		_, _, err = tokenKey(make([]byte, 16), storeSpec{Kind: "memory"})
		assert.ErrorContains(t, err, "exactly 32 bytes, got 16")
	})
	t.Run("memory: generated per run", func(t *testing.T) {
		a, note, err := tokenKey(nil, storeSpec{Kind: "memory"})
		require.NoError(t, err)
		b, _, err := tokenKey(nil, storeSpec{Kind: "memory"})
		require.NoError(t, err)
		assert.Len(t, a, 32)
		assert.NotEqual(t, a, b)
		assert.Contains(t, note, "random token key for this run")
	})
	t.Run("shared stores need the variable", func(t *testing.T) {
		for _, kind := range []string{"postgres", "redis"} {
			_, _, err := tokenKey(nil, storeSpec{Kind: kind})
			assert.ErrorContains(t, err, "OAUTHLINK_TOKEN_KEY is required with a "+kind+" store")
		}
	})
	t.Run("sqlite: kept beside the database", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "demo.db")
		first, note, err := tokenKey(nil, storeSpec{Kind: "sqlite", Path: db})
		require.NoError(t, err)
		assert.Contains(t, note, "generated a token key and saved it in "+db+".token-key")
		info, err := os.Stat(db + ".token-key")
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

		again, note, err := tokenKey(nil, storeSpec{Kind: "sqlite", Path: db})
		require.NoError(t, err)
		assert.Equal(t, first, again)
		assert.Contains(t, note, "using the token key kept in")

		require.NoError(t, os.WriteFile(db+".token-key", []byte("short\n"), 0o600))
		_, _, err = tokenKey(nil, storeSpec{Kind: "sqlite", Path: db})
		assert.ErrorContains(t, err, "does not hold a base64 32-byte key")
	})
}

func TestCookieKey(t *testing.T) {
	_, err := resolveKeys(config{CookieKey: make([]byte, 16)}, storeSpec{Kind: "memory"})
	assert.ErrorContains(t, err, "at least 32 bytes")

	a, err := resolveKeys(config{CookieKey: make([]byte, 32)}, storeSpec{Kind: "memory"})
	require.NoError(t, err)
	b, err := resolveKeys(config{CookieKey: make([]byte, 32)}, storeSpec{Kind: "memory"})
	require.NoError(t, err)
	assert.Equal(t, a.flow, b.flow, "same key, same derived secrets: instances interoperate")
	assert.NotEqual(t, a.flow, a.login, "one key per purpose")

	r, err := resolveKeys(config{}, storeSpec{Kind: "memory"})
	require.NoError(t, err)
	assert.NotEqual(t, a.flow, r.flow, "random per run without the variable")
	assert.Contains(t, r.cookieNote, "random cookie key for this run")
}
