package storetest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
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
	tests := []struct {
		fault    string
		run      string   // -test.run pattern below TestFaultyStore
		wantFail []string // subtests that must fail
		wantSkip []string // subtests that must be skipped
	}{
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
	for _, tc := range tests {
		t.Run(tc.fault, func(t *testing.T) {
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
		})
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

// tokenStoreOnly hides every optional capability.
type tokenStoreOnly struct{ store.TokenStore }

// faulty wraps memstore with one defect.
type faulty struct {
	*memstore.Store
	fault string

	mu     sync.Mutex
	loaded map[[2]string]*oauthlink.Connection // alias-load: what Load handed out
	saved  map[[2]string]*oauthlink.Connection // alias-save: what Save was given
	saving chan struct{}                       // delete-version-check-then-delete: closed by the next Save
	// alias-retired: the Retired slice each Save was given, which Load
	// hands out as is.
	retired map[[2]string][]store.RetiredToken
}

func (f *faulty) ctx(ctx context.Context) context.Context {
	if f.fault == "ignore-ctx" {
		return context.Background()
	}
	return ctx
}

func (f *faulty) key(provider, owner string) (string, string) {
	if f.fault == "case-insensitive-keys" {
		return strings.ToLower(provider), strings.ToLower(owner)
	}
	return provider, owner
}

func (f *faulty) Load(ctx context.Context, provider, owner string) (*oauthlink.Connection, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := [2]string{provider, owner}
	switch f.fault {
	case "alias-load":
		if c := f.loaded[k]; c != nil {
			return c, nil
		}
	case "alias-save":
		if c := f.saved[k]; c != nil {
			return c, nil
		}
	}
	p, o := f.key(provider, owner)
	c, err := f.Store.Load(f.ctx(ctx), p, o)
	if r, ok := f.retired[k]; ok && err == nil {
		c.Retired = r
	}
	if err == nil && f.fault == "alias-load" {
		if f.loaded == nil {
			f.loaded = map[[2]string]*oauthlink.Connection{}
		}
		f.loaded[k] = c
	}
	return c, err
}

func (f *faulty) List(ctx context.Context, owner string) ([]*oauthlink.Connection, error) {
	_, o := f.key("", owner)
	list, err := f.Store.List(f.ctx(ctx), o)
	if f.fault == "unsorted-list" {
		slices.Reverse(list)
	}
	return list, err
}

func (f *faulty) Save(ctx context.Context, c *oauthlink.Connection) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.loaded, [2]string{c.Provider, c.Owner})
	rec := c.Clone()
	rec.Provider, rec.Owner = f.key(c.Provider, c.Owner)
	switch f.fault {
	case "second-precision":
		rec.Expiry = rec.Expiry.Truncate(time.Second)
	case "drop-retired":
		rec.Retired = nil
	case "retired-sorted":
		slices.SortStableFunc(rec.Retired, func(a, b store.RetiredToken) int { return a.Since.Compare(b.Since) })
	case "zero-expiry-as-epoch":
		if rec.Expiry.IsZero() {
			rec.Expiry = time.Unix(0, 0).UTC()
		}
	case "retired-not-cleared":
		if len(rec.Retired) == 0 && c.Version != 0 {
			if cur, err := f.Store.Load(ctx, rec.Provider, rec.Owner); err == nil {
				rec.Retired = cur.Retired
			}
		}
	}
	err := f.Store.Save(f.ctx(ctx), rec)
	if errors.Is(err, store.ErrVersionConflict) {
		cur, lerr := f.Store.Load(ctx, rec.Provider, rec.Owner)
		switch {
		case f.fault == "blind-write" && c.Version != 0 && lerr == nil:
			rec.Version = cur.Version
			err = f.Store.Save(ctx, rec)
		case f.fault == "create-overwrites" && c.Version == 0 && lerr == nil:
			_ = f.Store.Delete(ctx, rec.Provider, rec.Owner)
			err = f.Store.Save(ctx, rec)
		case f.fault == "update-missing-creates" && errors.Is(lerr, store.ErrNotFound):
			rec.Version = 0
			err = f.Store.Save(ctx, rec)
		}
	}
	if err != nil {
		return err
	}
	c.Version, c.CreatedAt, c.UpdatedAt = rec.Version, rec.CreatedAt, rec.UpdatedAt
	if f.saving != nil {
		close(f.saving)
		f.saving = nil
	}
	if f.fault == "alias-save" {
		if f.saved == nil {
			f.saved = map[[2]string]*oauthlink.Connection{}
		}
		f.saved[[2]string{c.Provider, c.Owner}] = c
	}
	if f.fault == "alias-retired" {
		if f.retired == nil {
			f.retired = map[[2]string][]store.RetiredToken{}
		}
		f.retired[[2]string{c.Provider, c.Owner}] = c.Retired // the caller's backing array
	}
	return nil
}

func (f *faulty) Delete(ctx context.Context, provider, owner string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.loaded, [2]string{provider, owner})
	delete(f.saved, [2]string{provider, owner})
	delete(f.retired, [2]string{provider, owner})
	p, o := f.key(provider, owner)
	return f.Store.Delete(f.ctx(ctx), p, o)
}

