package storetest

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/store"
)

// Precision is the time precision a store must keep for Expiry, CreatedAt
// and UpdatedAt: the suite's times are whole milliseconds and must read back
// Equal.
const Precision = time.Millisecond

// ClockSlack is how far the CreatedAt and UpdatedAt a store sets may be from
// the test's clock. A store that injects a fake clock should give Run a
// factory that uses the real one.
const ClockSlack = time.Minute

// waitTimeout bounds every wait in the suite: a call or goroutine that has
// not finished by then fails the test instead of hanging it.
const waitTimeout = 30 * time.Second

// Run runs the conformance suite against the stores newStore returns. Each
// subtest calls newStore once and expects a fresh, empty store that no other
// subtest uses; newStore registers the store's cleanup with t.Cleanup. See
// the package documentation for an example and for what the suite expects
// where the contract leaves room.
func Run(t *testing.T, newStore func(t *testing.T) store.TokenStore) {
	t.Helper()
	s := suite{newStore: newStore}
	t.Run("NotFound", s.testNotFound)
	t.Run("RoundTrip", s.testRoundTrip)
	t.Run("Version", s.testVersion)
	t.Run("Delete", s.testDelete)
	t.Run("List", s.testList)
	t.Run("OddKeys", s.testOddKeys)
	t.Run("BigValues", s.testBigValues)
	t.Run("Retired", s.testRetired)
	t.Run("ZeroExpiry", s.testZeroExpiry)
	t.Run("ConcurrentWriters", s.testConcurrentWriters)
	t.Run("ExactlyOneWinner", s.testExactlyOneWinner)
	t.Run("AtomicSave", s.testAtomicSave)
	t.Run("CancelledContext", s.testCancelledContext)
	t.Run("NoAliasing", s.testNoAliasing)
	t.Run("VersionDeleter", s.testVersionDeleter)
	t.Run("Locker", s.testLocker)
	t.Run("ReplayGuard", s.testReplayGuard)
	t.Run("Pinger", s.testPinger)
	t.Run("Scanner", s.testScanner)
}

// suite carries the factory to every subtest.
type suite struct {
	newStore func(t *testing.T) store.TokenStore
}

// store returns a fresh store for t.
func (s suite) store(t *testing.T) store.TokenStore {
	t.Helper()
	st := s.newStore(t)
	require.NotNil(t, st, "storetest: newStore returned nil")
	return st
}

// capability returns st as the optional capability T, skipping t when st
// does not implement it.
func capability[T any](t *testing.T, st store.TokenStore) T {
	t.Helper()
	c, ok := st.(T)
	if !ok {
		t.Skipf("store does not implement %s", reflect.TypeFor[T]())
	}
	return c
}

// testContext returns a context for the store calls of t, bounded so that a
// hung store fails the test.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// group runs goroutines for one test and joins them: wait fails the test
// when they have not finished within waitTimeout, and the test's cleanup
// waits for them again so that none outlives the test even after a failure.
type group struct {
	t  *testing.T
	wg sync.WaitGroup
}

// newGroup returns a group whose goroutines are joined before t's earlier
// cleanups (such as the store's) run. The goroutines' contexts derive from
// t.Context(), which ends before cleanup, so a correct store lets them
// return at once; one that ignores its context is reported, not waited on
// forever.
func newGroup(t *testing.T) *group {
	g := &group{t: t}
	t.Cleanup(func() {
		done := make(chan struct{})
		go func() { g.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(waitTimeout):
			t.Errorf("storetest: goroutines still inside store calls %s after the test ended and its context was cancelled", waitTimeout)
		}
	})
	return g
}

// Go runs f in a new goroutine. f must not call t.FailNow (require); it
// reports through assert or a channel.
func (g *group) Go(f func()) { g.wg.Go(f) }

// wait blocks until every goroutine has returned, failing the test (and
// stopping it) after waitTimeout.
func (g *group) wait(what string) {
	g.t.Helper()
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		g.t.Fatalf("storetest: %s did not finish within %s", what, waitTimeout)
	}
}

// race runs every call in a goroutine of its own, all released at once so
// that they reach the store together, and waits for them as group.wait
// does. The calls must not call t.FailNow (require).
func race(t *testing.T, what string, calls ...func()) {
	t.Helper()
	start := make(chan struct{})
	g := newGroup(t)
	for _, call := range calls {
		g.Go(func() {
			<-start
			call()
		})
	}
	close(start)
	g.wait(what)
}

// times returns n calls of f, with i from 0 to n-1, for race.
func times(n int, f func(i int)) []func() {
	calls := make([]func(), n)
	for i := range calls {
		calls[i] = func() { f(i) }
	}
	return calls
}

// succeeded returns the indexes of the calls whose error is nil, checking
// that every other one failed with store.ErrVersionConflict. who names
// the calls in failure messages ("saver").
func succeeded(t *testing.T, errs []error, round int, who string) []int {
	t.Helper()
	var ok []int
	for i, err := range errs {
		if err == nil {
			ok = append(ok, i)
			continue
		}
		assert.ErrorIs(t, err, store.ErrVersionConflict, "round %d, %s %d", round, who, i)
	}
	return ok
}
