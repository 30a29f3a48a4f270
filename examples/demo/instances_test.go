package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/internal/testutil"
	"github.com/oauthlink/oauthlink/oauthlinktest"
)

// TestInstancesShareOneStore starts two demo instances with the same keys
// on one PostgreSQL or Redis store behind one address, as behind a load
// balancer, with Qonto configured as a real provider (here the test's
// fake, without grace for rotated refresh tokens, so a second refresh of
// one token would revoke the grant). A flow started on the first instance
// finishes on the second, the replayed callback is refused by the first
// (the replay guard is the store's), and both instances asking at once
// for a token past expiry refresh it once (the lock is the store's).
func TestInstancesShareOneStore(t *testing.T) {
	for name, store := range map[string]func(testing.TB) string{
		"postgres": postgresStore,
		"redis":    redisStore,
	} {
		t.Run(name, func(t *testing.T) {
			storeURL := store(t)
			q := oauthlinktest.NewQonto(oauthlinktest.QontoOptions{Grace: oauthlinktest.NoGrace})
			t.Cleanup(q.Close)

			var target atomic.Int32
			var instances [2]http.Handler
			var apps [2]*app
			lb := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				i := int(target.Load())
				if h := r.Header.Get("X-Test-Instance"); h == "1" {
					i = 1
				} else if h == "0" {
					i = 0
				}
				instances[i].ServeHTTP(w, r)
			}))
			public := "http://" + lb.Listener.Addr().String()
			tokenKey, cookieKey := make([]byte, 32), make([]byte, 32)
			rand.Read(tokenKey)
			rand.Read(cookieKey)
			for i := range instances {
				a, err := newApp(testContext(t), config{
					PublicURL: public, Store: storeURL, TokenKey: tokenKey, CookieKey: cookieKey,
					Qonto: providerEnv{
						ClientID: q.ClientID(), ClientSecret: q.ClientSecret(),
						AuthURL: q.AuthURL(), TokenURL: q.TokenURL(), RevokeURL: q.RevokeURL(), APIURL: q.APIURL(),
					},
				}, slog.New(slog.DiscardHandler))
				require.NoError(t, err)
				t.Cleanup(a.close)
				apps[i], instances[i] = a, a.routes()
			}
			lb.Start()
			t.Cleanup(lb.Close)
			d := &demo{app: apps[0], URL: public}
			user := "shared-" + strings.ToLower(rand.Text()[:10])

			b := newBrowser(t)
			target.Store(0)
			b.login(d, user)
			start := b.getNoFollow(public + "/connect/qonto")
			require.Equal(t, http.StatusSeeOther, start.Status, start.Body)
			atProvider := b.getNoFollow(start.Header.Get("Location"))
			require.Equal(t, http.StatusFound, atProvider.Status, atProvider.Body)
			callback := atProvider.Header.Get("Location")

			target.Store(1)
			p := b.getNoFollow(callback)
			require.Equal(t, http.StatusSeeOther, p.Status, "the flow started on instance 0 finishes on instance 1: %s", p.Body)
			assert.Equal(t, "/", p.Header.Get("Location"))

			target.Store(0)
			var list []connectionJSON
			b.getJSON(public+"/api/connections", &list)
			require.Len(t, list, 1, "instance 0 sees the connection instance 1 saved")
			assert.Equal(t, "qonto", list[0].Provider)
			p = b.getNoFollow(callback)
			assert.Equal(t, http.StatusBadRequest, p.Status, "instance 0 refuses the callback instance 1 consumed")
			assert.Equal(t, 1, q.Exchanges())

			// Expire the token in the store, then ask both instances at once.
			st := apps[0].store0()
			conn, err := st.Load(t.Context(), "qonto", user)
			require.NoError(t, err)
			conn.Expiry = time.Now().Add(-time.Minute)
			require.NoError(t, st.Save(t.Context(), conn))
			var wg sync.WaitGroup
			statuses := make([]int, 2)
			for i := range 2 {
				wg.Go(func() {
					req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, public+"/api/qonto/organization", nil)
					req.Header.Set("X-Test-Instance", []string{"0", "1"}[i])
					resp, err := b.client.Do(req)
					if assert.NoError(t, err) {
						resp.Body.Close()
						statuses[i] = resp.StatusCode
					}
				})
			}
			wg.Wait()
			assert.Equal(t, []int{http.StatusOK, http.StatusOK}, statuses)
			assert.Equal(t, 1, q.Refreshes(), "one refresh for both instances")
			assert.Zero(t, q.ReuseDetections())

			target.Store(1)
			p = b.post(public+"/connections/qonto/disconnect", nil, false)
			assert.Equal(t, http.StatusSeeOther, p.Status, p.Body)
			target.Store(0)
			b.getJSON(public+"/api/connections", &list)
			assert.Empty(t, list)
		})
	}
}

// postgresStore returns a PostgreSQL store URL whose tables live in a
// schema of the test's own (dropped afterwards), or skips without a server
// (fails in CI).
func postgresStore(t testing.TB) string {
	raw := cmp.Or(os.Getenv("OAUTHLINK_TEST_POSTGRES"), "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	db, err := sql.Open("pgx", raw)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		unavailable(t, "PostgreSQL", raw, err)
	}
	schema := "demo_test_" + strings.ToLower(rand.Text()[:12])
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
	q.Set("search_path", schema) // a runtime parameter for every connection
	u.RawQuery = q.Encode()
	return u.String()
}

// redisStore returns a Redis store URL, or skips without a server (fails
// in CI). The demo's keys are per owner, and each test uses a new owner.
func redisStore(t testing.TB) string {
	addr := cmp.Or(os.Getenv("OAUTHLINK_TEST_REDIS"), "127.0.0.1:6379")
	raw := addr
	if !strings.Contains(addr, "://") {
		raw = "redis://" + addr + "/0"
	}
	opts, err := redis.ParseURL(raw)
	require.NoError(t, err)
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		unavailable(t, "Redis", addr, err)
	}
	return raw
}

func unavailable(t testing.TB, what, where string, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s at %s is unreachable in CI: %v", what, where, err)
	}
	testutil.SkipUnavailable(t, fmt.Sprintf("%s at %s is unreachable: %v (set OAUTHLINK_TEST_POSTGRES / OAUTHLINK_TEST_REDIS, or CI to make this fatal)", what, where, err))
}
