package storekit

import (
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/oauthlink/oauthlink/store"
)

// Cursor is where a store.Scanner scan continues: the sort key of the last
// connection it returned. RefreshedAt (Unix milliseconds) is part of the
// key only in the upkeep order (Query.RefreshedBefore set).
type Cursor struct {
	RefreshedAt     int64
	Provider, Owner string
}

// CursorOf is the cursor after c.
func CursorOf(c *store.Connection) Cursor {
	return Cursor{RefreshedAt: UnixMilli(c.RefreshedAt), Provider: c.Provider, Owner: c.Owner}
}

// UnixMilli is t in Unix milliseconds, 0 for the zero time, as stores keep
// RefreshedAt.
func UnixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// Upkeep reports whether q asks for the upkeep order.
func Upkeep(q store.Query) bool { return !q.RefreshedBefore.IsZero() }

// Compare orders the cursors a and b in q's order, as cmp.Compare.
func (a Cursor) Compare(b Cursor, q store.Query) int {
	c := cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Owner, b.Owner))
	if Upkeep(q) {
		return cmp.Or(cmp.Compare(a.RefreshedAt, b.RefreshedAt), c)
	}
	return c
}

// Matches reports whether c passes q's filters (not the cursor).
func Matches(c *store.Connection, q store.Query) bool {
	return (q.Provider == "" || c.Provider == q.Provider) &&
		(q.Status == "" || c.Status == q.Status) &&
		(q.AccountID == "" || c.AccountID == q.AccountID) &&
		(!Upkeep(q) || c.RefreshedAt.IsZero() || c.RefreshedAt.Before(q.RefreshedBefore)) &&
		(!q.PendingRevocation || c.PendingRevocation())
}

// CheckQuery returns the error a Scan answers for a query that cannot be
// run.
func CheckQuery(driver string, q store.Query) error {
	if q.AccountID != "" && q.Provider == "" {
		return fmt.Errorf("%s: scan: an account id needs its provider", driver)
	}
	return nil
}

const cursorVersion = 1

// fingerprint binds a cursor to the filters it was issued for.
func fingerprint(q store.Query) [8]byte {
	h := sha256.New()
	for _, s := range []string{q.Provider, string(q.Status), q.AccountID} {
		h.Write(binary.AppendUvarint(nil, uint64(len(s))))
		h.Write([]byte(s))
	}
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(UnixMilli(q.RefreshedBefore))))
	if q.PendingRevocation {
		// Appended only when set, so that the cursors of every other
		// query stay what they were.
		h.Write([]byte("pending"))
	}
	return [8]byte(h.Sum(nil))
}

// EncodeCursor returns the opaque Page.Next for c under q.
func EncodeCursor(q store.Query, c Cursor) string {
	fp := fingerprint(q)
	b := append([]byte{cursorVersion}, fp[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(c.RefreshedAt))
	b = binary.AppendUvarint(b, uint64(len(c.Provider)))
	b = append(append(b, c.Provider...), c.Owner...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads a cursor EncodeCursor made for the same filters; any
// other string is an error wrapping store.ErrBadCursor. "" is the start.
func DecodeCursor(q store.Query, s string) (c Cursor, start bool, err error) {
	if s == "" {
		return Cursor{}, true, nil
	}
	bad := fmt.Errorf("%w: %d bytes", store.ErrBadCursor, len(s))
	b, derr := base64.RawURLEncoding.Strict().DecodeString(s)
	fp := fingerprint(q)
	if derr != nil || len(b) < 1+8+8+1 || b[0] != cursorVersion || [8]byte(b[1:9]) != fp {
		return Cursor{}, false, bad
	}
	c.RefreshedAt = int64(binary.BigEndian.Uint64(b[9:17]))
	n, k := binary.Uvarint(b[17:])
	if k <= 0 || n > uint64(len(b)-17-k) {
		return Cursor{}, false, bad
	}
	rest := b[17+k:]
	c.Provider, c.Owner = string(rest[:n]), string(rest[n:])
	return c, false, nil
}
