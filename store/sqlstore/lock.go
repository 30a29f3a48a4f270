package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"sync"
	"time"
)

// Lock takes the lock for (provider, owner) across every process sharing
// the database (oauthlink.Locker). It blocks until the lock is held, ctx
// ends (the error wraps ctx.Err()) or the database fails. The lock is
// released by unlock, which may be called more than once, or by itself
// after ttl; once expired and taken by another caller, this caller's unlock
// does not release the new holder's lock. ttl must be positive. ctx bounds
// only the wait: the lock, once held, does not end with ctx. The package
// documentation describes the PostgreSQL and SQLite designs.
func (s *Store) Lock(ctx context.Context, provider, owner string, ttl time.Duration) (unlock func(), err error) {
	if ttl <= 0 {
		return nil, errors.New("sqlstore: lock: ttl must be positive")
	}
	if err := ctx.Err(); err != nil {
		return nil, s.fail(ctx, "lock", err)
	}
	if s.dialect == Postgres {
		unlock, err = s.lockPostgres(ctx, provider, owner, ttl)
	} else {
		unlock, err = s.lockSQLite(ctx, provider, owner, ttl)
	}
	if err != nil {
		return nil, s.fail(ctx, "lock", err)
	}
	return unlock, nil
}

// lockPostgres writes a lease row with one atomic statement: insert, or
// take over an expired lease, and report whether this caller won. The
// expiry is the database's clock plus ttl, so instances with skewed clocks
// agree. A lease, unlike a session-scoped advisory lock, outlives the
// holder's connection: if that connection is killed between the provider's
// answer and the save (failover, a pooler restart, pg_terminate_backend),
// waiters keep waiting while the holder reconnects and saves the rotated
// token, instead of replaying the token the holder just spent.
func (s *Store) lockPostgres(ctx context.Context, provider, owner string, ttl time.Duration) (func(), error) {
	token := rand.Text()
	var b backoff
	for {
		var got string
		err := s.db.QueryRowContext(ctx, s.q.lockAcquirePG, s.bin(provider), s.bin(owner), token, ttl.Microseconds()).Scan(&got)
		switch {
		case err == nil && got == token:
			return s.leaseRelease(provider, owner, token), nil
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return nil, err
		}
		var remainingUS int64
		err = s.db.QueryRowContext(ctx, s.q.lockRemainingPG, s.bin(provider), s.bin(owner)).Scan(&remainingUS)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		if err := b.wait(ctx, time.Duration(max(remainingUS, 0))*time.Microsecond); err != nil {
			return nil, err
		}
	}
}

// leaseRelease deletes the lease only while it still carries token, so a
// holder whose lease expired cannot release a successor's lock.
func (s *Store) leaseRelease(provider, owner, token string) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			// Retried: the first attempt may land on a pooled connection
			// the server already closed. If every attempt fails, the lease
			// still expires after its ttl.
			rctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
			defer cancel()
			for range 3 {
				if _, err := s.db.ExecContext(rctx, s.q.lockRelease, s.bin(provider), s.bin(owner), token); err == nil || rctx.Err() != nil {
					return
				}
			}
		})
	}
}

// lockSQLite writes a lease row inside BEGIN IMMEDIATE, polling with
// backoff while another unexpired lease holds it.
func (s *Store) lockSQLite(ctx context.Context, provider, owner string, ttl time.Duration) (func(), error) {
	token := rand.Text()
	var b backoff
	for {
		var remaining time.Duration
		acquired := false
		err := s.withTx(ctx, func(ctx context.Context, c *sql.Conn) error {
			remaining, acquired = 0, false // withTx may run this again
			var cur string
			var expUS int64
			now := s.now()
			err := c.QueryRowContext(ctx, s.q.lockRead, s.bin(provider), s.bin(owner)).Scan(&cur, &expUS)
			switch {
			case err == nil && expUS > micros(now):
				remaining = fromMicros(expUS).Sub(now)
				return nil
			case err != nil && !errors.Is(err, sql.ErrNoRows):
				return err
			}
			if _, err := c.ExecContext(ctx, s.q.lockWrite, s.bin(provider), s.bin(owner), token,
				micros(now.Add(ttl))); err != nil {
				return err
			}
			acquired = true
			return nil
		})
		if err != nil {
			return nil, err
		}
		if acquired {
			break
		}
		if err := b.wait(ctx, remaining); err != nil {
			return nil, err
		}
	}
	return s.leaseRelease(provider, owner, token), nil
}
