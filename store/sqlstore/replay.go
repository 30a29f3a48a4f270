package sqlstore

import (
	"context"
	"time"
)

// sweepInterval is how often Consume deletes expired replay records and
// SQLite lock leases.
const sweepInterval = time.Minute

// Consume records key until expires and reports whether this call was the
// first to do so (store.ReplayGuard). Of concurrent calls with one key,
// on one instance or many, exactly one sees true. A key whose record
// expired is accepted again. An expires that is not in the future records
// nothing and returns true: the record would be forgotten at once.
func (s *Store) Consume(ctx context.Context, key string, expires time.Time) (first bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, s.fail(ctx, "consume", err)
	}
	now := s.now()
	if !expires.After(now) {
		return true, nil
	}
	nowUS := micros(now)
	res, err := s.db.ExecContext(ctx, s.q.consume, s.bin(key), micros(expires), nowUS)
	if err != nil {
		return false, s.fail(ctx, "consume", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, s.fail(ctx, "consume", err)
	}
	if next := s.nextSweep.Load(); nowUS >= next && s.nextSweep.CompareAndSwap(next, micros(now.Add(sweepInterval))) {
		// Opportunistic and bounded: a failure here costs nothing but a
		// later sweep, and does not change Consume's answer.
		_ = s.sweep(ctx, nowUS)
	}
	return n == 1, nil
}

// sweep deletes up to 1000 expired replay records and, on SQLite, the
// expired lock leases.
func (s *Store) sweep(ctx context.Context, nowUS int64) error {
	if _, err := s.db.ExecContext(ctx, s.q.sweepStates, nowUS); err != nil {
		return err
	}
	if s.dialect == SQLite {
		if _, err := s.db.ExecContext(ctx, s.q.sweepLocks, nowUS); err != nil {
			return err
		}
	}
	return nil
}

// Ping checks that the database is reachable and writable
// (store.Pinger) by deleting expired replay records: a real write
// statement, cheap when there is nothing to delete, which a read-only
// replica, a read-only session or file, or a database locked beyond the
// busy timeout refuses.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return s.fail(ctx, "ping", err)
	}
	if err := s.sweep(ctx, micros(s.now())); err != nil {
		return s.fail(ctx, "ping", err)
	}
	return nil
}
