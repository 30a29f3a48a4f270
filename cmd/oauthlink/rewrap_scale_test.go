package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/cmd/storeenv"
	"github.com/oauthlink/oauthlink/internal/testutil"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/encrypted"
	"github.com/oauthlink/oauthlink/store/redisstore"
)

const (
	// scaleDefaultN is the fleet size without OAUTHLINK_FLEET_N (the
	// issue's 100,000 is OAUTHLINK_FLEET_N=100000).
	scaleDefaultN = 20_000
	// scaleLive connections hold real grants at the fake and are refreshed
	// over and over while rewrap runs.
	scaleLive = 100
	// scaleRefreshers are the app instances refreshing them.
	scaleRefreshers = 2
	// scaleSeeders are the concurrent Save calls that seed the rest.
	scaleSeeders = 16
)

// TestRewrapAtFleetScale (issue 15 item 6): N connections sealed under
// an old key on PostgreSQL and on Redis, scaleLive of them real grants at
// the fake Qonto (Hydra rules, no grace: a refresh token sent twice
// revokes the grant). Two app instances, already on the rotated keys,
// refresh the live ones over and over while `oauthlink rewrap` runs.
// Afterwards the new key alone opens every record, no record was lost or
// changed, every live connection's stored refresh token is the one the
// fake issued last (no rewrap overwrote a refresh), and the fake saw no
// reuse.
func TestRewrapAtFleetScale(t *testing.T) {
	if testing.Short() {
		t.Skip("fleet scale: seeds tens of thousands of connections")
	}
	n := testutil.FleetSize(t, scaleDefaultN, scaleLive)
	for _, b := range []struct {
		name string
		new  func(t *testing.T, key []byte) *testFleet
	}{{"postgres", postgresFleet}, {"redis", redisFleet}} {
		t.Run(b.name, func(t *testing.T) {
			testRewrapAtScale(t, b.new, n)
		})
	}
}

// redisFleet is a Redis key prefix of the test's own on the shared
// server (OAUTHLINK_TEST_REDIS), opened by the CLI through its open hook,
// or skips without a server (fails under CI).
func redisFleet(t *testing.T, key []byte) *testFleet {
	raw := cmp.Or(os.Getenv("OAUTHLINK_TEST_REDIS"), "redis://127.0.0.1:6379/0")
	if !strings.Contains(raw, "://") {
		raw = "redis://" + raw
	}
	opts, err := redis.ParseURL(raw)
	require.NoError(t, err)
	client := redis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Redis at %s is required under CI: %v", raw, err)
		}
		testutil.SkipUnavailable(t, fmt.Sprintf("Redis at %s unreachable (%v); set OAUTHLINK_TEST_REDIS, or CI to make this fatal", raw, err))
	}
	prefix := "cli_test_" + strings.ToLower(rand.Text()[:12]) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var batch []string
		for iter.Next(ctx) {
			if batch = append(batch, iter.Val()); len(batch) == 1000 {
				assert.NoError(t, client.Unlink(ctx, batch...).Err())
				batch = batch[:0]
			}
		}
		if len(batch) > 0 {
			assert.NoError(t, client.Unlink(ctx, batch...).Err())
		}
		assert.NoError(t, iter.Err())
	})
	f := &testFleet{env: map[string]string{"OAUTHLINK_STORE": "redis://test-opens-it", "OAUTHLINK_TOKEN_KEY": b64(key)}, keys: [][]byte{key}}
	f.open = func(ctx context.Context, e storeenv.Env) (*encrypted.Store, func() error, error) {
		keys, _, err := e.Keys()
		if err != nil {
			return nil, nil, err
		}
		inner, err := redisstore.New(client, redisstore.Options{Prefix: prefix, AllowVolatile: true})
		if err != nil {
			return nil, nil, err
		}
		st, err := encrypted.New(inner, encrypted.Options{Keys: keys})
		return st, func() error { return nil }, err
	}
	return f
}

