package storetest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/memstore"
	"github.com/oauthlink/oauthlink/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRunMemstore is the control for TestSuiteCatchesFaults: the suite
// passes on a correct store.
func TestRunMemstore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.TokenStore { return memstore.New() })
}

// faultEnv names the fault TestFaultyStore injects.
const faultEnv = "STORETEST_FAULT"

// TestSuiteCatchesFaults runs the suite against stores with one deliberate
// defect each, in a child process, and checks that the subtests meant to
// catch the defect fail. A conformance check that cannot fail is no check.
func TestSuiteCatchesFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite in child processes")
	}
	for _, tc := range faultCases {
		t.Run(tc.fault, func(t *testing.T) { checkFaultCaught(t, tc) })
	}
}

// faultCase is one fault TestSuiteCatchesFaults injects and what the suite
// must make of it.
type faultCase struct {
	fault    string
	run      string   // -test.run pattern below TestFaultyStore
	wantFail []string // subtests that must fail
	wantSkip []string // subtests that must be skipped
}

// faultCases are the faults TestFaultyStore knows.
var faultCases = []faultCase{
	{"blind-write", "Version|ConcurrentWriters|ExactlyOneWinner",
		[]string{"Version/StaleVersionConflicts", "Version/VersionAheadConflicts", "ConcurrentWriters", "ExactlyOneWinner/Update"}, nil},
	{"create-overwrites", "Version|ExactlyOneWinner",
		[]string{"Version/CreateTwiceConflicts", "ExactlyOneWinner/Create"}, nil},
	{"update-missing-creates", "Version",
		[]string{"Version/UpdateOfMissingConflicts", "Version/UpdateAfterDeleteConflicts"}, nil},
	{"ignore-ctx", "CancelledContext",
		[]string{"CancelledContext/Load/Canceled", "CancelledContext/SaveCreate/DeadlineExceeded",
			"CancelledContext/Delete/Canceled", "CancelledContext/DeleteVersion/Canceled",
			"CancelledContext/Ping/Canceled"}, nil},
	{"alias-load", "NoAliasing",
		[]string{"NoAliasing/LoadResult", "NoAliasing/LoadsAreIndependent"}, nil},
	{"alias-save", "NoAliasing",
		[]string{"NoAliasing/SaveInputAfterCreate", "NoAliasing/SaveInputAfterUpdate"}, nil},
	{"case-insensitive-keys", "OddKeys|NotFound",
		[]string{"OddKeys", "NotFound/Load/provider_case"}, nil},
	{"unsorted-list", "^List$",
		[]string{"List/OrderedByProvider"}, nil},
	{"second-precision", "RoundTrip",
		[]string{"RoundTrip/expiry_in_another_zone_with_milliseconds"}, nil},
	{"lock-unlocks-any-holder", "Locker",
		[]string{"Locker/ExpiresAfterTTL", "Locker/UnlockTwice", "Locker/RenewAfterTakeover", "Locker/RenewAfterRelease"}, nil},
	{"renew-never-extends", "Locker",
		[]string{"Locker/RenewExtends"}, nil},
	{"renew-any-holder", "Locker",
		[]string{"Locker/RenewAfterExpiry", "Locker/RenewAfterTakeover", "Locker/RenewAfterRelease"}, nil},
	{"drop-retired", "RoundTrip|Retired",
		[]string{"RoundTrip/retired_grants", "RoundTrip/retired_grants_with_odd_values", "Retired/AddedOnUpdate"}, nil},
	{"retired-not-cleared", "RoundTrip|Retired",
		[]string{"Retired/ClearedOnUpdate"}, nil},
	{"retired-sorted", "RoundTrip|Retired",
		[]string{"RoundTrip/retired_grants", "Retired/ReplacedOnUpdate"}, nil},
	{"alias-retired", "NoAliasing",
		[]string{"NoAliasing/SaveInputAfterCreate", "NoAliasing/SaveInputAfterUpdate"}, nil},
	{"zero-expiry-as-epoch", "RoundTrip|ZeroExpiry",
		[]string{"RoundTrip/zero_expiry", "ZeroExpiry"}, nil},
	{"replay-always-first", "ReplayGuard",
		[]string{"ReplayGuard/FirstThenReplayed", "ReplayGuard/ConcurrentConsumeOneWinner"}, nil},
	{"replay-never-expires", "ReplayGuard",
		[]string{"ReplayGuard/ExpiredConsumedAgain"}, nil},
	{"delete-version-ignores-version", "VersionDeleter",
		[]string{"VersionDeleter/OtherVersionConflicts/Behind", "VersionDeleter/CreatedAgainKept"}, nil},
	{"delete-version-check-then-delete", "VersionDeleter",
		[]string{"VersionDeleter/RacesUpdate"}, nil},
	{"no-capabilities", "VersionDeleter|Locker|ReplayGuard|Pinger|CancelledContext", nil,
		[]string{"VersionDeleter", "Locker", "ReplayGuard", "Pinger", "CancelledContext/DeleteVersion/Canceled",
			"CancelledContext/Ping/Canceled"}},
}