func (f *faulty) DeleteVersion(ctx context.Context, provider, owner string, version int64) error {
	f.mu.Lock()
	delete(f.loaded, [2]string{provider, owner})
	delete(f.saved, [2]string{provider, owner})
	if f.fault == "delete-version-check-then-delete" && f.saving == nil {
		f.saving = make(chan struct{})
	}
	saving := f.saving
	f.mu.Unlock()
	p, o := f.key(provider, owner)
	switch f.fault {
	case "delete-version-ignores-version":
		return f.Store.Delete(ctx, p, o)
	case "delete-version-check-then-delete":
		cur, err := f.Store.Load(ctx, p, o)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if cur.Version != version {
			return store.ErrVersionConflict
		}
		// Hold the gap between the check and the delete open until a
		// Save lands in it (bounded: there may be none).
		select {
		case <-saving:
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
		}
		return f.Store.Delete(ctx, p, o)
	}
	return f.Store.DeleteVersion(f.ctx(ctx), p, o, version)
}

func (f *faulty) Ping(ctx context.Context) error { return f.Store.Ping(f.ctx(ctx)) }

func (f *faulty) Consume(ctx context.Context, key string, expires time.Time) (bool, error) {
	switch f.fault {
	case "replay-always-first":
		return true, ctx.Err()
	case "replay-never-expires":
		expires = expires.Add(24 * time.Hour)
	}
	return f.Store.Consume(f.ctx(ctx), key, expires)
}

// toyLocker is a polling lock with one defect, named by its fault:
//
//   - lock-unlocks-any-holder: Release deletes the lock whoever holds it,
//     so a holder whose lock expired releases its successor's.
//   - renew-never-extends: Renew reports success and moves Deadline, but
//     the lock still expires at its first ttl.
//   - renew-any-holder: Renew takes the lock back whoever holds it, even
//     after it expired, was taken or was released.
//
// Everything else about it is correct.
type toyLocker struct {
	*faulty
	mu   sync.Mutex
	held map[[2]string]toyHold
	next int
}

// toyHold is the current holder of one lock.
type toyHold struct {
	id      int
	expires time.Time
}

func (l *toyLocker) Lock(ctx context.Context, provider, owner string, ttl time.Duration) (store.Lease, error) {
	k := [2]string{provider, owner}
	for {
		l.mu.Lock()
		now := time.Now()
		if cur, ok := l.held[k]; !ok || !now.Before(cur.expires) {
			l.next++
			l.held[k] = toyHold{l.next, now.Add(ttl)}
			l.mu.Unlock()
			return &toyLease{l: l, k: k, id: l.next, deadline: now.Add(ttl)}, nil
		}
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// toyLease is a toyLocker lock; its fields are guarded by l.mu.
type toyLease struct {
	l        *toyLocker
	k        [2]string
	id       int
	deadline time.Time
	lost     bool
}

func (e *toyLease) Deadline() time.Time {
	e.l.mu.Lock()
	defer e.l.mu.Unlock()
	return e.deadline
}

func (e *toyLease) Renew(ctx context.Context, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.l.mu.Lock()
	defer e.l.mu.Unlock()
	now := time.Now()
	cur, ok := e.l.held[e.k]
	switch e.l.fault {
	case "renew-never-extends":
		e.deadline = now.Add(ttl)
		return nil
	case "renew-any-holder":
		e.l.held[e.k] = toyHold{e.id, now.Add(ttl)}
		e.deadline = now.Add(ttl)
		return nil
	}
	if e.lost || !ok || cur.id != e.id || !now.Before(cur.expires) {
		e.lost = true
		return store.ErrLeaseLost
	}
	e.l.held[e.k] = toyHold{e.id, now.Add(ttl)}
	e.deadline = now.Add(ttl)
	return nil
}

func (e *toyLease) Release() {
	e.l.mu.Lock()
	defer e.l.mu.Unlock()
	e.lost = true
	if cur, ok := e.l.held[e.k]; ok && (cur.id == e.id || e.l.fault == "lock-unlocks-any-holder") {
		delete(e.l.held, e.k)
	}
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
		"Version":      func(c *oauthlink.Connection) { c.Version++ },
		"CreatedAt":    func(c *oauthlink.Connection) { c.CreatedAt = c.CreatedAt.Add(1) },
		"UpdatedAt":    func(c *oauthlink.Connection) { c.UpdatedAt = time.Time{} },
	}
	retiredEdits := map[string]func(c *oauthlink.Connection){
		"token":  func(c *oauthlink.Connection) { c.Retired[1].Token += "x" },
		"kind":   func(c *oauthlink.Connection) { c.Retired[0].Kind = "access_token" },
		"since":  func(c *oauthlink.Connection) { c.Retired[1].Since = c.Retired[1].Since.Add(time.Millisecond) },
		"order":  func(c *oauthlink.Connection) { c.Retired[0], c.Retired[1] = c.Retired[1], c.Retired[0] },
		"length": func(c *oauthlink.Connection) { c.Retired = c.Retired[:1] },
		"empty":  func(c *oauthlink.Connection) { c.Retired = nil },
	}
	for name, edit := range retiredEdits {
		edits["Retired/"+name] = edit
	}
	for field, edit := range edits {
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

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
