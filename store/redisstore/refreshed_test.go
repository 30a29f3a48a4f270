package redisstore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/internal/testutil"
)

func TestRefreshedEncoding(t *testing.T) {
	t.Parallel()
	cet := time.FixedZone("CET", 3600)
	times := []time.Time{
		{},
		time.Date(1, 1, 1, 0, 0, 0, 1_000_000, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999_000_000, time.UTC),
		time.Date(2026, 3, 4, 5, 6, 7, 8_000_000, cet),
		maxRefreshed,
	}
	prev := ""
	for _, tm := range times {
		v, err := encodeRefreshed(tm)
		require.NoError(t, err, "%s", tm)
		assert.Len(t, v, refreshedDigits)
		assert.Greater(t, v, prev, "stored forms sort in time order")
		prev = v
		got, err := decodeRefreshed(v)
		require.NoError(t, err)
		assert.True(t, tm.Equal(got), "%s read back as %s", tm, got)
		assert.Equal(t, tm.IsZero(), got.IsZero())
	}
	v, err := encodeRefreshed(time.Date(2026, 1, 1, 0, 0, 0, 1_999_999, time.UTC))
	require.NoError(t, err)
	got, _ := decodeRefreshed(v)
	assert.Equal(t, time.Date(2026, 1, 1, 0, 0, 0, 1_000_000, time.UTC), got, "truncated to the millisecond")

	for _, bad := range []time.Time{time.Date(0, 12, 31, 0, 0, 0, 0, time.UTC), maxRefreshed.Add(time.Millisecond)} {
		_, err := encodeRefreshed(bad)
		assert.Error(t, err, "%s", bad)
	}
	for _, bad := range []string{"x", "12", "-00000000000001", "0000000000000001"} {
		_, err := decodeRefreshed(bad)
		assert.Error(t, err, "%q", bad)
	}
	got, err = decodeRefreshed("")
	require.NoError(t, err)
	assert.True(t, got.IsZero(), "a record without the field")
}

func TestRefreshedCutoff(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 1, 0, 0, 0, 5_000_000, time.UTC)
	stored, _ := encodeRefreshed(at)
	for _, tc := range []struct {
		before time.Time
		want   bool
	}{
		{at, false}, {at.Add(time.Nanosecond), true}, {at.Add(-time.Nanosecond), false},
		{at.Add(time.Millisecond), true},
	} {
		cutoff, all := refreshedCutoff(tc.before)
		require.False(t, all)
		assert.Equal(t, tc.want, stored < cutoff, "stored %s before %s", at, tc.before)
	}
	for _, before := range []time.Time{time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)} {
		cutoff, _ := refreshedCutoff(before)
		assert.Less(t, zeroRefreshed, cutoff, "a zero RefreshedAt is before %s", before)
		assert.LessOrEqual(t, cutoff, "000000000000001", "nothing else is before %s", before)
	}
	_, all := refreshedCutoff(maxRefreshed.Add(time.Hour))
	assert.True(t, all)

	for _, tm := range []time.Time{{}, time.Unix(-1, 0), at, maxRefreshed} {
		v, _ := encodeRefreshed(tm)
		back, ok := storedOfUnixMilli(unixMilliOf(v))
		assert.True(t, ok)
		assert.Equal(t, v, back, "%s through a cursor", tm)
	}
	_, ok := storedOfUnixMilli(maxRefreshed.UnixMilli() + 1)
	assert.False(t, ok)
}

// TestRefreshedRoundTrip: RefreshedAt reads back to the millisecond, zero
// as zero, and a record written before the field existed reads zero.
func TestRefreshedRoundTrip(t *testing.T) {
	t.Parallel()
	s, c := newTestStore(t, Options{})
	ctx := testutil.Context(t)
	at := time.Date(2026, 5, 6, 7, 8, 9, 123_456_789, time.UTC)
	conn := &oauthlink.Connection{Provider: "p", Owner: "o", RefreshedAt: at}
	require.NoError(t, s.Save(ctx, conn))
	got, err := s.Load(ctx, "p", "o")
	require.NoError(t, err)
	assert.Equal(t, at.Truncate(time.Millisecond), got.RefreshedAt)

	conn.RefreshedAt = time.Time{}
	require.NoError(t, s.Save(ctx, conn))
	got, err = s.Load(ctx, "p", "o")
	require.NoError(t, err)
	assert.True(t, got.RefreshedAt.IsZero())

	require.NoError(t, c.HDel(ctx, s.connKey("p", "o"), fRefreshed).Err()) // as an older version wrote it
	got, err = s.Load(ctx, "p", "o")
	require.NoError(t, err)
	assert.True(t, got.RefreshedAt.IsZero())

	conn.RefreshedAt = maxRefreshed.Add(time.Hour)
	assert.ErrorContains(t, s.Save(ctx, conn), "RefreshedAt")
}
