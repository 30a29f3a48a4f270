package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/internal/storekit"
	"github.com/oauthlink/oauthlink/internal/testutil"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/storetest"
)

// scanAll pages through q (q.Limit a page) and returns every row. Every
// page before the last must be full.
func scanAll(t *testing.T, s *Store, q store.Query) []*store.Connection {
	t.Helper()
	ctx := testutil.Context(t)
	var all []*store.Connection
	for pages := 0; ; pages++ {
		require.Less(t, pages, 100_000, "the scan does not end")
		page, err := s.Scan(ctx, q)
		require.NoError(t, err, "page %d of %+v", pages, q)
		all = append(all, page.Connections...)
		if page.Next == "" {
			return all
		}
		require.Len(t, page.Connections, q.PageLimit(), "page %d, before the last, is not full", pages)
		q.Cursor = page.Next
	}
}

// key is a connection's primary key.
type key struct{ provider, owner string }

func keysOf(cs []*store.Connection) []key {
	out := make([]key, len(cs))
	for i, c := range cs {
		out[i] = key{c.Provider, c.Owner}
	}
	return out
}

// oddFleet returns connections whose keys a database collation would
// order differently from bytes (case, accents, decomposed characters,
// separators, the empty string), in several statuses and accounts, with
// RefreshedAt zero, before 1970, tied, and after base.
func oddFleet(base time.Time) []*store.Connection {
	providers := []string{"mollie", "Mollie", "qonto", "qönto", "q"}
	owners := []string{"", "a", "B", "b", "\u00e9", "e\u0301", "z", "Z/1", "shop:1", "shop-1", "日本", "ß", "SS"}
	statuses := []store.Status{store.StatusActive, store.StatusReauthRequired, store.StatusDisconnected}
	var out []*store.Connection
	i := 0
	for _, p := range providers {
		for _, o := range owners {
			c := storetest.NewConnection(p, o)
			c.Status = statuses[i%len(statuses)]
			c.AccountID = fmt.Sprintf("acct-%d", i%4)
			switch {
			case i%5 == 0:
				c.RefreshedAt = time.Time{}
			case i%11 == 1:
				c.RefreshedAt = time.Date(1960, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
			default: // ties between different keys, some after base
				c.RefreshedAt = base.Add(time.Duration(i%7-5) * time.Hour)
			}
			out = append(out, c)
			i++
		}
	}
	return out
}

// expected filters and orders fleet as Scan must, by the rules every
// store shares.
func expected(fleet []*store.Connection, q store.Query) []*store.Connection {
	var out []*store.Connection
	for _, c := range fleet {
		if storekit.Matches(c, q) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *store.Connection) int {
		return storekit.CursorOf(a).Compare(storekit.CursorOf(b), q)
	})
	return out
}

// scanQueries returns a query of every shape Scan builds, for a fleet
// from oddFleet.
func scanQueries(cutoff time.Time) []store.Query {
	return []store.Query{
		{},
		{Provider: "qonto"},
		{Status: store.StatusReauthRequired},
		{Provider: "Mollie", Status: store.StatusActive},
		{Provider: "qonto", AccountID: "acct-1"},
		{Provider: "qönto", AccountID: "acct-2", Status: store.StatusDisconnected},
		{RefreshedBefore: cutoff},
		{Provider: "mollie", RefreshedBefore: cutoff},
		{Status: store.StatusActive, RefreshedBefore: cutoff},
		{Provider: "q", Status: store.StatusActive, RefreshedBefore: cutoff},
		{Provider: "qonto", AccountID: "acct-3", RefreshedBefore: cutoff},
		{Provider: "nobody"},
		// A cutoff between milliseconds keeps a row of the millisecond
		// before it; cutoffs at and before 1970 still keep zero.
		{RefreshedBefore: cutoff.Add(500 * time.Microsecond)},
		{RefreshedBefore: time.Unix(0, 0)},
		{Provider: "qonto", RefreshedBefore: time.Unix(-1, 0)},
	}
}

