package encrypted

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strconv"
)

// Key is one AES-256 key for encrypting tokens at rest. It never shows its
// key bytes: fmt (every verb), log/slog and encoding/json see its ID and
// "[redacted]".
type Key struct {
	// ID names the key inside every ciphertext, so keys can rotate. It
	// must match [A-Za-z0-9_-]{1,32} and be unique.
	ID string
	// Key is 32 random bytes.
	Key []byte
}

// String names the key by its ID; the key bytes are never printed.
func (k Key) String() string { return "Key{ID:" + strconv.Quote(k.ID) + " Key:[redacted]}" }

// GoString is String: %#v must not print the key either.
func (k Key) GoString() string { return k.String() }

// Format prints String for every verb (%v, %+v, %#v, %s, %q, %x ...).
func (k Key) Format(f fmt.State, _ rune) { io.WriteString(f, k.String()) }

// LogValue logs the key's ID only.
func (k Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", k.ID), slog.String("key", "[redacted]"))
}

// MarshalJSON writes the key's ID only.
func (k Key) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}{k.ID, "[redacted]"})
}

// Options configure New.
type Options struct {
	// Keys encrypt and decrypt the tokens: Keys[0] encrypts, every key
	// decrypts. At least one is required.
	Keys []Key
	// MigratePlaintext makes the store read a record whose token values
	// are all unencrypted (written before encryption was enabled) as it
	// is; the next write of the record, or Reseal, encrypts it. Only for
	// the migration: while it is set, anyone who can write to the store
	// can plant tokens of their choice in such a record, which is exactly
	// what a store without it refuses. A record that mixes unencrypted and
	// encrypted values is refused even so.
	MigratePlaintext bool
}

// ErrDecrypt is returned when a stored token cannot be used: unknown key
// id, a ciphertext moved from another row or field, tampering with a
// sealed value or with the metadata bound to it, or a value stored
// unencrypted while keys are configured. The error names the connection and
// the field, never a value.
var ErrDecrypt = errors.New("oauthlink: cannot decrypt stored token")

var keyID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)
