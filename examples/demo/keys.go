package main

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

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

func resolveKeys(cfg config, s storeSpec) (keys, error) {
	var k keys
	tok, note, err := tokenKey(cfg.TokenKey, s)
	if err != nil {
		return k, err
	}
	sum := sha256.Sum256(tok)
	// The id names the key inside every ciphertext; a fingerprint makes a
	// wrong key recognisable without revealing it.
	k.token = encrypted.Key{ID: "demo-" + hex.EncodeToString(sum[:4]), Key: tok}
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

// tokenKey returns the token key from OAUTHLINK_TOKEN_KEY or, without one,
// a generated key: kept in <database>.token-key beside a SQLite file (so a
// restart can still read the stored tokens), or for this run only with the
// memory store. A shared store needs the variable: every instance must
// encrypt with the same key.
func tokenKey(given []byte, s storeSpec) ([]byte, string, error) {
	if given != nil {
		if len(given) != 32 {
			return nil, "", fmt.Errorf("OAUTHLINK_TOKEN_KEY must decode to exactly 32 bytes, got %d", len(given))
		}
		return given, "token key from OAUTHLINK_TOKEN_KEY", nil
	}
	switch s.Kind {
	case "memory":
		return randomKey(), "OAUTHLINK_TOKEN_KEY not set: using a random token key for this run (the memory store forgets everything on restart anyway)", nil
	case "sqlite":
		return keyFile(s.Path + ".token-key")
	}
	return nil, "", errors.New("OAUTHLINK_TOKEN_KEY is required with a " + s.Kind + " store, since every instance must use the same key; create one with: head -c 32 /dev/urandom | base64")
}

func randomKey() []byte {
	k := make([]byte, 32)
	rand.Read(k) // never fails (crypto/rand)
	return k
}

// keyFile reads the key kept in path, or creates the file with a new key
// (mode 0600, as os.CreateTemp makes it). Two demos starting at once agree
// on one key.
func keyFile(path string) ([]byte, string, error) {
	for range 2 {
		raw, err := os.ReadFile(path)
		if err == nil {
			k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
			if err != nil || len(k) != 32 {
				return nil, "", fmt.Errorf("%s does not hold a base64 32-byte key; delete it (and the database it encrypts) or set OAUTHLINK_TOKEN_KEY", path)
			}
			return k, "OAUTHLINK_TOKEN_KEY not set: using the token key kept in " + path, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, "", err
		}
		// Written to a temporary file first and linked into place, which
		// fails if a peer linked its key first: nobody reads a half-written
		// key.
		k := randomKey()
		tmp, err := os.CreateTemp(filepath.Dir(path), ".token-key-*")
		if err != nil {
			return nil, "", fmt.Errorf("creating the token key file: %w", err)
		}
		_, werr := tmp.WriteString(base64.StdEncoding.EncodeToString(k) + "\n")
		if cerr := tmp.Close(); werr == nil {
			werr = cerr
		}
		if werr == nil {
			werr = os.Link(tmp.Name(), path)
		}
		os.Remove(tmp.Name())
		if errors.Is(werr, fs.ErrExist) {
			continue // a peer created it meanwhile: read theirs
		}
		if werr != nil {
			return nil, "", fmt.Errorf("writing the token key file: %w", werr)
		}
		return k, "OAUTHLINK_TOKEN_KEY not set: generated a token key and saved it in " + path + " (keep it with the database; without it the stored tokens cannot be read)", nil
	}
	return nil, "", fmt.Errorf("cannot read or create %s", path)
}
