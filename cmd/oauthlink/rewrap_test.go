package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/cmd/storeenv"
	"github.com/oauthlink/oauthlink/internal/testutil"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/encrypted"
	"github.com/oauthlink/oauthlink/store/redisstore"
)

const (
	time1h = time.Hour
	day    = 24 * time.Hour
)

func TestRewrap(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			oldKey, newKey := newKey(), newKey()
			f := b.new(t, oldKey)
			f.keys = append(f.keys, newKey)
			seed(t, f.store(t, nil))
			rotated := map[string]string{"OAUTHLINK_TOKEN_KEY": b64(newKey), "OAUTHLINK_OLD_TOKEN_KEYS": b64(oldKey)}
			code, out, errOut := f.run(t, rotated, "rewrap", "--page-size", "2")
			require.Equal(t, 0, code, errOut)
			assert.Equal(t, "rewrapped 5 of 5 connections scanned\n", out)

			_, err := f.store(t, nil).Load(t.Context(), "qonto", "shop-1")
			require.ErrorIs(t, err, encrypted.ErrDecrypt, "the old key alone no longer opens")
			newOnly := map[string]string{"OAUTHLINK_TOKEN_KEY": b64(newKey)}
			for _, owner := range []string{"shop-1", "shop-2", "shop-3", "shop 4"} {
				c, err := f.store(t, newOnly).Load(t.Context(), "qonto", owner)
				require.NoError(t, err, "the new key alone opens")
				assert.Equal(t, "rt_"+secretMark+"_"+owner, c.RefreshToken.Reveal())
			}
			code, out, errOut = f.run(t, newOnly, "show", "mollie", "shop-1")
			require.Equal(t, 0, code, errOut)
			assert.Contains(t, out, storeenv.NewKey(newKey).ID)

			code, out, errOut = f.run(t, rotated, "rewrap")
			require.Equal(t, 0, code, errOut)
			assert.Equal(t, "rewrapped 0 of 5 connections scanned\n", out, "a second run rewraps nothing")
		})
	}
}

// On a terminal rewrap prints its progress with the cursor to resume at;
// a run resumed there scans the rest only.
func TestRewrapResume(t *testing.T) {
	f := memoryFleet(t, newKey())
	seed(t, f.store(t, nil))
	var cursor string
	{
		code, _, errOut := f.runTerminal(t, "rewrap", "--page-size", "2")
		require.Equal(t, 0, code, errOut)
		m := regexp.MustCompile(`(?m)^rewrap: 2 scanned, 0 rewrapped; next page --from (\S+)$`).FindStringSubmatch(errOut)
		require.NotNil(t, m, errOut)
		cursor = m[1]
	}
	code, out, errOut := f.run(t, nil, "rewrap", "--from", cursor)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "rewrapped 0 of 3 connections scanned\n", out)

	code, _, errOut = f.run(t, nil, "rewrap", "--from", "not-a-cursor")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "cursor")
}

func TestMigrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	f := &testFleet{env: map[string]string{"OAUTHLINK_STORE": "sqlite:" + path}}
	code, _, errOut := f.run(t, nil, "list")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no SQLite database at "+path)
	_, err := os.Stat(path)
	require.ErrorIs(t, err, os.ErrNotExist, "list creates nothing")

	for range 2 {
		code, out, errOut := f.run(t, nil, "migrate")
		require.Equal(t, 0, code, errOut)
		assert.Contains(t, out, "SQLite file "+path+": schema up to date")
	}
	_, err = os.Stat(storeenv.KeyFile(storeenv.Spec{Path: path}))
	require.ErrorIs(t, err, os.ErrNotExist, "migrate needs no key and creates none")
	code, _, errOut = f.run(t, nil, "list")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "OAUTHLINK_TOKEN_KEY is not set and there is no key file")

	code, _, errOut = f.run(t, map[string]string{"OAUTHLINK_STORE": "redis://127.0.0.1:1/0"}, "migrate")
	assert.Equal(t, 1, code, "an unreachable Redis is a failure, not 'nothing to do'")
	assert.Contains(t, errOut, "127.0.0.1:1")
}

