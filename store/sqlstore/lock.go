package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/oauthlink/oauthlink/internal/storekit"
	"github.com/oauthlink/oauthlink/store"
)

// Lock takes the lock for (provider, owner) across every process sharing
// the database (store.Locker). It blocks until the lock is held, ctx
// ends (the error wraps ctx.Err()) or the database fails. The lock is a
// lease of ttl: the returned store.Lease renews it (Renew) and
// releases it (Release, which may be called more than once); otherwise it
// ends by itself after ttl. Once expired, and perhaps taken by another
// caller, this lease can no longer be renewed (Renew reports
// store.ErrLeaseLost) and its Release does not release the new
// holder's lock. ttl must be positive. ctx bounds only the wait: the lock,
// once held, does not end with ctx. The package documentation describes
// the PostgreSQL and SQLite designs.
func (s *Store) Lock(ctx context.Context, provider, owner string, ttl time.Duration) (store.Lease, error) {
	if ttl <= 0 {
		return nil, errors.New("sqlstore: lock: ttl must be positive")
	}
	if err := ctx.Err(); err != nil {
		return nil, s.fail(ctx, "lock", err)
	}
	l := &lease{s: s, provider: provider, owner: owner, token: rand.Text()}
	var err error
	if s.dialect == Postgres {
		err = s.lockPostgres(ctx, l, ttl)
	} else {
		err = s.lockSQLite(ctx, l, ttl)
	}
	if err != nil {
		return nil, s.fail(ctx, "lock", err)
	}
	return l, nil
}

// lockPostgres writes a lease row with one atomic statement: insert, or
// take over an expired lease, and report whether this caller won. The
// expiry is the database's clock plus ttl, so instances with skewed clocks
// agree. A lease, unlike a session-scoped advisory lock, outlives the
// holder's connection: if that connection is killed between the provider's
// answer and the save (failover, a pooler restart, pg_terminate_backend),
// waiters keep waiting while the holder reconnects and saves the rotated
// token, instead of replaying the token the holder just spent.
func (s *Store) lockPostgres(ctx context.Context, l *lease, ttl time.Duration) error {
	var b backoff
	for {
		var got string
		sent := time.Now()
		err := s.db.QueryRowContext(ctx, s.q.lockAcquirePG, s.bin(l.provider), s.bin(l.owner), l.token, ttl.Microseconds()).Scan(&got)
		switch {
		case err == nil && got == l.token:
			l.Acquired(sent.Add(ttl))
			return nil
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return err
		}
		var remainingUS int64
		err = s.db.QueryRowContext(ctx, s.q.lockRemainingPG, s.bin(l.provider), s.bin(l.owner)).Scan(&remainingUS)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := b.wait(ctx, time.Duration(max(remainingUS, 0))*time.Microsecond); err != nil {
			return err
		}
	}
}

// lockSQLite writes a lease row inside BEGIN IMMEDIATE, polling with
// backoff while another unexpired lease holds it.
func (s *Store) lockSQLite(ctx context.Context, l *lease, ttl time.Duration) error {
	var b backoff
	for {
		var remaining time.Duration
		var sent time.Time
		acquired := false
		err := s.withTx(ctx, func(ctx context.Context, c *sql.Conn) error {
			remaining, acquired = 0, false // withTx may run this again
			var cur string
			var expUS int64
			// Read before the store's clock, so that the expiry written
			// below (now+ttl) is never earlier than the Deadline.
			sent = time.Now()
			now := s.now()
			err := c.QueryRowContext(ctx, s.q.lockRead, s.bin(l.provider), s.bin(l.owner)).Scan(&cur, &expUS)
			switch {
			case err == nil && expUS > micros(now):
				remaining = fromMicros(expUS).Sub(now)
				return nil
			case err != nil && !errors.Is(err, sql.ErrNoRows):
				return err
			}
			if _, err := c.ExecContext(ctx, s.q.lockWrite, s.bin(l.provider), s.bin(l.owner), l.token,
				micros(now.Add(ttl))); err != nil {
				return err
			}
			acquired = true
			return nil
		})
		if err != nil {
			return err
		}
		if acquired {
			l.Acquired(sent.Add(ttl))
			return nil
		}
		if err := b.wait(ctx, remaining); err != nil {
			return err
		}
	}
}

