package redisstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/internal/testutil"
	"github.com/oauthlink/oauthlink/store"
)

// startRedis starts a standalone redis-server with args, in a temp dir of
// its own on a free loopback port, and returns its address. The server is
// killed at t's cleanup, and its log printed when t failed. Without
// redis-server on PATH it skips t, or fails it when CI is set.
func startRedis(t *testing.T, args ...string) string {
	t.Helper()
	bin := lookPath(t, "redis-server")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	n := startServer(t, ctx, bin, dir, func(int) []string { return args })
	t.Cleanup(func() {
		if err := n.kill(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("log of redis-server %s %q:\n%s", n.addr, args, readServerLog(dir))
		}
	})
	return n.addr
}

// TestDurability starts a Redis server of its own for each configuration
// and checks that New accepts the ones that keep every acknowledged write
// through a restart or a crash of Redis (an append-only file, fsynced
// always or every second, and no eviction), refuses the others with an
// error naming the setting and the server, and that AllowVolatile opens
// the store anyway without asking.
func TestDurability(t *testing.T) {
	t.Parallel()
	noPersistence := []string{"--appendonly", "no", "--save", ""}
	aofAlways := []string{"--appendonly", "yes", "--appendfsync", "always", "--save", ""}
	with := func(base []string, more ...string) []string { return append(append([]string{}, base...), more...) }
	renameConfig := []string{"--rename-command", "CONFIG", ""}
	tests := []struct {
		name string
		args []string
		// acl, when set, is the rules of the user the store connects as.
		acl string
		// refused is nil when New accepts the server; else the error
		// wraps it and contains names.
		refused error
		names   []string
	}{
		{name: "no persistence", args: noPersistence, refused: ErrVolatile,
			names: []string{`appendonly is "no" and save is ""`, "a restart loses every saved connection"}},
		{name: "RDB only", args: []string{"--appendonly", "no", "--save", "5 1"}, refused: ErrVolatile,
			names: []string{`appendonly is "no" (RDB snapshots only, save "5 1")`}},
		{name: "AOF everysec", args: []string{"--appendonly", "yes", "--appendfsync", "everysec", "--save", ""}},
		{name: "AOF always", args: aofAlways},
		{name: "AOF always and RDB", args: []string{"--appendonly", "yes", "--appendfsync", "always", "--save", "5 1"}},
		{name: "AOF without fsync", args: []string{"--appendonly", "yes", "--appendfsync", "no", "--save", ""}, refused: ErrVolatile,
			names: []string{`appendfsync is "no"`}},
		{name: "allkeys-lru", args: with(aofAlways, "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"), refused: ErrVolatile,
			names: []string{`maxmemory-policy is "allkeys-lru"`, "evicted connection"}},
		{name: "volatile-lru", args: with(aofAlways, "--maxmemory-policy", "volatile-lru"), refused: ErrVolatile,
			names: []string{`maxmemory-policy is "volatile-lru"`}},
		{name: "no persistence and allkeys-lru", args: with(noPersistence, "--maxmemory-policy", "allkeys-lru"), refused: ErrVolatile,
			names: []string{`appendonly is "no"`, `maxmemory-policy is "allkeys-lru"`}},
		// Without CONFIG, New reads INFO persistence and INFO memory.
		{name: "CONFIG renamed, AOF always", args: with(aofAlways, renameConfig...)},
		{name: "CONFIG renamed, no persistence", args: with(noPersistence, renameConfig...), refused: ErrVolatile,
			names: []string{"aof_enabled is 0", "unknown command"}},
		{name: "CONFIG renamed, allkeys-lru", args: with(aofAlways, append(renameConfig, "--maxmemory-policy", "allkeys-lru")...),
			refused: ErrVolatile, names: []string{`maxmemory_policy is "allkeys-lru" (INFO memory)`}},
		{name: "CONFIG denied, AOF always", args: aofAlways, acl: "-config"},
		{name: "CONFIG denied, no persistence", args: noPersistence, acl: "-config", refused: ErrVolatile,
			names: []string{"aof_enabled is 0", "NOPERM"}},
		{name: "CONFIG and INFO denied", args: aofAlways, acl: "-config -info", refused: ErrDurabilityUnknown,
			names: []string{"CONFIG GET: NOPERM", "INFO: NOPERM"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := startRedis(t, tc.args...)
			c := aclClient(t, addr, tc.acl)
			ctx := testutil.Context(t)

			s, err := New(c, Options{})
			checked := CheckDurability(ctx, c)
			if tc.refused == nil {
				require.NoError(t, err)
				require.NoError(t, checked)
			} else {
				require.ErrorIs(t, err, tc.refused)
				assert.Nil(t, s)
				for _, name := range append(tc.names, addr, "Options.AllowVolatile") {
					assert.Contains(t, err.Error(), name)
				}
				assert.Equal(t, err.Error(), checked.Error(), "New's check is CheckDurability")
				t.Log(err)
				s, err = New(c, Options{AllowVolatile: true})
				require.NoError(t, err, "AllowVolatile accepts the server")
			}
			conn := &oauthlink.Connection{Provider: "qonto", Owner: "o", AccessToken: "at", Status: store.StatusActive}
			require.NoError(t, s.Save(ctx, conn))
			got, err := s.Load(ctx, "qonto", "o")
			require.NoError(t, err)
			assert.Equal(t, "at", got.AccessToken.Reveal())
		})
	}
}

// aclClient returns a client on addr, closed at cleanup. With acl set it
// connects as a user of its own whose rules are +@all then acl.
func aclClient(t *testing.T, addr, acl string) *redis.Client {
	t.Helper()
	opts := &redis.Options{Addr: addr, ContextTimeoutEnabled: true}
	if acl != "" {
		admin := nodeClient(addr)
		defer admin.Close()
		rules := []any{"ACL", "SETUSER", "app", "on", ">secret", "~*", "&*", "+@all"}
		for _, r := range strings.Fields(acl) {
			rules = append(rules, r)
		}
		require.NoError(t, admin.Do(testutil.Context(t), rules...).Err())
		opts.Username, opts.Password = "app", "secret"
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// TestDurabilityUnreachable: without AllowVolatile New must ask the
// server, so an unreachable one is an error, and not a verdict on its
// settings.
func TestDurabilityUnreachable(t *testing.T) {
	t.Parallel()
	_, err := New(newDownClient(t), Options{})
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrVolatile)
	assert.NotErrorIs(t, err, ErrDurabilityUnknown)
	assert.Contains(t, err.Error(), "checking durability")
}