// checkFaultCaught runs the suite on the store with tc.fault in a child
// process and checks which subtests failed and which were skipped.
func checkFaultCaught(t *testing.T, tc faultCase) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestFaultyStore$/("+tc.run+")", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), faultEnv+"="+tc.fault)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if len(tc.wantFail) > 0 {
		require.ErrorAs(t, err, &exit, "the suite passed a store with fault %q:\n%s", tc.fault, out)
	} else {
		require.NoError(t, err, "%s", out)
	}
	for _, name := range tc.wantFail {
		assert.Contains(t, string(out), "--- FAIL: TestFaultyStore/"+name+" ", "fault %q not caught by %s", tc.fault, name)
	}
	for _, name := range tc.wantSkip {
		assert.Contains(t, string(out), "--- SKIP: TestFaultyStore/"+name+" ", "fault %q: %s not skipped", tc.fault, name)
	}
	if t.Failed() {
		t.Logf("child output:\n%s", out)
	}
}

// TestFaultyStore runs the suite on a store with the fault named by
// STORETEST_FAULT; it is a helper for TestSuiteCatchesFaults and is skipped
// otherwise.
func TestFaultyStore(t *testing.T) {
	fault := os.Getenv(faultEnv)
	if fault == "" {
		t.Skip("helper for TestSuiteCatchesFaults")
	}
	storetest.Run(t, func(t *testing.T) store.TokenStore {
		f := &faulty{Store: memstore.New(), fault: fault}
		switch fault {
		case "no-capabilities":
			return tokenStoreOnly{f}
		case "lock-unlocks-any-holder", "renew-never-extends", "renew-any-holder":
			return &toyLocker{faulty: f, held: map[[2]string]toyHold{}}
		}
		return f
	})
}

func TestOddKeysDistinct(t *testing.T) {
	keys := storetest.OddKeys()
	seen := map[string]bool{}
	for _, k := range keys {
		assert.False(t, seen[k], "duplicate %q", k)
		seen[k] = true
		assert.NotContains(t, k, "\x00")
	}
	keys[0] = "changed"
	assert.NotEqual(t, "changed", storetest.OddKeys()[0], "OddKeys must return a new slice")
}

func TestNewConnection(t *testing.T) {
	a := storetest.NewConnection("mollie", "owner-1")
	b := storetest.NewConnection("mollie", "owner-1")
	assert.Equal(t, "mollie", a.Provider)
	assert.Equal(t, "owner-1", a.Owner)
	assert.Zero(t, a.Version, "ready to create")
	assert.True(t, a.Status.Valid())
	assert.Equal(t, "Bearer", a.TokenType)
	assert.NotEmpty(t, a.AccessToken.Reveal())
	assert.NotEmpty(t, a.RefreshToken.Reveal())
	assert.NotEqual(t, a.AccessToken, b.AccessToken, "tokens must be random")
	assert.True(t, a.Expiry.After(time.Now()))
	assert.True(t, a.Expiry.Equal(a.Expiry.Truncate(storetest.Precision)), "expiry must be a whole millisecond")
	assert.NotEmpty(t, a.Scopes)
	assert.Contains(t, a.RedirectURI, "/mollie/")
	assert.Contains(t, storetest.NewConnection("a/b", "o").RedirectURI, "/a%2Fb/")
}

// recorder is an assert.TestingT that keeps the failure messages.
type recorder struct{ msgs []string }

func (r *recorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, strings.TrimSpace(strings.Join(strings.Fields(sprintf(format, args...)), " ")))
}

