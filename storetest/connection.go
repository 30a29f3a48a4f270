package storetest

import (
	"crypto/rand"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store"
)

// NewConnection returns a connection for (provider, owner) ready to create
// (Version 0), filled with realistic fake values: random access and refresh
// tokens, a Bearer token type, an Expiry one hour ahead in UTC and rounded to
// a whole millisecond (see Precision), three scopes, an Extra JSON object
// holding a fake id_token, a redirect URI and StatusActive. Every call
// returns new random tokens.
func NewConnection(provider, owner string) *oauthlink.Connection {
	return &oauthlink.Connection{
		Provider:     provider,
		Owner:        owner,
		AccountID:    "org_" + rand.Text()[:12],
		AccessToken:  store.Secret("access_" + rand.Text()),
		RefreshToken: store.Secret("refresh_" + rand.Text()),
		TokenType:    "Bearer",
		Expiry:       time.Now().UTC().Add(time.Hour).Truncate(Precision),
		Scopes:       []string{"organizations.read", "payments.read", "offline_access"},
		Extra:        store.Secret(`{"id_token":"eyJhbGciOiJSUzI1NiJ9.` + rand.Text() + `.sig"}`),
		RedirectURI:  "https://app.example.com/oauth/" + url.PathEscape(provider) + "/callback",
		Status:       store.StatusActive,
		RefreshedAt:  time.Now().UTC().Add(-time.Minute).Truncate(Precision),
	}
}

// AssertConnectionEqual asserts that got holds the same record as want,
// field by field: times are compared with time.Time.Equal (location and
// monotonic reading do not matter), nil and empty Scopes are equal, as are
// nil and empty Retired lists (whose entries are compared in order, token,
// kind and Since), and secrets are compared by value but never printed
// whole. It reports every differing field and returns whether they were
// all equal.
func AssertConnectionEqual(t assert.TestingT, want, got *oauthlink.Connection, msgAndArgs ...any) bool {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	if want == nil || got == nil {
		if want == got {
			return true
		}
		return assert.Fail(t, fmt.Sprintf("connection: want %v, got %v", want, got), msgAndArgs...)
	}
	var diffs []string
	str := func(field, w, g string) {
		if w != g {
			diffs = append(diffs, fmt.Sprintf("%s: want %s, got %s", field, abbrev(w), abbrev(g)))
		}
	}
	secret := func(field string, w, g store.Secret) {
		if w != g {
			diffs = append(diffs, fmt.Sprintf("%s: %s", field, secretDiff(w.Reveal(), g.Reveal())))
		}
	}
	tm := func(field string, w, g time.Time) {
		if !w.Equal(g) {
			diffs = append(diffs, fmt.Sprintf("%s: want %s, got %s (off by %s)",
				field, w.Format(time.RFC3339Nano), g.Format(time.RFC3339Nano), g.Sub(w)))
		}
	}
	str("Provider", want.Provider, got.Provider)
	str("Owner", want.Owner, got.Owner)
	str("AccountID", want.AccountID, got.AccountID)
	secret("AccessToken", want.AccessToken, got.AccessToken)
	secret("RefreshToken", want.RefreshToken, got.RefreshToken)
	str("TokenType", want.TokenType, got.TokenType)
	tm("Expiry", want.Expiry, got.Expiry)
	if !(len(want.Scopes) == 0 && len(got.Scopes) == 0) && !slices.Equal(want.Scopes, got.Scopes) {
		diffs = append(diffs, fmt.Sprintf("Scopes: want %q, got %q", want.Scopes, got.Scopes))
	}
	secret("Extra", want.Extra, got.Extra)
	str("RedirectURI", want.RedirectURI, got.RedirectURI)
	if len(want.Retired) != len(got.Retired) {
		diffs = append(diffs, fmt.Sprintf("Retired: want %d entries, got %d", len(want.Retired), len(got.Retired)))
	} else {
		for i, w := range want.Retired {
			g := got.Retired[i]
			if w.Token != g.Token {
				diffs = append(diffs, fmt.Sprintf("Retired: entry %d Token: %s", i, secretDiff(w.Token.Reveal(), g.Token.Reveal())))
			}
			if w.Kind != g.Kind {
				diffs = append(diffs, fmt.Sprintf("Retired: entry %d Kind: want %s, got %s", i, abbrev(w.Kind), abbrev(g.Kind)))
			}
			if w.AccountID != g.AccountID {
				diffs = append(diffs, fmt.Sprintf("Retired: entry %d AccountID: want %s, got %s", i, abbrev(w.AccountID), abbrev(g.AccountID)))
			}
			if !w.Since.Equal(g.Since) {
				diffs = append(diffs, fmt.Sprintf("Retired: entry %d Since: want %s, got %s (off by %s)",
					i, w.Since.Format(time.RFC3339Nano), g.Since.Format(time.RFC3339Nano), g.Since.Sub(w.Since)))
			}
		}
	}
	str("Status", string(want.Status), string(got.Status))
	tm("RefreshedAt", want.RefreshedAt, got.RefreshedAt)
	if want.Version != got.Version {
		diffs = append(diffs, fmt.Sprintf("Version: want %d, got %d", want.Version, got.Version))
	}
	tm("CreatedAt", want.CreatedAt, got.CreatedAt)
	tm("UpdatedAt", want.UpdatedAt, got.UpdatedAt)
	if len(diffs) == 0 {
		return true
	}
	return assert.Fail(t, "connections differ:\n\t"+strings.Join(diffs, "\n\t"), msgAndArgs...)
}

