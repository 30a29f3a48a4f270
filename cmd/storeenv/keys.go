package storeenv

import (
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

// TokenKeyBytes is the size of a token key: AES-256.
const TokenKeyBytes = 32

// NewKey names key as the demo always has: "demo-" and the hex of the
// first 4 bytes of its SHA-256. The id names the key inside every
// ciphertext; a fingerprint makes a wrong key recognisable without
// revealing it, and the same key gets the same id in every process.
func NewKey(key []byte) encrypted.Key {
	sum := sha256.Sum256(key)
	return encrypted.Key{ID: "demo-" + hex.EncodeToString(sum[:4]), Key: key}
}

// DecodeBase64 decodes a base64 key (standard or URL alphabet, padded or
// not), as the demo reads its keys; "" yields nil. name is the variable it
// came from, for the error, which never repeats the value.
func DecodeBase64(name, v string) ([]byte, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%s is not valid base64", name)
}

// decodeTokenKey is DecodeBase64 of a token key: exactly 32 bytes.
func decodeTokenKey(name, v string) ([]byte, error) {
	k, err := DecodeBase64(name, v)
	if err == nil && len(k) != TokenKeyBytes {
		err = fmt.Errorf("%s must decode to exactly %d bytes, got %d", name, TokenKeyBytes, len(k))
	}
	return k, err
}

// TokenKey returns the token key: given (OAUTHLINK_TOKEN_KEY) or, without
// one, a generated key: kept in <database>.token-key beside a SQLite file
// (so a restart can still read the stored tokens), or for this run only
// with the memory store. A shared store needs the variable: every instance
// must encrypt with the same key. The note says where the key came from,
// for the log.
func TokenKey(given []byte, s Spec) (key []byte, note string, err error) {
	if given != nil {
		if len(given) != TokenKeyBytes {
			return nil, "", fmt.Errorf("OAUTHLINK_TOKEN_KEY must decode to exactly 32 bytes, got %d", len(given))
		}
		return given, "token key from OAUTHLINK_TOKEN_KEY", nil
	}
	switch s.Kind {
	case "memory":
		return randomKey(), "OAUTHLINK_TOKEN_KEY not set: using a random token key for this run (the memory store forgets everything on restart anyway)", nil
	case "sqlite":
		return keyFile(KeyFile(s))
	}
	return nil, "", errors.New("OAUTHLINK_TOKEN_KEY is required with a " + s.Kind + " store, since every instance must use the same key; create one with: head -c 32 /dev/urandom | base64")
}

// KeyFile is where the key of a SQLite store is kept when
// OAUTHLINK_TOKEN_KEY is not set: <path>.token-key.
func KeyFile(s Spec) string { return s.Path + ".token-key" }

func randomKey() []byte {
	k := make([]byte, TokenKeyBytes)
	rand.Read(k) // never fails (crypto/rand)
	return k
}

// keyFile reads the key kept in path, or creates the file with a new key
// (mode 0600, as os.CreateTemp makes it). Two processes starting at once
// agree on one key.
func keyFile(path string) ([]byte, string, error) {
	for range 2 {
		raw, err := os.ReadFile(path)
		if err == nil {
			k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
			if err != nil || len(k) != TokenKeyBytes {
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
