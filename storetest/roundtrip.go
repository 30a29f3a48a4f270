package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store"
)

// wholeMillisecondWithMonotonic returns a time d from now that is a whole
// millisecond yet still carries a monotonic clock reading, which the store
// must not keep.
func wholeMillisecondWithMonotonic(d time.Duration) time.Time {
	now := time.Now()
	return now.Add(d - now.Sub(now.Truncate(Precision)))
}

// testRoundTrip saves connections with a wide range of field values, one
// store each, and checks that Save sets only Version, CreatedAt and
// UpdatedAt on c and that Load and List read back what was saved.
func (s suite) testRoundTrip(t *testing.T) {
	for _, tc := range roundTripCases() {
		t.Run(tc.name, func(t *testing.T) { s.checkRoundTrip(t, tc.edit) })
	}
}

// roundTripCase is one record testRoundTrip saves: a NewConnection
// changed by edit.
type roundTripCase struct {
	name string
	edit func(c *oauthlink.Connection)
}

// roundTripCases returns the records testRoundTrip saves.
func roundTripCases() []roundTripCase {
	cet := time.FixedZone("CET", 3600)
	return []roundTripCase{
		{"realistic", func(c *oauthlink.Connection) {}},
		{"expiry with monotonic reading", func(c *oauthlink.Connection) {
			c.Expiry = wholeMillisecondWithMonotonic(time.Hour)
		}},
		{"expiry in another zone with milliseconds", func(c *oauthlink.Connection) {
			c.Expiry = time.Date(2031, 7, 14, 23, 59, 58, 123_000_000, cet)
		}},
		{"expiry after 2106", func(c *oauthlink.Connection) { // past 32-bit Unix seconds
			c.Expiry = time.Date(2107, 1, 1, 0, 0, 0, 999_000_000, time.UTC)
		}},
		{"expiry in the past", func(c *oauthlink.Connection) {
			c.Expiry = time.Date(2001, 2, 3, 4, 5, 6, 7_000_000, time.UTC)
		}},
		{"minimal", func(c *oauthlink.Connection) {
			c.AccountID, c.RefreshToken, c.Scopes, c.Extra, c.RedirectURI = "", "", nil, "", ""
		}},
		{"zero RefreshedAt (written before it was recorded)", func(c *oauthlink.Connection) { c.RefreshedAt = time.Time{} }},
		{"RefreshedAt in another zone with milliseconds", func(c *oauthlink.Connection) {
			c.RefreshedAt = time.Date(2026, 3, 29, 1, 59, 59, 999_000_000, cet)
		}},
		{"empty scopes", func(c *oauthlink.Connection) { c.Scopes = []string{} }},
		{"scope order and odd scope tokens kept", func(c *oauthlink.Connection) {
			c.Scopes = []string{"z.write", "a.read", "x:y/z", "a,b", "{}[]", "offline_access"}
		}},
		{"reauth required", func(c *oauthlink.Connection) { c.Status = store.StatusReauthRequired }},
		{"disconnected", func(c *oauthlink.Connection) { c.Status = store.StatusDisconnected }},
		{"revoked", func(c *oauthlink.Connection) { c.Status = store.StatusRevoked }},
		{"unicode in extra", func(c *oauthlink.Connection) {
			c.Extra = `{"id_token":"ey.x.y","name":"Zoë 🚀 東京","nested":{"a":[1,2,{"b":null}]}}`
		}},
		{"extra formatting kept byte for byte", func(c *oauthlink.Connection) {
			c.Extra = "{ \"b\" : 1,\n  \"a\" : 2 }"
		}},
		{"zero expiry", func(c *oauthlink.Connection) { c.Expiry = time.Time{} }},
		{"retired grants", func(c *oauthlink.Connection) { c.Retired = retiredGrants(4) }},
		{"retired grants with odd values", func(c *oauthlink.Connection) {
			c.Retired = []store.RetiredToken{
				{Token: `ory_rt_"quoted",\back{}[]`, Kind: "refresh_token", Since: time.Date(2001, 2, 3, 4, 5, 6, 7_000_000, time.UTC)},
				{Token: "", Kind: "", Since: time.Time{}},
				{Token: store.Secret("Zoë 🚀 東京 " + strings.Repeat("x", 4096)), Kind: "access_token",
					Since: time.Date(2107, 1, 1, 0, 0, 0, 999_000_000, time.UTC)},
				{Token: "dup", Kind: "refresh_token", Since: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
				{Token: "dup", Kind: "refresh_token", Since: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
			}
		}},
		{"empty retired list", func(c *oauthlink.Connection) { c.Retired = []store.RetiredToken{} }},
		{"retired grants with accounts", func(c *oauthlink.Connection) {
			c.Retired = retiredGrants(3)
			c.Retired[0].AccountID = "acct_1Nv0FGQ9RKHgCVdK"
			c.Retired[2].AccountID = "OR000 Zoë \"x\""
		}},
		{"qonto style tokens", func(c *oauthlink.Connection) {
			c.AccessToken = "ory_at_fake.Zq3-AmDV_n2Rk5yOkNp0uVbFDqGjQrIsx8XcfY7EasyVw"
			c.RefreshToken = "ory_rt_fake.YB0s-PnNc_z1zzv8gKeSXvC8Wj1CGmX9uTJ6V2YGmUfpI"
		}},
	}
}

// checkRoundTrip saves a NewConnection changed by edit to a fresh store and
// checks what Save sets on it and what Load and List read back.
func (s suite) checkRoundTrip(t *testing.T, edit func(c *oauthlink.Connection)) {
	st := s.store(t)
	ctx := testContext(t)
	c := NewConnection("mollie", "owner-1")
	edit(c)
	want := c.Clone()

	before := time.Now()
	require.NoError(t, st.Save(ctx, c))
	after := time.Now()

	assert.EqualValues(t, 1, c.Version, "Save must set Version 1 on create")
	assertRecent(t, "CreatedAt", c.CreatedAt, before, after)
	assertRecent(t, "UpdatedAt", c.UpdatedAt, before, after)
	want.Version, want.CreatedAt, want.UpdatedAt = c.Version, c.CreatedAt, c.UpdatedAt
	AssertConnectionEqual(t, want, c, "Save changed a field of c other than Version, CreatedAt and UpdatedAt")

	got, err := st.Load(ctx, "mollie", "owner-1")
	require.NoError(t, err)
	AssertConnectionEqual(t, want, got, "Load after Save")
	assertFromStorage(t, got)
	if want.Expiry.IsZero() {
		assert.True(t, got.Expiry.IsZero(), "a zero Expiry must read back as the zero time, got %s", got.Expiry)
	}

	list, err := st.List(ctx, "owner-1")
	require.NoError(t, err)
	if assert.Len(t, list, 1) {
		AssertConnectionEqual(t, want, list[0], "List after Save")
		assertFromStorage(t, list[0])
	}
}

// testRetired checks that an update writes the whole Retired list: the
// entries it adds, replaces and drops, so a revoked grant leaves the list
// and a pending one never does.
func (s suite) testRetired(t *testing.T) {
	tests := []struct {
		name          string
		before, after []store.RetiredToken
	}{
		{"AddedOnUpdate", nil, retiredGrants(2)},
		{"ReplacedOnUpdate", retiredGrants(3), nil}, // after: set below
		{"OneDroppedOnUpdate", retiredGrants(3), nil},
		{"ClearedOnUpdate", retiredGrants(3), nil},
	}
	tests[1].after = append(retiredGrants(1), tests[1].before[2], tests[1].before[0]) // new, kept, reordered
	tests[2].after = []store.RetiredToken{tests[2].before[0], tests[2].before[2]}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := s.store(t)
			ctx := testContext(t)
			c := NewConnection("mollie", "owner-1")
			c.Retired = tc.before
			c = create(t, st, c)
			c.Retired = tc.after
			require.NoError(t, st.Save(ctx, c))
			assertStored(t, st, c)
			list, err := st.List(ctx, "owner-1")
			require.NoError(t, err)
			if assert.Len(t, list, 1) {
				AssertConnectionEqual(t, c, list[0], "List after the update")
			}
			if len(tc.after) == 0 {
				got, err := st.Load(ctx, "mollie", "owner-1")
				require.NoError(t, err)
				assert.Empty(t, got.Retired, "an update with no retired grant must clear the list")
			}
		})
	}
}

// testZeroExpiry checks that an update to a zero Expiry (a token without a
// known lifetime) and back is stored as such.
func (s suite) testZeroExpiry(t *testing.T) {
	st := s.store(t)
	ctx := testContext(t)
	c := create(t, st, NewConnection("mollie", "owner-1"))
	c.Expiry = time.Time{}
	require.NoError(t, st.Save(ctx, c))
	assertStored(t, st, c)
	got, err := st.Load(ctx, "mollie", "owner-1")
	require.NoError(t, err)
	assert.True(t, got.Expiry.IsZero(), "a zero Expiry must read back as the zero time, got %s", got.Expiry)

	c.Expiry = time.Now().Add(time.Hour).Truncate(Precision)
	require.NoError(t, st.Save(ctx, c))
	assertStored(t, st, c)
}