// abbrev quotes s, shortening long values so a 1 KiB key does not flood the
// output.
func abbrev(s string) string {
	const max = 64
	if len(s) <= max {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q… (%d bytes)", s[:max], len(s))
}

// secretDiff describes how two secret values differ without printing them.
func secretDiff(w, g string) string {
	i := 0
	for i < len(w) && i < len(g) && w[i] == g[i] {
		i++
	}
	return fmt.Sprintf("values differ (want %d bytes, got %d bytes, first difference at byte %d)", len(w), len(g), i)
}

// hasMonotonic reports whether ts carries a monotonic clock reading, which a
// time read back from storage never does.
func hasMonotonic(ts time.Time) bool { return ts != ts.Round(0) }

// assertFromStorage checks the times of a connection returned by Load or
// List: no monotonic clock reading.
func assertFromStorage(t assert.TestingT, c *oauthlink.Connection) {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	type field struct {
		name string
		ts   time.Time
	}
	fields := []field{{"Expiry", c.Expiry}, {"CreatedAt", c.CreatedAt}, {"UpdatedAt", c.UpdatedAt}}
	for i, r := range c.Retired {
		fields = append(fields, field{fmt.Sprintf("Retired[%d].Since", i), r.Since})
	}
	for _, f := range fields {
		assert.False(t, hasMonotonic(f.ts), "%s read back from the store carries a monotonic clock reading; strip it with Round(0) when storing", f.name)
	}
}

// assertRecent checks that ts, set by the store during a call made between
// before and after, comes from a clock that agrees with the test's.
func assertRecent(t assert.TestingT, field string, ts, before, after time.Time) {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	assert.False(t, ts.IsZero(), "%s was not set", field)
	assert.WithinRange(t, ts, before.Add(-ClockSlack), after.Add(ClockSlack),
		"%s = %s is not within %s of the call (time zone or clock mix-up?)", field, ts.Format(time.RFC3339Nano), ClockSlack)
}

// OddKeys returns the unusual provider and owner strings the suite stores:
// the empty string, separators, percent signs, glob and LIKE wildcards,
// quotes, SQL and Lua metacharacters, Redis hash tags, white space, case
// and Unicode normalisation variants, 1 KiB strings, and strings that are
// prefixes of one another. All are valid UTF-8 without NUL bytes, and no
// two are equal.
// A store's own tests can reuse them, for instance as fuzz seeds. Each call
// returns a new slice.
func OddKeys() []string {
	return []string{
		"", "a", "a:", ":a", "a:b", "a::b", "a/b", "a/", "/", "a|b", "a#b", "a.b", ".", "..", "a-b",
		"%", "%25", "a%3Ab", "a%", "a_", "ab", "*", "a*", "?", "[a]", "[^a]", "{tag}", "a{b}c",
		`a\b`, `\`, "it's", `"quoted"`, "`tick`", "x'); DROP TABLE connections;--", "' OR '1'='1",
		"]]..redis.call('FLUSHALL')..[[", "KEYS *", "$1", "null", "NULL", "0", "-1",
		"a b", "a ", " a", "a\tb", "a\nb", "a\r\n",
		"A", "AB", "Ab", "ß", "SS", "\u00e9", "e\u0301", "ﬁ", "fi", "Zoë 🚀 東京", "\u202eevil", "\u200b",
		strings.Repeat("x", 1023), strings.Repeat("x", 1024), strings.Repeat("é", 512),
	}
}

// retiredGrants returns n retired grants as oauthlink keeps them: random
// tokens, kinds alternating between refresh_token and access_token, and
// whole-millisecond Since times in another zone, not in time order (a
// store must keep the list's order, not sort it).
func retiredGrants(n int) []store.RetiredToken {
	zone := time.FixedZone("UTC-3", -3*3600)
	base := time.Now().Add(-24 * time.Hour).Truncate(Precision)
	kinds := []string{"refresh_token", "access_token"}
	out := make([]store.RetiredToken, n)
	for i := range out {
		out[i] = store.RetiredToken{
			Token: store.Secret("retired_" + rand.Text()),
			Kind:  kinds[i%2],
			Since: base.Add(time.Duration((i*7)%n)*time.Hour + time.Duration(i)*time.Millisecond).In(zone),
		}
	}
	return out
}
