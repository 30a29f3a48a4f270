// Package storetest is the conformance suite every store.TokenStore
// runs: one Run call checks a store against the contract written on
// store.TokenStore and on the optional VersionDeleter, Locker,
// ReplayGuard, Pinger and Scanner capabilities, in the manner of gocloud's
// drivertest and x/net's nettest. Scanner's checks cover every Query
// filter (PendingRevocation included, alone and with the others), paging
// and cursors, and records that change, move into or out of a query, or
// go while a scan pages.
//
// # Using it
//
// A store's tests call Run with a factory that returns a fresh, empty,
// isolated store (a new schema, database number or key prefix) and registers
// its own cleanup with t.Cleanup. The suite calls the factory once in every
// test that needs a store, and never shares a store between two tests.
// memstore's own test is the smallest complete example:
//
//	storetest.Run(t, func(t *testing.T) store.TokenStore { return memstore.New() })
//
// A store backed by a server looks like this:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.TokenStore {
//			db := openEmptyTestDB(t) // your helper: a fresh schema on loopback
//			st, err := sqlstore.New(db)
//			require.NoError(t, err)
//			t.Cleanup(func() { st.Close() })
//			return st
//		})
//	}
//
//	// goleak checks that neither the store nor the suite leaves a
//	// goroutine behind (the suite joins every goroutine it starts).
//	func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
//
// NewConnection, AssertConnectionEqual and OddKeys are exported for a
// store's own tests.
//
// Run the tests with -race. The capability subtests (VersionDeleter,
// Locker, ReplayGuard, Pinger, Scanner) run when the store returned by the factory
// implements the interface and are skipped otherwise. The suite takes a few
// seconds: the lock, lease and replay expiry checks wait for short real
// deadlines (about 200 ms each), and every wait is bounded, failing with a
// clear message rather than hanging. No check relies on a call being fast:
// a check that a stalled machine could spoil (a renewal that reached the
// store after the lease's Deadline) starts again, a bounded number of
// times, instead of failing.
//
// # What the suite expects beyond the interface's doc comments
//
// Some points the contract leaves to judgement; the suite settles them so
// that every store behaves alike:
//
//   - Times: a store keeps at least Precision (millisecond) precision. The
//     suite's own times are whole milliseconds and are compared with
//     time.Time.Equal, so any location may be returned. Times read back
//     carry no monotonic clock reading, as if they came from disk.
//   - After a successful Save, the caller's Connection equals what Load
//     returns next, CreatedAt and UpdatedAt included. A store that keeps
//     less precision than the Go clock (PostgreSQL keeps microseconds) sets
//     those fields on c to the value it stored, not to a finer one.
//     CreatedAt and UpdatedAt come from a clock within ClockSlack of the
//     test's own clock, which catches time-zone mix-ups.
//   - Load returns a nil Connection with its error.
//   - Save with a non-zero Version when no record exists (it was deleted)
//     is ErrVersionConflict, like any other version mismatch; a negative
//     Version is an error and stores nothing.
//   - Create sets Version 1, so after n successful saves a record's
//     Version is n.
//   - Nil and empty Scopes are the same value, and so are nil and empty
//     Retired lists. A non-empty Retired list reads back in its order
//     (the suite's lists are not sorted by Since), with its tokens and
//     kinds byte for byte and Since at Precision, and an update writes
//     the whole list: entries it drops are gone, and an empty list clears
//     it.
//   - A zero Expiry reads back as the zero time (IsZero), not as the Unix
//     epoch, also after an update from a non-zero one.
//   - List orders by provider in byte order, as strings.Compare does (a SQL
//     store sorts with COLLATE "C"; a locale collation puts the odd keys in
//     another order).
//   - Keys are valid UTF-8 without NUL bytes in the suite (see OddKeys),
//     although the contract says any byte sequence.
//   - VersionDeleter: the suite never asks a store to tell a record
//     deleted and created again apart from the old one when both have the
//     same version (the contract lets it delete the new one); it checks
//     that a re-created record at another version survives, also while
//     racing. A version below 1 must fail with an error other than
//     ErrVersionConflict.
//   - Locker: a lock needs no stored record (the suite locks connections
//     that were never saved), and locks on different connections never
//     block each other. Release releases only the lease it came from.
//     After the lease expired and another caller took it, the first
//     holder's Release must not release the new holder's lock (Redis:
//     compare an owner value before deleting). Release may be called more
//     than once, also concurrently.
//   - Lease: Deadline, after Lock or a successful Renew, lies between the
//     test's clock readings just before and just after that call, plus
//     the ttl (the suite's ttls are whole milliseconds, so a store that
//     rounds them up to milliseconds passes). A lease renewed every
//     quarter of a short ttl stays held past that ttl, and one renewed
//     with a long ttl outlasts its first one. A Renew that returned before Deadline must not report the
//     lease lost. Renew after the lease expired, was taken by another
//     caller or was released wraps store.ErrLeaseLost, and every
//     later Renew does too; neither it nor Release touches the next
//     holder's lock. A Renew with a done ctx is not ErrLeaseLost and
//     leaves the lease held. Renew and Deadline are safe for concurrent
//     use.
//   - ReplayGuard: the suite records keys with an expiry in the future
//     only. Expiry is checked by waiting for a short real expiry to pass,
//     then polling for at most a few seconds (a store may count from the
//     moment the call reached it), never by asserting how fast a call is.
package storetest