// TestScanFiltersAndOrder pages through every query shape with several
// page sizes and compares the rows and their order with the filter and
// sort computed here.
func TestScanFiltersAndOrder(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		s, _ := newTestStore(t, b, nil)
		ctx := testutil.Context(t)
		base := time.Now().UTC().Truncate(time.Millisecond)
		fleet := oddFleet(base)
		for _, c := range fleet {
			require.NoError(t, s.Save(ctx, c))
		}
		for _, q := range scanQueries(base.Add(-2 * time.Hour)) {
			want := expected(fleet, q)
			for _, limit := range []int{1, 3, 0} {
				q.Limit = limit
				got := scanAll(t, s, q)
				require.Equal(t, keysOf(want), keysOf(got), "%+v", q)
				for i := range want {
					storetest.AssertConnectionEqual(t, want[i], got[i])
					assert.True(t, want[i].RefreshedAt.Equal(got[i].RefreshedAt), "RefreshedAt %v, want %v",
						got[i].RefreshedAt, want[i].RefreshedAt)
				}
			}
		}
		// Zero RefreshedAt counts as the Unix epoch: after the 1960 rows,
		// before every real refresh.
		all := scanAll(t, s, store.Query{RefreshedBefore: base.Add(time.Hour)})
		var kinds []string
		for _, c := range all {
			kind := map[bool]string{true: "before 1970", false: "refreshed"}[c.RefreshedAt.Year() < 1970]
			if c.RefreshedAt.IsZero() {
				kind = "zero"
			}
			if len(kinds) == 0 || kinds[len(kinds)-1] != kind {
				kinds = append(kinds, kind)
			}
		}
		assert.Equal(t, []string{"before 1970", "zero", "refreshed"}, kinds, "the upkeep order")
	})
}

// TestScanRefreshedAtRoundTrip: RefreshedAt is kept to the millisecond,
// read in UTC, and zero reads back as zero. (The Unix epoch itself, stored
// as 0, would read back as zero too: no token was obtained then.)
func TestScanRefreshedAtRoundTrip(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		s, _ := newTestStore(t, b, nil)
		ctx := testutil.Context(t)
		zone := time.FixedZone("UTC+5", 5*3600)
		for i, ts := range []time.Time{
			{}, time.Date(2031, 7, 14, 23, 59, 58, 123_456_789, zone), time.Now(), time.Unix(0, 1e6),
			time.Date(1969, 12, 31, 23, 59, 59, 999_000_000, time.UTC),
		} {
			c := storetest.NewConnection("p", fmt.Sprint(i))
			c.RefreshedAt = ts
			require.NoError(t, s.Save(ctx, c))
			got, err := s.Load(ctx, "p", c.Owner)
			require.NoError(t, err)
			assert.True(t, ts.Truncate(time.Millisecond).Equal(got.RefreshedAt), "%v read back as %v", ts, got.RefreshedAt)
			assert.Equal(t, time.UTC, got.RefreshedAt.Location())
			assert.Equal(t, ts.IsZero(), got.RefreshedAt.IsZero())
		}
	})
}

// TestScanLimits: the default page is 100 rows and a page is at most
// 1000, whatever Limit asks; a last page that is exactly full still ends
// the scan.
func TestScanLimits(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		s, _ := newTestStore(t, b, nil)
		ctx := testutil.Context(t)
		base := time.Now().UTC()
		fleet := make([]*store.Connection, 1001)
		for i := range fleet {
			fleet[i] = fleetConnection(i, base)
		}
		seed(t, ctx, s, fleet)
		for _, tc := range []struct{ limit, want int }{{0, 100}, {-5, 100}, {5000, 1000}, {1000, 1000}, {1001, 1000}} {
			page, err := s.Scan(ctx, store.Query{Limit: tc.limit})
			require.NoError(t, err)
			assert.Len(t, page.Connections, tc.want, "Limit %d", tc.limit)
			assert.NotEmpty(t, page.Next)
		}
		page, err := s.Scan(ctx, store.Query{Provider: "mollie", Limit: 334}) // 334 of 1001 are mollie's
		require.NoError(t, err)
		assert.Len(t, page.Connections, 334)
		assert.Empty(t, page.Next, "a full last page")
	})
}

// TestScanErrors: AccountID without Provider, and a done context.
func TestScanErrors(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		s, _ := newTestStore(t, b, nil)
		ctx := testutil.Context(t)
		_, err := s.Scan(ctx, store.Query{AccountID: "org_1"})
		require.Error(t, err)
		assert.NotErrorIs(t, err, store.ErrBadCursor)
		assert.Contains(t, err.Error(), "provider")

		_, err = s.Scan(testutil.Canceled(ctx), store.Query{})
		assert.ErrorIs(t, err, context.Canceled)
	})
}
