package redisstore

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthlink/oauthlink/internal/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(testutil.ReportingM{M: m}) }

// redisOptions reads OAUTHLINK_TEST_REDIS: a redis:// or rediss:// URL, or
// host:port. Default 127.0.0.1:6379.
func redisOptions() (*redis.Options, error) {
	addr := os.Getenv("OAUTHLINK_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	if strings.HasPrefix(addr, "redis://") || strings.HasPrefix(addr, "rediss://") {
		return redis.ParseURL(addr)
	}
	return &redis.Options{Addr: addr}, nil
}

// redisErr remembers whether the server answered once, so that a missing
// server costs one connect timeout, not one per test.
var redisErr = sync.OnceValue(func() error {
	opts, err := redisOptions()
	if err != nil {
		return err
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
})

// newClient returns a client (its own pool) on the test server, closed at
// cleanup. It skips t when the server is unreachable, or fails it when CI
// is set.
func newClient(t testing.TB) *redis.Client {
	t.Helper()
	opts, err := redisOptions()
	require.NoError(t, err, "OAUTHLINK_TEST_REDIS")
	if err := redisErr(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Redis at %s is unreachable: %v (CI is set: the server must be reachable)", opts.Addr, err)
		}
		testutil.SkipUnavailable(t, fmt.Sprintf("Redis at %s is unreachable: %v (set OAUTHLINK_TEST_REDIS, or CI to make this fatal)", opts.Addr, err))
	}
	opts.ContextTimeoutEnabled = true
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// testPrefix returns a key prefix of t's own and deletes every key under it
// at cleanup.
func testPrefix(t testing.TB, c redis.UniversalClient) string {
	t.Helper()
	prefix := randomPrefix()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		keys := scanKeys(t, ctx, c, prefix)
		if len(keys) > 0 {
			require.NoError(t, c.Del(ctx, keys...).Err())
		}
	})
	return prefix
}

// randomPrefix returns a key prefix no other test uses.
func randomPrefix() string { return "oauthlink-test:" + strings.ToLower(rand.Text()[:12]) + ":" }

// scanKeys lists the keys under prefix. The prefix has no glob characters.
func scanKeys(t testing.TB, ctx context.Context, c redis.UniversalClient, prefix string) []string {
	t.Helper()
	var keys []string
	iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	require.NoError(t, iter.Err())
	return keys
}

// newTestStore returns a Store on a fresh client and prefix, and the client.
// The test server runs without persistence (as on CI), so the Store is
// opened with AllowVolatile; TestDurability checks the refusal.
func newTestStore(t testing.TB, opts Options) (*Store, *redis.Client) {
	t.Helper()
	c := newClient(t)
	opts.Prefix = testPrefix(t, c)
	opts.AllowVolatile = true
	s, err := New(c, opts)
	require.NoError(t, err)
	return s, c
}

// secondInstance returns a Store with the same prefix as s on a client of
// its own, as another instance would have.
func secondInstance(t testing.TB, s *Store) *Store {
	t.Helper()
	s2, err := New(newClient(t), Options{Prefix: s.prefix, AllowVolatile: true})
	require.NoError(t, err)
	return s2
}

// newDownClient returns a client whose server address refuses connections
// (a port just released on loopback).
func newDownClient(t testing.TB) *redis.Client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { c.Close() })
	return c
}

// plainSets returns the keys of the index sets that hold a connection
// without an account id and without a pending revocation: all but the
// two account sets and the pending set.
func plainSets(s *Store) []string {
	var keys []string
	for set := range numSets {
		if set != setAccount && set != setAccountRef && set != setPending {
			keys = append(keys, s.setKey(set))
		}
	}
	return keys
}
