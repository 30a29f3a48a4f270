package storeenv_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/cmd/storeenv"
)

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func key(b byte) []byte { return []byte(strings.Repeat(string(rune(b)), 32)) }

func TestFromEnv(t *testing.T) {
	e, err := storeenv.FromEnv(getenv(nil))
	require.NoError(t, err)
	assert.Equal(t, storeenv.Spec{Kind: "sqlite", Path: "oauthlink-demo.db"}, e.Spec, "the demo's default")
	assert.Nil(t, e.TokenKey)

	cur, old1, old2 := key('c'), key('a'), key('b')
	e, err = storeenv.FromEnv(getenv(map[string]string{
		"OAUTHLINK_STORE":          "memory",
		"OAUTHLINK_TOKEN_KEY":      base64.RawURLEncoding.EncodeToString(cur), // every alphabet the demo reads
		"OAUTHLINK_OLD_TOKEN_KEYS": base64.StdEncoding.EncodeToString(old1) + ", " + base64.StdEncoding.EncodeToString(old2) + ",",
	}))
	require.NoError(t, err)
	keys, note, err := e.Keys()
	require.NoError(t, err)
	assert.Equal(t, "token key from OAUTHLINK_TOKEN_KEY", note)
	require.Len(t, keys, 3)
	for i, k := range [][]byte{cur, old1, old2} {
		sum := sha256.Sum256(k)
		assert.Equal(t, "demo-"+hex.EncodeToString(sum[:4]), keys[i].ID, "the first key encrypts, named as the demo names it")
		assert.Equal(t, k, keys[i].Key)
	}

	e.OldKeys = append(e.OldKeys, cur, old1)
	keys, _, err = e.Keys()
	require.NoError(t, err)
	assert.Len(t, keys, 3, "a key listed twice is used once")
}

func TestFromEnvErrors(t *testing.T) {
	for env, want := range map[[2]string]string{
		{"OAUTHLINK_STORE", "mysql://x"}:                 "OAUTHLINK_STORE must be",
		{"OAUTHLINK_TOKEN_KEY", "%%%SECRETVALUE"}:        "OAUTHLINK_TOKEN_KEY is not valid base64",
		{"OAUTHLINK_TOKEN_KEY", "U0VDUkVUVkFMVUU="}:      "exactly 32 bytes, got 11",
		{"OAUTHLINK_OLD_TOKEN_KEYS", "U0VDUkVUVkFMVUU="}: "OAUTHLINK_OLD_TOKEN_KEYS (key 1) must decode to exactly 32 bytes",
	} {
		_, err := storeenv.FromEnv(getenv(map[string]string{env[0]: env[1]}))
		require.Error(t, err, env[0])
		assert.Contains(t, err.Error(), want)
		assert.NotContains(t, err.Error(), "SECRETVALUE")
		assert.NotContains(t, err.Error(), "U0VDUkVU")
	}
	_, _, err := storeenv.Env{Spec: storeenv.Spec{Kind: "redis", URL: "redis://x"}}.Keys()
	assert.ErrorContains(t, err, "OAUTHLINK_TOKEN_KEY is required with a redis store")
}

func TestKeyNeverPrinted(t *testing.T) {
	k := storeenv.NewKey(key('z'))
	assert.NotContains(t, fmt.Sprintf("%v %+v %#v", k, k, k), strings.Repeat("z", 8))
}
