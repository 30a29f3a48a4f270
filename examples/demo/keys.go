package main

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"fmt"

	"github.com/oauthlink/oauthlink/cmd/storeenv"
	"github.com/oauthlink/oauthlink/store/encrypted"
)

// keys are the demo's secrets, resolved once at start-up.
type keys struct {
	// token encrypts tokens at rest (the store is wrapped by encrypted.New).
	token encrypted.Key
	// flow signs and encrypts oauthlink's flow cookies
	// (oauthlink.Config.CookieSecrets); login signs the demo's own login
	// cookie. Both are derived from OAUTHLINK_COOKIE_KEY with HKDF, so one
	// key never serves two purposes.
	flow, login []byte
	// tokenNote and cookieNote say where the keys came from, for the log.
	tokenNote, cookieNote string
}

// tokenKey is storeenv.TokenKey: OAUTHLINK_TOKEN_KEY, else a key kept in
// <database>.token-key beside a SQLite file, or a random one with memory.
var tokenKey = storeenv.TokenKey

func resolveKeys(cfg config, s storeSpec) (keys, error) {
	var k keys
	tok, note, err := tokenKey(cfg.TokenKey, s)
	if err != nil {
		return k, err
	}
	// The id is a fingerprint of the key (storeenv.NewKey), so the
	// oauthlink CLI opens the same records.
	k.token = storeenv.NewKey(tok)
	k.tokenNote = note

	cookie := cfg.CookieKey
	switch {
	case cookie == nil:
		cookie = make([]byte, 32)
		rand.Read(cookie)
		k.cookieNote = "OAUTHLINK_COOKIE_KEY not set: using a random cookie key for this run (logins and flows in progress end on restart)"
	case len(cookie) < 32:
		return k, fmt.Errorf("OAUTHLINK_COOKIE_KEY must decode to at least 32 bytes, got %d", len(cookie))
	default:
		k.cookieNote = "cookie key from OAUTHLINK_COOKIE_KEY"
	}
	if k.flow, err = hkdf.Key(sha256.New, cookie, nil, "oauthlink-demo flow cookies", 32); err != nil {
		return k, err
	}
	if k.login, err = hkdf.Key(sha256.New, cookie, nil, "oauthlink-demo login cookie", 32); err != nil {
		return k, err
	}
	return k, nil
}
