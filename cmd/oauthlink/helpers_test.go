package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/cmd/storeenv"
	"github.com/oauthlink/oauthlink/internal/testutil"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/encrypted"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// secretMark is in every token the tests store: no output may carry it.
const secretMark = "T0kenV4lue"

func newKey() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

func b64(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

// testFleet is a store seeded through the library, and how to run the CLI on
// it.
type testFleet struct {
	// env is the CLI's environment; open, when set, replaces opening the
	// store from it (the memory store lives in the test process).
	env  map[string]string
	open func(ctx context.Context, e storeenv.Env) (*encrypted.Store, func() error, error)
	// keys are every key the test used: no output may carry one.
	keys [][]byte
}

// cli runs the CLI on the fleet with the env, plus extra variables.
func (f *testFleet) run(t *testing.T, extra map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return f.runOn(t, extra, false, args...)
}

// runTerminal runs the CLI as if stderr were a terminal.
func (f *testFleet) runTerminal(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return f.runOn(t, nil, true, args...)
}

func (f *testFleet) runOn(t *testing.T, extra map[string]string, terminal bool, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	env := map[string]string{}
	for k, v := range f.env {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	var out, errOut bytes.Buffer
	getenv := func(k string) string { return env[k] }
	c := newCLI(getenv, &out, &errOut)
	c.terminal = func(io.Writer) bool { return terminal }
	if f.open != nil {
		c.open = func(ctx context.Context) (*encrypted.Store, func() error, error) {
			e, err := storeenv.FromEnv(getenv)
			if err != nil {
				return nil, nil, err
			}
			return f.open(ctx, e)
		}
	}
	code = c.run(t.Context(), args)
	for _, s := range []string{out.String(), errOut.String()} {
		assert.NotContains(t, s, secretMark, "a token in the output")
		assert.NotContains(t, s, "olk2:", "a ciphertext in the output")
		for _, k := range f.keys {
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding} {
				assert.NotContains(t, s, enc.EncodeToString(k), "a key in the output")
			}
		}
	}
	return code, out.String(), errOut.String()
}

// sqliteFleet is a SQLite file encrypted with key, opened from the env.
func sqliteFleet(t *testing.T, key []byte) *testFleet {
	path := filepath.Join(t.TempDir(), "fleet.db")
	return &testFleet{env: map[string]string{"OAUTHLINK_STORE": "sqlite:" + path, "OAUTHLINK_TOKEN_KEY": b64(key)}, keys: [][]byte{key}}
}

// memoryFleet is a memory store shared by every run of the test.
func memoryFleet(t *testing.T, key []byte) *testFleet {
	mem := memstore.New()
	f := &testFleet{env: map[string]string{"OAUTHLINK_STORE": "memory", "OAUTHLINK_TOKEN_KEY": b64(key)}, keys: [][]byte{key}}
	f.open = func(ctx context.Context, e storeenv.Env) (*encrypted.Store, func() error, error) {
		keys, _, err := e.Keys()
		if err != nil {
			return nil, nil, err
		}
		st, err := encrypted.New(mem, encrypted.Options{Keys: keys})
		return st, func() error { return nil }, err
	}
	return f
}

// postgresFleet is a PostgreSQL schema of the test's own, or skips
// without a server (fails under CI).
func postgresFleet(t *testing.T, key []byte) *testFleet {
	raw := cmp.Or(os.Getenv("OAUTHLINK_TEST_POSTGRES"), "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	db, err := sql.Open("pgx", raw)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL at %s is required under CI: %v", raw, err)
		}
		testutil.SkipUnavailable(t, fmt.Sprintf("PostgreSQL at %s unreachable (%v); set OAUTHLINK_TEST_POSTGRES, or CI to make this fatal", raw, err))
	}
	schema := "cli_test_" + strings.ToLower(rand.Text()[:12])
	_, err = db.ExecContext(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE")
		assert.NoError(t, err)
	})
	u, err := url.Parse(raw)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return &testFleet{env: map[string]string{"OAUTHLINK_STORE": u.String(), "OAUTHLINK_TOKEN_KEY": b64(key)}, keys: [][]byte{key}}
}

// store opens the fleet's store with the env (plus extra), as an app would.
func (f *testFleet) store(t *testing.T, extra map[string]string) *encrypted.Store {
	t.Helper()
	env := map[string]string{}
	for k, v := range f.env {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	e, err := storeenv.FromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	if f.open != nil {
		st, _, err := f.open(t.Context(), e)
		require.NoError(t, err)
		return st
	}
	st, closeStore, _, err := e.Open(t.Context(), slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { closeStore() })
	return st
}

var now = time.Now().UTC().Truncate(time.Millisecond)

// seed saves the test fleet: qonto shop-1 (active, refreshed 80 days ago:
// due), shop-2 (active, refreshed now), shop-3 (reauth_required), and
// mollie shop-1 (active, one retired grant), the owner "shop 4" (a space).
func seed(t *testing.T, st store.TokenStore) {
	t.Helper()
	conn := func(provider, owner string, status store.Status, refreshed time.Time) *store.Connection {
		return &store.Connection{Provider: provider, Owner: owner, AccountID: "org_" + owner, Status: status,
			AccessToken: store.Secret("at_" + secretMark + "_" + owner), RefreshToken: store.Secret("rt_" + secretMark + "_" + owner),
			TokenType: "Bearer", Expiry: now.Add(time.Hour), Scopes: []string{"offline_access", "organization.read"},
			RefreshedAt: refreshed, RedirectURI: "https://app.example/connect/" + provider + "/callback"}
	}
	mollie := conn("mollie", "shop-1", store.StatusActive, now)
	mollie.Retired = []store.RetiredToken{{Token: "rt_" + secretMark + "_OLD", Kind: "refresh_token", Since: now.Add(-time.Hour)}}
	for _, c := range []*store.Connection{
		conn("qonto", "shop-1", store.StatusActive, now.Add(-80*24*time.Hour)),
		conn("qonto", "shop-2", store.StatusActive, now),
		conn("qonto", "shop-3", store.StatusReauthRequired, now.Add(-100*24*time.Hour)),
		conn("qonto", "shop 4", store.StatusActive, now.Add(-time.Hour)),
		mollie,
	} {
		require.NoError(t, st.Save(t.Context(), c))
	}
}

// TestMain ends the run with a line per reason tests were skipped for.
func TestMain(m *testing.M) { os.Exit(testutil.ReportingM{M: m}.Run()) }