func TestAssertConnectionEqual(t *testing.T) {
	base := storetest.NewConnection("mollie", "owner-1")
	base.Version, base.CreatedAt, base.UpdatedAt = 3, time.Now().Round(0), time.Now().Round(0)
	base.Retired = []store.RetiredToken{
		{Token: "retired_SECRET_1", Kind: "refresh_token", Since: time.Now().Round(0)},
		{Token: "retired_SECRET_2", Kind: "access_token", Since: time.Now().Round(0)},
	}

	t.Run("Equal", func(t *testing.T) {
		other := base.Clone()
		other.Expiry = other.Expiry.In(time.FixedZone("X", 7200)) // same instant, other zone
		var r recorder
		assert.True(t, storetest.AssertConnectionEqual(&r, base, other))
		assert.Empty(t, r.msgs)
	})
	t.Run("NilAndEmptyScopes", func(t *testing.T) {
		a, b := base.Clone(), base.Clone()
		a.Scopes, b.Scopes = nil, []string{}
		var r recorder
		assert.True(t, storetest.AssertConnectionEqual(&r, a, b))
	})
	t.Run("NilAndEmptyRetired", func(t *testing.T) {
		a, b := base.Clone(), base.Clone()
		a.Retired, b.Retired = nil, []store.RetiredToken{}
		var r recorder
		assert.True(t, storetest.AssertConnectionEqual(&r, a, b))
	})
	t.Run("Nil", func(t *testing.T) {
		var r recorder
		assert.True(t, storetest.AssertConnectionEqual(&r, nil, nil))
		assert.False(t, storetest.AssertConnectionEqual(&r, base, nil))
	})

	for field, edit := range connectionEdits() {
		t.Run(field, func(t *testing.T) {
			got := base.Clone()
			edit(got)
			var r recorder
			assert.False(t, storetest.AssertConnectionEqual(&r, base, got))
			require.Len(t, r.msgs, 1)
			name, _, _ := strings.Cut(field, "/")
			assert.Contains(t, r.msgs[0], name+":")
			secrets := []store.Secret{base.AccessToken, base.RefreshToken, got.AccessToken, base.Extra}
			for _, rt := range append(slices.Clone(base.Retired), got.Retired...) {
				secrets = append(secrets, rt.Token)
			}
			for _, secret := range secrets {
				if secret != "" && secret != "{}" {
					assert.NotContains(t, r.msgs[0], secret.Reveal(), "a secret value was printed")
				}
			}
		})
	}
}

// connectionEdits returns edits that each change one field of a
// connection, or one thing about its Retired list, keyed by the field (and
// "Retired/" plus what changes) that AssertConnectionEqual must name.
func connectionEdits() map[string]func(c *oauthlink.Connection) {
	edits := map[string]func(c *oauthlink.Connection){
		"Provider":     func(c *oauthlink.Connection) { c.Provider = "qonto" },
		"Owner":        func(c *oauthlink.Connection) { c.Owner = "owner-2" },
		"AccountID":    func(c *oauthlink.Connection) { c.AccountID = "x" },
		"AccessToken":  func(c *oauthlink.Connection) { c.AccessToken += "x" },
		"RefreshToken": func(c *oauthlink.Connection) { c.RefreshToken = "" },
		"TokenType":    func(c *oauthlink.Connection) { c.TokenType = "bearer" },
		"Expiry":       func(c *oauthlink.Connection) { c.Expiry = c.Expiry.Add(time.Millisecond) },
		"Scopes":       func(c *oauthlink.Connection) { c.Scopes = slices.Clone(c.Scopes[1:]) },
		"Extra":        func(c *oauthlink.Connection) { c.Extra = "{}" },
		"RedirectURI":  func(c *oauthlink.Connection) { c.RedirectURI += "/" },
		"Status":       func(c *oauthlink.Connection) { c.Status = store.StatusDisconnected },
		"RefreshedAt":  func(c *oauthlink.Connection) { c.RefreshedAt = c.RefreshedAt.Add(time.Millisecond) },
		"Version":      func(c *oauthlink.Connection) { c.Version++ },
		"CreatedAt":    func(c *oauthlink.Connection) { c.CreatedAt = c.CreatedAt.Add(1) },
		"UpdatedAt":    func(c *oauthlink.Connection) { c.UpdatedAt = time.Time{} },
	}
	retiredEdits := map[string]func(c *oauthlink.Connection){
		"token":   func(c *oauthlink.Connection) { c.Retired[1].Token += "x" },
		"kind":    func(c *oauthlink.Connection) { c.Retired[0].Kind = "access_token" },
		"account": func(c *oauthlink.Connection) { c.Retired[1].AccountID = "acct_other" },
		"since":   func(c *oauthlink.Connection) { c.Retired[1].Since = c.Retired[1].Since.Add(time.Millisecond) },
		"order":   func(c *oauthlink.Connection) { c.Retired[0], c.Retired[1] = c.Retired[1], c.Retired[0] },
		"length":  func(c *oauthlink.Connection) { c.Retired = c.Retired[:1] },
		"empty":   func(c *oauthlink.Connection) { c.Retired = nil },
	}
	for name, edit := range retiredEdits {
		edits["Retired/"+name] = edit
	}
	return edits
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
