package storekit

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/oauthlink/oauthlink/store"
)

// EncodeSave checks c for a compare-and-swap Save (store.TokenStore) and
// returns the stored forms of its JSON-valued fields: Scopes as a JSON
// array ("null" for nil), and Retired as EncodeRetired writes it with
// format f. c must not be nil, its Version must not be negative, and its
// scopes and retired kinds must be valid UTF-8 (JSON would replace the
// invalid bytes, so they would not round-trip). Errors start with driver,
// the package name, as the driver's own errors do.
func EncodeSave(driver string, c *store.Connection, f SinceFormat) (scopes, retired string, err error) {
	if c == nil {
		return "", "", errors.New(driver + ": save: nil connection")
	}
	if c.Version < 0 {
		return "", "", fmt.Errorf("%s: save %q for %q: negative version %d", driver, c.Provider, c.Owner, c.Version)
	}
	for _, sc := range c.Scopes {
		if !utf8.ValidString(sc) {
			return "", "", fmt.Errorf("%s: save %q for %q: scope is not valid UTF-8", driver, c.Provider, c.Owner)
		}
	}
	b, err := json.Marshal(c.Scopes)
	if err != nil {
		return "", "", fmt.Errorf("%s: save %q for %q: encode scopes: %w", driver, c.Provider, c.Owner, err)
	}
	if retired, err = EncodeRetired(c.Retired, f); err != nil {
		return "", "", fmt.Errorf("%s: save %q for %q: %w", driver, c.Provider, c.Owner, err)
	}
	return string(b), retired, nil
}

// DecodeScopes reads the stored form of Connection.Scopes that EncodeSave
// wrote: nil for "null".
func DecodeScopes(v string) ([]string, error) {
	var scopes []string
	if err := json.Unmarshal([]byte(v), &scopes); err != nil {
		return nil, fmt.Errorf("decode scopes: %w", err)
	}
	return scopes, nil
}

// SaveConflict is the error of a compare-and-swap Save of c that wrote
// nothing: the record exists (create) or has another version (update), or
// was deleted (update). It wraps store.ErrVersionConflict and starts with
// driver.
func SaveConflict(driver string, c *store.Connection) error {
	if c.Version == 0 {
		return fmt.Errorf("%s: create %q for %q: already exists: %w", driver, c.Provider, c.Owner, store.ErrVersionConflict)
	}
	return fmt.Errorf("%s: update %q for %q: version %d is not the stored one: %w",
		driver, c.Provider, c.Owner, c.Version, store.ErrVersionConflict)
}

// Saved updates c after a Save that wrote it at now, as store.TokenStore
// says: the next version, UpdatedAt, and CreatedAt on create. now must be
// in the stored form (UTC, the store's precision, no monotonic reading).
func Saved(c *store.Connection, now time.Time) {
	if c.Version == 0 {
		c.CreatedAt = now
	}
	c.Version++
	c.UpdatedAt = now
}
