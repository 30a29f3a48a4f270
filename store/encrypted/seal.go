package encrypted

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/oauthlink/oauthlink/store"
)

// The seal formats. A sealed value is prefix + key id + ":" + base64(nonce
// || ciphertext || tag).
const (
	// sealPrefix is the current format: the associated data binds the
	// provider, the owner, the field and the connection's metadata
	// (boundMetadata).
	sealPrefix = "olk2:"
	// sealPrefixV1 is the previous format, whose associated data bound only
	// the provider, the owner and the field. Read, never written.
	sealPrefixV1 = "olk1:"
)

// secretRef is one secret field of a connection.
type secretRef struct {
	// name is the field as errors name it and the current format binds
	// it: "access_token", "refresh_token", "extra", "retired[i]".
	name string
	// v1 is the field as the previous format bound it: every retired
	// token was "retired".
	v1 string
	v  *store.Secret
}

// secretRefs lists c's secret fields, in a fixed order.
func secretRefs(c *store.Connection) []secretRef {
	refs := make([]secretRef, 0, 3+len(c.Retired))
	refs = append(refs,
		secretRef{"access_token", "access_token", &c.AccessToken},
		secretRef{"refresh_token", "refresh_token", &c.RefreshToken},
		secretRef{"extra", "extra", &c.Extra})
	for i := range c.Retired {
		refs = append(refs, secretRef{"retired[" + strconv.Itoa(i) + "]", "retired", &c.Retired[i].Token})
	}
	return refs
}

// sealFormat is how a stored value is written; a higher value is newer.
type sealFormat int

const (
	formatEmpty sealFormat = iota
	formatPlain
	formatV1
	formatV2
)

func formatOf(v store.Secret) sealFormat {
	switch raw := v.Reveal(); {
	case raw == "":
		return formatEmpty
	case strings.HasPrefix(raw, sealPrefix):
		return formatV2
	case strings.HasPrefix(raw, sealPrefixV1):
		return formatV1
	default:
		return formatPlain
	}
}

// appendPart appends a length-prefixed part, so ("a:b", "c") and
// ("a", "b:c") differ.
func appendPart(b []byte, part string) []byte {
	b = binary.AppendUvarint(b, uint64(len(part)))
	return append(b, part...)
}

// appendTime appends t to the millisecond, or a marker for the zero time.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	return binary.AppendVarint(append(b, 1), t.UnixMilli())
}

func appendSet(b []byte, v store.Secret) []byte {
	if v == "" {
		return append(b, 0)
	}
	return append(b, 1)
}

// boundMetadata is the part of c that decides how its tokens are used, as
// the current format binds it into every value's associated data. It
// leaves out Version, CreatedAt and UpdatedAt, which every write changes.
func boundMetadata(c *store.Connection) []byte {
	b := make([]byte, 0, 256)
	for _, part := range []string{string(c.Status), c.AccountID, c.TokenType, c.RedirectURI} {
		b = appendPart(b, part)
	}
	b = appendTime(b, c.Expiry)
	b = binary.AppendUvarint(b, uint64(len(c.Scopes)))
	for _, sc := range c.Scopes {
		b = appendPart(b, sc)
	}
	b = appendSet(b, c.AccessToken)
	b = appendSet(b, c.RefreshToken)
	b = appendSet(b, c.Extra)
	b = binary.AppendUvarint(b, uint64(len(c.Retired)))
	for _, r := range c.Retired {
		// A retired grant's account is bound with its kind. Kinds never
		// hold a NUL, so "kind\x00account" cannot be mistaken for a kind,
		// and a grant without an account binds exactly what records
		// written before AccountID existed bound.
		if r.AccountID != "" {
			b = appendPart(b, r.Kind+"\x00"+r.AccountID)
		} else {
			b = appendPart(b, r.Kind)
		}
		b = appendTime(b, r.Since)
		b = appendSet(b, r.Token)
	}
	return b
}

// associatedData binds a ciphertext to its row, its field and (current
// format) the row's metadata; meta nil is the previous format.
func associatedData(provider, owner, field string, meta []byte) []byte {
	var ad []byte
	if meta == nil {
		ad = []byte("oauthlink token v1")
	} else {
		ad = make([]byte, 0, 32+len(provider)+len(owner)+len(field)+len(meta))
		ad = append(ad, "oauthlink token v2"...)
	}
	for _, part := range []string{provider, owner, field} {
		ad = appendPart(ad, part)
	}
	return append(ad, meta...)
}