// On Redis, which has no schema, migrate rebuilds the indexes the scans
// read, so that records saved before an index existed are found; twice is
// the same as once. The test uses database 13 of OAUTHLINK_TEST_REDIS's
// server, under the default prefix the CLI opens.
func TestMigrateReindexesRedis(t *testing.T) {
	raw := cmp.Or(os.Getenv("OAUTHLINK_TEST_REDIS"), "redis://127.0.0.1:6379/0")
	if !strings.Contains(raw, "://") {
		raw = "redis://" + raw
	}
	opts, err := redis.ParseURL(raw)
	require.NoError(t, err)
	opts.DB = 13
	client := redis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	ctx := t.Context()
	if err := client.Ping(ctx).Err(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Redis at %s is required under CI: %v", raw, err)
		}
		testutil.SkipUnavailable(t, fmt.Sprintf("Redis at %s unreachable (%v); set OAUTHLINK_TEST_REDIS, or CI to make this fatal", raw, err))
	}
	unlink := func(pattern string) {
		keys, err := client.Keys(context.WithoutCancel(ctx), pattern).Result()
		require.NoError(t, err)
		if len(keys) > 0 {
			require.NoError(t, client.Unlink(context.WithoutCancel(ctx), keys...).Err())
		}
	}
	unlink("oauthlink:*")
	t.Cleanup(func() { unlink("oauthlink:*") })

	st, err := redisstore.New(client, redisstore.Options{AllowVolatile: true})
	require.NoError(t, err)
	seed(t, st)
	count := func(q store.Query) int {
		t.Helper()
		q.Limit = 1000
		page, err := st.Scan(ctx, q)
		require.NoError(t, err)
		return len(page.Connections)
	}
	require.Equal(t, 5, count(store.Query{}))
	require.Equal(t, 1, count(store.Query{PendingRevocation: true}))
	// What a version without these indexes leaves behind: the records alone.
	unlink("oauthlink:idx:*")
	require.Zero(t, count(store.Query{}), "the records are no longer indexed")

	f := &testFleet{env: map[string]string{"OAUTHLINK_STORE": fmt.Sprintf("redis://%s/13", opts.Addr)}}
	for range 2 {
		code, out, errOut := f.run(t, nil, "migrate")
		require.Equal(t, 0, code, errOut)
		assert.Contains(t, out, "indexes rebuilt over 5 connections")
		assert.Equal(t, 5, count(store.Query{}))
		assert.Equal(t, 4, count(store.Query{Provider: "qonto"}))
		assert.Equal(t, 1, count(store.Query{PendingRevocation: true}))
		assert.Equal(t, 1, count(store.Query{Provider: "qonto", Status: store.StatusReauthRequired}))
	}
}

// The demo's generated key file opens its database.
func TestDemoKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "oauthlink-demo.db")
	spec := storeenv.Spec{Kind: "sqlite", Path: path}
	key, _, err := storeenv.TokenKey(nil, spec) // what the demo does on first start
	require.NoError(t, err)
	f := &testFleet{env: map[string]string{"OAUTHLINK_STORE": "sqlite:" + path}, keys: [][]byte{key}}
	seed(t, f.store(t, nil))
	code, out, errOut := f.run(t, nil, "show", "qonto", "shop-2")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, storeenv.NewKey(key).ID)
}

func TestBadEnvironment(t *testing.T) {
	f := &testFleet{env: map[string]string{"OAUTHLINK_STORE": "postgres://u:hunter2@127.0.0.1:1/db"}}
	code, _, errOut := f.run(t, nil, "stats")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "OAUTHLINK_TOKEN_KEY is required")
	code, _, errOut = f.run(t, map[string]string{"OAUTHLINK_TOKEN_KEY": "c2hvcnQ="}, "stats")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "exactly 32 bytes")
	assert.NotContains(t, errOut, "c2hvcnQ")
	code, _, errOut = f.run(t, map[string]string{"OAUTHLINK_OLD_TOKEN_KEYS": "!!!"}, "stats")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "OAUTHLINK_OLD_TOKEN_KEYS (key 1) is not valid base64")
	code, _, errOut = f.run(t, map[string]string{"OAUTHLINK_STORE": "mysql://x"}, "list")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "OAUTHLINK_STORE must be")
}

// A record no configured key opens is reported by name, left as it is,
// and fails the run; the others are still rewrapped.
func TestRewrapReportsWhatItCannotOpen(t *testing.T) {
	lost, kept, next := newKey(), newKey(), newKey()
	f := memoryFleet(t, lost)
	f.keys = append(f.keys, kept, next)
	seed(t, f.store(t, nil))
	require.NoError(t, f.store(t, map[string]string{"OAUTHLINK_TOKEN_KEY": b64(kept)}).Save(t.Context(), &store.Connection{
		Provider: "qonto", Owner: "shop-kept", Status: store.StatusActive,
		AccessToken: store.Secret("at_" + secretMark), RefreshToken: store.Secret("rt_" + secretMark)}))

	code, out, errOut := f.run(t, map[string]string{"OAUTHLINK_TOKEN_KEY": b64(next), "OAUTHLINK_OLD_TOKEN_KEYS": b64(kept)}, "rewrap")
	assert.Equal(t, 1, code)
	assert.Equal(t, "rewrapped 1 of 6 connections scanned\n", out)
	assert.Contains(t, errOut, `connection "qonto"/"shop-2"`)
	assert.Contains(t, errOut, "5 connection(s) could not be rewrapped")
}
