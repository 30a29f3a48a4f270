package sqlstore

import (
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/internal/testutil"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/storetest"
)

// TestScanBadCursor: a malformed cursor, or one issued for other filters,
// is refused with store.ErrBadCursor; a cursor stays valid when only the
// page size changes.
func TestScanBadCursor(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		s, _ := newTestStore(t, b, nil)
		ctx := testutil.Context(t)
		for i := range 5 {
			c := storetest.NewConnection("qonto", fmt.Sprint("o", i))
			c.AccountID = "org_1"
			c.RefreshedAt = time.Now().Add(-time.Hour)
			require.NoError(t, s.Save(ctx, c))
		}
		cutoff := time.Now().UTC()
		q := store.Query{Provider: "qonto", Status: store.StatusActive, AccountID: "org_1", RefreshedBefore: cutoff, Limit: 2}
		page, err := s.Scan(ctx, q)
		require.NoError(t, err)
		require.NotEmpty(t, page.Next)
		raw, err := base64.RawURLEncoding.DecodeString(page.Next)
		require.NoError(t, err)

		bad := map[string]store.Query{}
		for name, cursor := range map[string]string{
			"not base64":        "!!!",
			"padded":            page.Next + "=",
			"only the version":  base64.RawURLEncoding.EncodeToString([]byte{1}),
			"other version":     base64.RawURLEncoding.EncodeToString(append([]byte{9}, raw[1:]...)),
			"only the header":   base64.RawURLEncoding.EncodeToString(raw[:9]),
			"huge length":       base64.RawURLEncoding.EncodeToString(append(raw[:17:17], 0xff, 0xff, 0xff, 0xff, 0x0f)),
			"another store's":   "eyJvZmZzZXQiOjEwMH0",
			"a cursor with NUL": "\x00",
		} {
			bq := q
			bq.Cursor = cursor
			bad[name] = bq
		}
		other := func(edit func(q *store.Query)) store.Query {
			oq := q
			oq.Cursor = page.Next
			edit(&oq)
			return oq
		}
		bad["other provider"] = other(func(q *store.Query) { q.Provider = "mollie" })
		bad["other status"] = other(func(q *store.Query) { q.Status = store.StatusReauthRequired })
		bad["no status"] = other(func(q *store.Query) { q.Status = "" })
		bad["other account"] = other(func(q *store.Query) { q.AccountID = "org_2" })
		bad["other cutoff"] = other(func(q *store.Query) { q.RefreshedBefore = cutoff.Add(time.Millisecond) })
		bad["no cutoff"] = other(func(q *store.Query) { q.RefreshedBefore = time.Time{} })
		for name, bq := range bad {
			_, err := s.Scan(ctx, bq)
			assert.ErrorIs(t, err, store.ErrBadCursor, name)
		}

		// The same filters with another page size, and the cutoff in
		// another zone, take the cursor.
		ok := other(func(q *store.Query) { q.Limit = 10; q.RefreshedBefore = cutoff.In(time.FixedZone("X", 3600)) })
		next, err := s.Scan(ctx, ok)
		require.NoError(t, err)
		assert.Len(t, next.Connections, 3)
		assert.Empty(t, next.Next)
	})
}

// TestScanWhileWriting pages through connections while rows are created,
// updated, refreshed and deleted between pages: a connection present and
// unchanged during the whole scan is returned exactly once, and no
// connection is returned twice.
func TestScanWhileWriting(t *testing.T) {
	base := time.Now().UTC().Truncate(time.Millisecond)
	for _, tc := range []struct {
		name string
		q    store.Query
	}{
		{"by key", store.Query{Limit: 4}},
		{"by key, one provider", store.Query{Provider: "p", Limit: 4}},
		{"by refresh time", store.Query{RefreshedBefore: base, Limit: 4}},
		{"by refresh time, one provider", store.Query{Provider: "p", RefreshedBefore: base, Limit: 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forBackends(t, func(t *testing.T, b backend) { checkScanWhileWriting(t, b, tc.q, base) })
		})
	}
}

func checkScanWhileWriting(t *testing.T, b backend, q store.Query, base time.Time) {
	s, _ := newTestStore(t, b, nil)
	ctx := testutil.Context(t)
	rows := map[key]*store.Connection{}
	for i := range 30 {
		c := storetest.NewConnection("p", fmt.Sprintf("o%02d", i))
		c.RefreshedAt = base.Add(-time.Duration(30-i%10) * time.Minute) // ties
		require.NoError(t, s.Save(ctx, c))
		rows[key{c.Provider, c.Owner}] = c
	}
	touched := map[key]bool{} // created, changed or deleted during the scan
	seen := map[key]int{}
	write := func(n int) {
		// A new row that sorts among the others, and one of another
		// provider.
		for _, p := range []string{"p", "o"} {
			c := storetest.NewConnection(p, fmt.Sprintf("o%02d-new", n))
			c.RefreshedAt = base.Add(-25 * time.Minute)
			require.NoError(t, s.Save(ctx, c))
			touched[key{c.Provider, c.Owner}] = true
		}
		// Update one row ahead (its key unchanged unless refreshed) and
		// delete another ahead.
		ahead := fmt.Sprintf("o%02d", 29-n)
		c := rows[key{"p", ahead}]
		c.AccessToken = "rotated"
		if n%2 == 0 {
			c.RefreshedAt = base.Add(time.Minute) // refreshed: leaves the upkeep scan
		}
		require.NoError(t, s.Save(ctx, c))
		touched[key{"p", ahead}] = true
		gone := fmt.Sprintf("o%02d", 10+n%5) // never a row updated above
		require.NoError(t, s.Delete(ctx, "p", gone))
		touched[key{"p", gone}] = true
	}
	for pages := 0; ; pages++ {
		require.Less(t, pages, 100, "the scan does not end")
		page, err := s.Scan(ctx, q)
		require.NoError(t, err)
		for _, c := range page.Connections {
			seen[key{c.Provider, c.Owner}]++
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
		write(pages)
	}
	for k, n := range seen {
		assert.Equal(t, 1, n, "%v returned %d times", k, n)
	}
	for k := range rows {
		if !touched[k] {
			assert.Equal(t, 1, seen[k], "%v, untouched during the scan, was skipped", k)
		}
	}
}