func testRewrapAtScale(t *testing.T, newFleet func(*testing.T, []byte) *testFleet, n int) {
	oldKey, newKey := newKey(), newKey()
	f := newFleet(t, oldKey)
	f.keys = append(f.keys, newKey)
	rotated := map[string]string{"OAUTHLINK_TOKEN_KEY": b64(newKey), "OAUTHLINK_OLD_TOKEN_KEYS": b64(oldKey)}
	fake := oauthlinktest.NewQonto(oauthlinktest.QontoOptions{Grace: oauthlinktest.NoGrace, RedirectURIs: []string{scaleRedirect}})
	t.Cleanup(fake.Close)

	// Seed under the old key: the live grants through the flow, the rest
	// with Save.
	began := time.Now()
	old := f.store(t, nil)
	live := connectLive(t, fake, newConnector(t, fake, old))
	connectTime := time.Since(began)
	began = time.Now()
	seedSealed(t, old, n-scaleLive)
	seedTime := time.Since(began)

	// The app runs on the rotated keys: two instances refresh the live
	// connections until rewrap is done.
	var conns []*oauthlink.Connector
	for range scaleRefreshers {
		conns = append(conns, newConnector(t, fake, f.store(t, rotated)))
	}
	stop := make(chan struct{})
	var refreshes atomic.Int64
	var sc store.Scanner
	refreshErrs := make(chan error, scaleRefreshers)
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			ctx := context.Background()
			for round := 0; ; round++ {
				for j := range live {
					select {
					case <-stop:
						return
					default:
					}
					// The instances walk the live owners in opposite
					// orders, so they also refresh the same ones at once.
					owner := live[(j+i*len(live)/2)%len(live)]
					if _, err := c.ForceRefresh(ctx, owner); err != nil {
						refreshErrs <- fmt.Errorf("instance %d refreshing %s: %w", i, owner, err)
						return
					}
					refreshes.Add(1)
				}
			}
		})
	}

	began = time.Now()
	code, out, errOut := f.run(t, rotated, "rewrap", "--page-size", "500")
	rewrapTime := time.Since(began)
	during := refreshes.Load()
	close(stop)
	wg.Wait()
	close(refreshErrs)
	for err := range refreshErrs {
		require.NoError(t, err)
	}
	require.Equal(t, 0, code, errOut)
	var rewrapped, scanned int
	_, err := fmt.Sscanf(out, "rewrapped %d of %d connections scanned\n", &rewrapped, &scanned)
	require.NoError(t, err, out)
	require.Equal(t, n, scanned)
	// The live connections the instances refreshed before rewrap reached
	// them were already saved under the new key.
	require.GreaterOrEqual(t, rewrapped, n-scaleLive, out)
	require.Positive(t, during, "refreshes ran while rewrap did")
	code, out, errOut = f.run(t, rotated, "rewrap", "--page-size", "1000")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, fmt.Sprintf("rewrapped 0 of %d connections scanned\n", n), out, "a second run has nothing left")

	// The new key alone opens every record, unchanged.
	newOnly := f.store(t, map[string]string{"OAUTHLINK_TOKEN_KEY": b64(newKey)})
	sc, err = scanner(newOnly)
	require.NoError(t, err)
	liveSet := map[string]bool{}
	for _, o := range live {
		liveSet[o] = true
	}
	seen := 0
	began = time.Now()
	require.NoError(t, scanAll(t.Context(), sc, store.Query{Limit: 1000}, func(c *store.Connection) error {
		seen++
		// The scan reads the inner store: open each record through the
		// new-key-only store.
		got, err := newOnly.Load(t.Context(), c.Provider, c.Owner)
		if err != nil {
			return fmt.Errorf("%s/%s: %w", c.Provider, c.Owner, err)
		}
		if liveSet[got.Owner] {
			if !fake.RefreshTokenValid(got.RefreshToken.Reveal()) {
				return fmt.Errorf("%s: the stored refresh token is not the fake's latest: a refresh was lost", got.Owner)
			}
			return nil
		}
		i, err := strconv.Atoi(strings.TrimPrefix(got.Owner, "seed-"))
		if err != nil {
			return fmt.Errorf("unexpected owner %q", got.Owner)
		}
		if want := seeded(i); got.RefreshToken != want.RefreshToken || got.AccessToken != want.AccessToken || got.AccountID != want.AccountID || got.Status != want.Status {
			return fmt.Errorf("%s changed by rewrap", got.Owner)
		}
		return nil
	}))
	checkTime := time.Since(began)
	assert.Equal(t, n, seen, "no record lost")
	assert.Zero(t, fake.ReuseDetections(), "no refresh token sent twice")
	_, err = f.store(t, nil).Load(t.Context(), "qonto", live[0])
	assert.ErrorIs(t, err, encrypted.ErrDecrypt, "the old key alone no longer opens")

	t.Logf("N=%d: connect %d live %v, seed %d %v; rewrap %v (%.0f records/s) with %d refreshes of the live ones meanwhile (%d instances); full check %v",
		n, scaleLive, connectTime.Round(time.Millisecond), n-scaleLive, seedTime.Round(time.Millisecond),
		rewrapTime.Round(time.Millisecond), float64(n)/rewrapTime.Seconds(), during, scaleRefreshers, checkTime.Round(time.Millisecond))
}