// lease is a held lock row (store.Lease), identified by its random
// token. LeaseState gives it Deadline: the moment the acquiring or last
// successful renewing statement was sent, plus its ttl, on this process's
// clock.
type lease struct {
	storekit.LeaseState
	s                      *Store
	provider, owner, token string
}

// Renew implements store.Lease: one conditional UPDATE moves the
// expiry to ttl from now (the server's clock on PostgreSQL, Options.Now
// on SQLite) only while the row still carries this lease's token and has
// not expired. No row updated means the lease is lost, for good.
func (l *lease) Renew(ctx context.Context, ttl time.Duration) error {
	if ttl <= 0 {
		return errors.New("sqlstore: renew: ttl must be positive")
	}
	renew := l.s.renewSQLite
	if l.s.dialect == Postgres {
		renew = l.s.renewPostgres
	}
	err := l.LeaseState.Renew(ctx, ttl, func(ctx context.Context) (time.Time, bool, error) {
		sent, n, err := renew(ctx, l, ttl)
		return sent, n == 1, err
	})
	switch {
	case errors.Is(err, store.ErrLeaseLost):
		return fmt.Errorf("sqlstore: renew %q for %q: %w", l.provider, l.owner, err)
	case err != nil:
		return l.s.fail(ctx, "renew", err)
	}
	return nil
}

// renewPostgres extends the lease on the server's clock, and returns when
// the successful statement was sent and the number of rows updated. It
// tries up to three times while ctx lasts, as Release does: the first
// attempt may land on a pooled connection the server already closed (the
// lease outlives its holder's session). A repeated UPDATE is harmless: it
// matches only this lease's unexpired row, and the expiry it writes is
// counted from the later attempt.
func (s *Store) renewPostgres(ctx context.Context, l *lease, ttl time.Duration) (sent time.Time, n int64, err error) {
	for range 3 {
		sent = time.Now()
		var res sql.Result
		if res, err = s.db.ExecContext(ctx, s.q.lockRenewPG, ttl.Microseconds(), s.bin(l.provider), s.bin(l.owner), l.token); err == nil {
			n, err = res.RowsAffected()
			return sent, n, err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return sent, 0, err
}

// renewSQLite extends the lease inside BEGIN IMMEDIATE on the store's
// clock, and returns when the statement was sent and the number of rows
// updated.
func (s *Store) renewSQLite(ctx context.Context, l *lease, ttl time.Duration) (sent time.Time, n int64, err error) {
	err = s.withTx(ctx, func(ctx context.Context, c *sql.Conn) error {
		sent = time.Now() // withTx may run this again
		now := s.now()
		res, err := c.ExecContext(ctx, s.q.lockRenew, micros(now.Add(ttl)), s.bin(l.provider), s.bin(l.owner), l.token, micros(now))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return sent, n, err
}

// Release implements store.Lease: it deletes the row only while it
// still carries this lease's token, so a holder whose lease expired cannot
// release a successor's lock. Only the first call does anything; it is
// best effort, bounded by releaseTimeout, and the lease still expires after
// its ttl if every attempt fails.
func (l *lease) Release() {
	if !l.LeaseState.Release() {
		return
	}
	// Retried: the first attempt may land on a pooled connection the
	// server already closed.
	rctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	for range 3 {
		if _, err := l.s.db.ExecContext(rctx, l.s.q.lockRelease, l.s.bin(l.provider), l.s.bin(l.owner), l.token); err == nil || rctx.Err() != nil {
			return
		}
	}
}