func (s *Store) seal(ad []byte, v store.Secret) (store.Secret, error) {
	if v == "" {
		return "", nil
	}
	aead := s.aeads[s.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(v)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("oauthlink: reading nonce: %w", err)
	}
	out := aead.Seal(nonce, nonce, []byte(v.Reveal()), ad)
	return store.Secret(sealPrefix + s.current + ":" + base64.RawStdEncoding.EncodeToString(out)), nil
}

// open decrypts a value of format f (formatV1 or formatV2). Its errors
// name the field and the connection, never the value.
func (s *Store) open(c *store.Connection, r secretRef, f sealFormat, meta []byte) (store.Secret, error) {
	raw, prefix, field := r.v.Reveal(), sealPrefix, r.name
	if f == formatV1 {
		prefix, field, meta = sealPrefixV1, r.v1, nil
	}
	id, b64, ok := strings.Cut(raw[len(prefix):], ":")
	if !ok || !keyID.MatchString(id) {
		return "", fmt.Errorf("%w: %s of connection %q/%q is malformed", ErrDecrypt, r.name, c.Provider, c.Owner)
	}
	aead, known := s.aeads[id]
	if !known {
		return "", fmt.Errorf("%w: %s of connection %q/%q is sealed with key id %q, which is not configured",
			ErrDecrypt, r.name, c.Provider, c.Owner, id)
	}
	b, err := base64.RawStdEncoding.DecodeString(b64)
	if err != nil || len(b) < aead.NonceSize()+aead.Overhead() {
		return "", fmt.Errorf("%w: %s of connection %q/%q is malformed", ErrDecrypt, r.name, c.Provider, c.Owner)
	}
	plain, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], associatedData(c.Provider, c.Owner, field, meta))
	if err != nil {
		if f == formatV1 {
			return "", fmt.Errorf("%w: %s of connection %q/%q failed authentication: changed outside oauthlink, or taken from another connection or field",
				ErrDecrypt, r.name, c.Provider, c.Owner)
		}
		return "", fmt.Errorf("%w: %s of connection %q/%q failed authentication: the value, or the connection's status, expiry, "+
			"redirect URI, account, scopes, token type or retired grants, were changed outside oauthlink, or the value was taken from another connection or field",
			ErrDecrypt, r.name, c.Provider, c.Owner)
	}
	return store.Secret(plain), nil
}

// recordFormat is the format of c's record: a record is written whole by
// Save, so all its values share one format, the newest one found.
func recordFormat(refs []secretRef) sealFormat {
	format := formatEmpty
	for _, r := range refs {
		format = max(format, formatOf(*r.v))
	}
	return format
}

// openConn decrypts c's secret fields in place. A value in another format
// than the record's (an unencrypted value, or a previous-format value put
// back next to current ones) was changed outside oauthlink.
func (s *Store) openConn(c *store.Connection) (*store.Connection, error) {
	refs := secretRefs(c)
	format := recordFormat(refs)
	switch format {
	case formatEmpty:
		return c, nil
	case formatPlain:
		if s.migrate {
			return c, nil
		}
		for _, r := range refs {
			if formatOf(*r.v) == formatPlain {
				return nil, fmt.Errorf("%w: %s of connection %q/%q is stored unencrypted, and token keys are set: refused, since anyone "+
					"who can write to the store could have planted it (a record written before encryption was enabled is read "+
					"only while encrypted.Options.MigratePlaintext is set; see package encrypted)", ErrDecrypt, r.name, c.Provider, c.Owner)
			}
		}
	}
	var meta []byte
	if format == formatV2 {
		meta = boundMetadata(c)
	}
	opened := make([]store.Secret, len(refs))
	for i, r := range refs {
		switch f := formatOf(*r.v); {
		case f == formatEmpty:
			continue
		case f == formatPlain:
			return nil, fmt.Errorf("%w: %s of connection %q/%q is stored unencrypted next to encrypted values: changed outside oauthlink",
				ErrDecrypt, r.name, c.Provider, c.Owner)
		case f != format:
			return nil, fmt.Errorf("%w: %s of connection %q/%q is sealed in the previous format next to values in the current one: changed outside oauthlink",
				ErrDecrypt, r.name, c.Provider, c.Owner)
		default:
			v, err := s.open(c, r, f, meta)
			if err != nil {
				return nil, err
			}
			opened[i] = v
		}
	}
	for i, r := range refs {
		*r.v = opened[i]
	}
	return c, nil
}
