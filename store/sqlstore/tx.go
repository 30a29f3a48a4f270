package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"strings"
	"time"

	"github.com/oauthlink/oauthlink/internal/retry"
)

// querier is what *sql.DB and *sql.Conn have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// withTx runs fn in a transaction on a connection of its own. SQLite's
// transaction begins IMMEDIATE, taking the database's write lock up front
// (a deferred transaction that reads and then writes can fail with
// SQLITE_BUSY without waiting); withTx retries SQLITE_BUSY with backoff
// until ctx ends. fn must be safe to run again.
//
// The transaction is begun with a plain BEGIN statement rather than
// sql.Conn.BeginTx because database/sql cannot begin an IMMEDIATE one. Every
// path that does not commit, a panic in fn included, rolls back; if the
// rollback fails the connection is discarded, never returned to the pool
// inside a transaction.
func (s *Store) withTx(ctx context.Context, fn func(ctx context.Context, c *sql.Conn) error) error {
	var b backoff
	for {
		err := s.tryTx(ctx, fn)
		if err == nil || s.dialect != SQLite || !isBusy(err) {
			return err
		}
		if werr := b.wait(ctx, 0); werr != nil {
			return errors.Join(werr, err)
		}
	}
}

func (s *Store) tryTx(ctx context.Context, fn func(ctx context.Context, c *sql.Conn) error) (err error) {
	c, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	begin := "BEGIN"
	if s.dialect == SQLite {
		begin = "BEGIN IMMEDIATE"
	}
	if _, err := c.ExecContext(ctx, begin); err != nil {
		// A failed or interrupted BEGIN leaves the connection's state in
		// doubt: drop it rather than find out.
		discard(c)
		return err
	}
	committed := false
	defer func() {
		if !committed {
			rollback(ctx, c)
		}
	}()
	if err := fn(ctx, c); err != nil {
		return err
	}
	if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
		return err
	}
	committed = true
	return nil
}

// rollback ends c's transaction, or marks c bad so that database/sql closes
// it instead of reusing a connection that may still be inside one. It runs
// under a fresh bounded context: ctx may already be done.
func rollback(ctx context.Context, c *sql.Conn) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if _, err := c.ExecContext(rctx, "ROLLBACK"); err != nil {
		discard(c)
	}
}

// discard makes database/sql close c when it is released: Conn.Raw treats
// driver.ErrBadConn from its function as a broken connection.
func discard(c *sql.Conn) {
	_ = c.Raw(func(any) error { return driver.ErrBadConn })
}

// isBusy reports whether err is SQLITE_BUSY or SQLITE_LOCKED, from any
// driver: modernc and mattn errors carry a Code method, and every driver's
// message names the condition.
func isBusy(err error) bool {
	var coded interface{ Code() int }
	if errors.As(err, &coded) {
		switch coded.Code() & 0xff {
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return true
		}
	}
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked") ||
		strings.Contains(msg, "database table is locked")
}

// backoff is jittered exponential backoff from 2 ms to 200 ms (the
// module's retry.Backoff).
type backoff struct{ attempt int }

const (
	backoffMin = 2 * time.Millisecond
	backoffMax = 200 * time.Millisecond
)

// wait sleeps for the next backoff step, at most limit when limit > 0, and
// returns ctx.Err() if ctx ends first.
func (b *backoff) wait(ctx context.Context, limit time.Duration) error {
	d := retry.Backoff(b.attempt, backoffMin, backoffMax, 0)
	b.attempt++
	if limit > 0 && d > limit {
		d = limit
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lockKey derives a 64-bit PostgreSQL advisory-lock key from its parts. The
// parts are length-prefixed, so no two different tuples share an encoding;
// SHA-256 makes an accidental collision with another key (ours or another
// application's in the same database) negligible. hashtext would give only
// 32 bits and is not guaranteed stable across PostgreSQL versions.
func lockKey(parts ...string) int64 {
	h := sha256.New()
	var n [8]byte
	h.Write([]byte("oauthlink/sqlstore\x00"))
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return int64(binary.BigEndian.Uint64(h.Sum(nil)))
}