const scaleRedirect = "https://app.example/connect/qonto/callback"

// newConnector is one app instance on st against the fake.
func newConnector(t *testing.T, fake *oauthlinktest.Qonto, st store.TokenStore) *oauthlink.Connector {
	t.Helper()
	c, err := oauthlink.New(oauthlink.Config{
		Provider: fake.Provider(), ClientID: fake.ClientID(), ClientSecret: fake.ClientSecret(),
		RedirectURL: scaleRedirect, Store: st, AllowInsecureHTTP: true, HTTPClient: fake.Client(),
		Owner:         func(r *http.Request) (string, error) { return r.Header.Get("X-Owner"), nil },
		CookieSecrets: [][]byte{make([]byte, 32)}, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	return c
}

// connectLive connects scaleLive owners through the flow: start, the
// fake's consent, the callback.
func connectLive(t *testing.T, fake *oauthlinktest.Qonto, c *oauthlink.Connector) []string {
	t.Helper()
	var owners []string
	for i := range scaleLive {
		owner := fmt.Sprintf("live-%04d", i)
		start := httptest.NewRequest(http.MethodGet, "https://app.example/connect/qonto", nil)
		start.Header.Set("X-Owner", owner)
		w := httptest.NewRecorder()
		flow, err := c.Begin(w, start, oauthlink.BeginOptions{})
		require.NoError(t, err)
		cb, err := fake.Authorize(t.Context(), flow.AuthURL.Reveal())
		require.NoError(t, err)
		back := httptest.NewRequest(http.MethodGet, cb.String(), nil)
		back.Header.Set("X-Owner", owner)
		for _, ck := range w.Result().Cookies() {
			back.AddCookie(ck)
		}
		w = httptest.NewRecorder()
		c.CallbackHandler().ServeHTTP(w, back)
		require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
		owners = append(owners, owner)
	}
	return owners
}

// seeded is the i-th seeded connection: active, refreshed an hour ago,
// with tokens the fake never issued.
func seeded(i int) *store.Connection {
	at := now.Add(-time.Hour)
	return &store.Connection{
		Provider: "qonto", Owner: fmt.Sprintf("seed-%07d", i), AccountID: fmt.Sprintf("org_%07d", i),
		AccessToken: store.Secret(fmt.Sprintf("at_%s_%07d", secretMark, i)), RefreshToken: store.Secret(fmt.Sprintf("rt_%s_%07d", secretMark, i)),
		TokenType: "Bearer", Expiry: at.Add(2 * time.Hour), Scopes: []string{"organization.read", "offline_access"},
		Status: store.StatusActive, RefreshedAt: at,
	}
}

// seedSealed saves seeded(0..count-1) through st with scaleSeeders
// concurrent calls.
func seedSealed(t *testing.T, st store.TokenStore, count int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	var next atomic.Int64
	errs := make([]error, scaleSeeders)
	var wg sync.WaitGroup
	for w := range scaleSeeders {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= count || ctx.Err() != nil {
					return
				}
				if err := st.Save(ctx, seeded(i)); err != nil {
					errs[w] = fmt.Errorf("seed %d: %w", i, err)
					cancel()
					return
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
}
