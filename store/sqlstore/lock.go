package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
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

// lockPostgres holds pg_advisory_xact_lock in a transaction on a dedicated
// connection until unlock or ttl.
func (s *Store) lockPostgres(ctx context.Context, provider, owner string, ttl time.Duration) (func(), error) {
	c, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	held := false
	defer func() {
		// Every path that does not hand the lock to the caller, a panic
		// included, ends the transaction and returns the connection.
		if !held {
			rollback(ctx, c)
			c.Close()
		}
	}()
	// One simple-protocol round trip, so the session is never idle between
	// setting the timeout and waiting. Both numbers are integers formatted
	// here (SET takes no bind parameters); a timeout of 0 would disable it.
	ms := max(ttl.Milliseconds(), 1)
	key := lockKey("lock", s.schema, s.prefix, provider, owner)
	if _, err := c.ExecContext(ctx, fmt.Sprintf(
		"BEGIN; SET LOCAL idle_in_transaction_session_timeout = %d; SELECT pg_advisory_xact_lock(%d)", ms, key)); err != nil {
		return nil, err
	}
	held = true

	var once sync.Once
	release := func() {
		once.Do(func() {
			rollback(context.Background(), c)
			c.Close()
		})
	}
	// Release at ttl even if the holder never calls unlock, so that the
	// pooled connection comes back; the server-side timeout covers a
	// process that is frozen rather than forgetful.
	if s.noLocalExpiry {
		return release, nil
	}
	timer := time.AfterFunc(ttl, release)
	return func() {
		timer.Stop()
		release()
	}, nil
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
	var once sync.Once
	return func() {
		once.Do(func() {
			// Best effort: if the DELETE fails, the lease still expires.
			rctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
			defer cancel()
			_, _ = s.db.ExecContext(rctx, s.q.lockRelease, s.bin(provider), s.bin(owner), token)
		})
	}, nil
}
