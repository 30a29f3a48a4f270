package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/cmd/storeenv"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/encrypted"
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

	code, out, _ := f.run(t, map[string]string{"OAUTHLINK_STORE": "redis://127.0.0.1:1/0"}, "migrate")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "nothing to migrate (redisstore has no schema)")
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
