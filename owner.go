package oauthlink

import (
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
)

// maxOwnerLen is the longest owner id oauthlink accepts, in bytes.
const maxOwnerLen = 1024

// ErrInvalidOwner: an owner id that no store can keep apart from another
// one: empty, longer than maxOwnerLen, not valid UTF-8, or containing NUL
// (the store.TokenStore contract's key rules). Config.Owner returning one is an
// application bug: HTTP 500.
var ErrInvalidOwner = fmt.Errorf("%w: invalid owner id", ErrConfig)

// checkOwner applies the store.TokenStore key rules to an owner id, so that two
// owners never share a store record, a lock, a cache entry or a refresh.
func checkOwner(owner string) error {
	switch {
	case owner == "":
		return fmt.Errorf("%w: empty", ErrInvalidOwner)
	case len(owner) > maxOwnerLen:
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidOwner, maxOwnerLen)
	case !utf8.ValidString(owner):
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidOwner)
	case strings.IndexByte(owner, 0) >= 0:
		return fmt.Errorf("%w: contains NUL", ErrInvalidOwner)
	}
	return nil
}

// owner returns the request's owner as Config.Owner says: ErrNoOwner when
// nobody is logged in, ErrInvalidOwner when the id breaks the key rules.
func (c *Connector) owner(r *http.Request) (string, error) {
	owner, err := c.cfg.Owner(r)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoOwner, err)
	}
	if owner == "" {
		return "", ErrNoOwner
	}
	if err := checkOwner(owner); err != nil {
		return "", err
	}
	return owner, nil
}
