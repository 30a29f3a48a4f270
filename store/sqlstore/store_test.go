package sqlstore

import (
	"database/sql"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/internal/testutil"
	"github.com/oauthlink/oauthlink/store"
)

func TestNewOptions(t *testing.T) {
	t.Parallel()
	db := backends[0].open(t) // SQLite: no server needed
	tests := []struct {
		name string
		db   *sql.DB
		opts Options
	}{
		{"nil db", nil, Options{}},
		{"unknown dialect", db.DB, Options{Dialect: "oracle"}},
		{"schema with sqlite", db.DB, Options{Schema: "x"}},
		{"bad prefix", db.DB, Options{TablePrefix: "x; DROP TABLE y"}},
		{"long prefix", db.DB, Options{TablePrefix: "abcdefghijabcdefghijabcdefghijabc"}},
		{"prefix starts with digit", db.DB, Options{TablePrefix: "1x"}},
		{"bad schema", db.DB, Options{Dialect: Postgres, Schema: `a"b`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(testutil.Context(t), tc.db, tc.opts)
			assert.Error(t, err)
		})
	}
}

func TestDetectDialect(t *testing.T) {
	t.Parallel()
	db := backends[0].open(t)
	s, err := New(testutil.Context(t), db.DB, Options{})
	require.NoError(t, err)
	assert.Equal(t, SQLite, s.Dialect())

	pg := openPgx(postgresURL()) // detection opens no connection
	defer pg.Close()
	d, err := detectDialect(pg)
	require.NoError(t, err)
	assert.Equal(t, Postgres, d, "pgx's stdlib driver")
}

// TestBytesRoundTrip stores keys and values that a TEXT column with a
// collation would change, reject or misorder: NUL, invalid UTF-8,
// separators, empty strings, upper case before lower case.
func TestBytesRoundTrip(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		s, _ := newTestStore(t, b, nil)
		ctx := testutil.Context(t)
		owner := "own\x00er:/\xff"
		providers := []string{"", "B", "a", "a\x00", "a:b", "\xc3\xa9", "\xff\xfe"}
		require.True(t, slices.IsSorted(providers), "the test's providers are in byte order")
		for i, p := range providers {
			c := &oauthlink.Connection{
				Provider: p, Owner: owner, AccountID: "acc\x00\xfe",
				AccessToken: store.Secret("at\x00\xff" + p), RefreshToken: "",
				TokenType: "Bearer", Expiry: time.UnixMicro(1_700_000_000_123_456).UTC(),
				Scopes: []string{"a", "b:c"}, Extra: `{"id_token":"x"}`, RedirectURI: "https://x/cb?\x00",
				Status: store.StatusActive,
			}
			if i%2 == 1 {
				c.Scopes = nil
			} else {
				c.Retired = []store.RetiredToken{
					{Token: store.Secret("rt\x00\xff" + p), Kind: "refresh_token", Since: time.UnixMicro(1_600_000_000_654_321).UTC()},
					{Token: "", Kind: "", Since: time.Time{}},
					{Token: `"[{\u0000}]"`, Kind: "access_token", Since: time.UnixMicro(1_600_000_001_000_000).UTC()},
				}
			}
			require.NoError(t, s.Save(ctx, c))
			got, err := s.Load(ctx, p, owner)
			require.NoError(t, err)
			assert.Equal(t, c, got, "provider %q", p)
		}
		// A different split of the same bytes is a different key.
		_, err := s.Load(ctx, "b", "a:")
		assert.ErrorIs(t, err, store.ErrNotFound)

		list, err := s.List(ctx, owner)
		require.NoError(t, err)
		var got []string
		for _, c := range list {
			got = append(got, c.Provider)
		}
		assert.Equal(t, providers, got)
		assert.Equal(t, []string(nil), list[1].Scopes, "nil scopes stay nil")
		assert.Equal(t, []string{"a", "b:c"}, list[0].Scopes)
	})
}

func TestSaveSetsStoredTimes(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		clk := newClock()
		clk.Advance(123456789 * time.Nanosecond) // sub-microsecond part to drop
		s, _ := newTestStore(t, b, clk.Now)
		ctx := testutil.Context(t)
		c := &oauthlink.Connection{Provider: "p", Owner: "o", Status: store.StatusActive, Expiry: clk.Now()}
		require.NoError(t, s.Save(ctx, c))
		created := c.CreatedAt
		assert.Equal(t, clk.Now().Truncate(time.Microsecond), created)
		assert.Equal(t, created, c.UpdatedAt)

		clk.Advance(time.Second)
		require.NoError(t, s.Save(ctx, c))
		assert.Equal(t, int64(2), c.Version)
		assert.Equal(t, created, c.CreatedAt, "update keeps CreatedAt")
		assert.Equal(t, clk.Now().Truncate(time.Microsecond), c.UpdatedAt)

		got, err := s.Load(ctx, "p", "o")
		require.NoError(t, err)
		assert.Equal(t, c.CreatedAt, got.CreatedAt)
		assert.Equal(t, c.UpdatedAt, got.UpdatedAt)
		assert.True(t, got.Expiry.Equal(c.Expiry.Truncate(time.Microsecond)))
	})
}

func TestSaveRejects(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		s, _ := newTestStore(t, b, nil)
		ctx := testutil.Context(t)
		assert.Error(t, s.Save(ctx, nil))
		assert.Error(t, s.Save(ctx, &oauthlink.Connection{Provider: "p", Owner: "o", Version: -1}))
		assert.Error(t, s.Save(ctx, &oauthlink.Connection{Provider: "p", Owner: "o", Scopes: []string{"\xff"}}))
		assert.Error(t, s.Save(ctx, &oauthlink.Connection{Provider: "p", Owner: "o",
			Retired: []store.RetiredToken{{Token: "t", Kind: "\xff"}}}), "a retired kind that is not UTF-8")
		_, err := s.Load(ctx, "p", "o")
		assert.ErrorIs(t, err, store.ErrNotFound, "a rejected save stores nothing")
	})
}

// TestCompareAndSwapAcrossPools races writers on separate pools, as
// separate instances would: of the writers that read one version, exactly
// one commits.
func TestCompareAndSwapAcrossPools(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		s1, db := newTestStore(t, b, nil)
		s2 := newOn(t, db.reopen(t), db, nil)
		testutil.RaceCompareAndSwap(t, testutil.Context(t), []store.TokenStore{s1, s2}, 6)
	})
}
