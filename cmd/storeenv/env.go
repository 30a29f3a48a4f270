// Package storeenv opens the token store an oauthlink app is configured
// with, from the environment variables the demo (examples/demo) reads:
//
//   - OAUTHLINK_STORE: "sqlite:<path>" (default sqlite:oauthlink-demo.db),
//     "memory", "postgres://…" (or "postgresql://…"), "redis://…" (or
//     "rediss://…").
//   - OAUTHLINK_TOKEN_KEY: base64 of 32 bytes, the key that encrypts
//     tokens. Unset: the key kept in <path>.token-key beside a SQLite
//     file (generated if missing), a random one with memory; required
//     with PostgreSQL and Redis.
//   - OAUTHLINK_OLD_TOKEN_KEYS: base64 keys separated by commas, for a
//     rotation: they still decrypt, OAUTHLINK_TOKEN_KEY encrypts.
//
// Every key is named "demo-" and the hex of the first 4 bytes of its
// SHA-256 (NewKey), so a store written by the demo opens here.
package storeenv

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/oauthlink/oauthlink/store/encrypted"
)

// DefaultStore is OAUTHLINK_STORE's default.
const DefaultStore = "sqlite:oauthlink-demo.db"

// Env is the store configuration read from the environment.
type Env struct {
	Spec Spec
	// TokenKey is OAUTHLINK_TOKEN_KEY decoded, nil when unset.
	TokenKey []byte
	// OldKeys are OAUTHLINK_OLD_TOKEN_KEYS decoded.
	OldKeys [][]byte
}

// FromEnv reads and checks the variables through getenv (os.Getenv).
// Errors name the variable, never a key.
func FromEnv(getenv func(string) string) (Env, error) {
	var e Env
	var err error
	if e.Spec, err = Parse(cmp.Or(getenv("OAUTHLINK_STORE"), DefaultStore)); err != nil {
		return e, err
	}
	if v := getenv("OAUTHLINK_TOKEN_KEY"); v != "" {
		if e.TokenKey, err = decodeTokenKey("OAUTHLINK_TOKEN_KEY", v); err != nil {
			return e, err
		}
	}
	for i, v := range strings.Split(getenv("OAUTHLINK_OLD_TOKEN_KEYS"), ",") {
		if strings.TrimSpace(v) == "" {
			continue
		}
		k, err := decodeTokenKey(fmt.Sprintf("OAUTHLINK_OLD_TOKEN_KEYS (key %d)", i+1), v)
		if err != nil {
			return e, err
		}
		e.OldKeys = append(e.OldKeys, k)
	}
	return e, nil
}

// Keys resolves the token key (see TokenKey) and returns it first, then
// the old keys, each named by NewKey and without repeats, and the note
// saying where the first key came from.
func (e Env) Keys() ([]encrypted.Key, string, error) {
	k, note, err := TokenKey(e.TokenKey, e.Spec)
	if err != nil {
		return nil, "", err
	}
	keys := []encrypted.Key{NewKey(k)}
	seen := map[string]bool{keys[0].ID: true}
	for _, old := range e.OldKeys {
		if key := NewKey(old); !seen[key.ID] {
			seen[key.ID] = true
			keys = append(keys, key)
		}
	}
	return keys, note, nil
}

// Open opens the driver's store (OpenDriver) and wraps it with
// encrypted.New under e's keys. The returned function closes what Open
// opened; the note says where the token key came from.
func (e Env) Open(ctx context.Context, log *slog.Logger) (st *encrypted.Store, closeStore func() error, note string, err error) {
	keys, note, err := e.Keys()
	if err != nil {
		return nil, nil, "", err
	}
	inner, closeStore, err := OpenDriver(ctx, e.Spec, log)
	if err != nil {
		return nil, nil, "", err
	}
	if st, err = encrypted.New(inner, encrypted.Options{Keys: keys}); err != nil {
		closeStore()
		return nil, nil, "", err
	}
	return st, closeStore, note, nil
}

// Open reads the environment through getenv and opens the encrypted store
// it names; see Env.Open.
func Open(ctx context.Context, getenv func(string) string, log *slog.Logger) (*encrypted.Store, func() error, error) {
	e, err := FromEnv(getenv)
	if err != nil {
		return nil, nil, err
	}
	st, closeStore, _, err := e.Open(ctx, log)
	return st, closeStore, err
}
