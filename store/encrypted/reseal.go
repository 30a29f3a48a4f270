package encrypted

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oauthlink/oauthlink/store"
)

// resealLockTTL is the lease Reseal takes on each connection: ample for
// one read and one write.
const resealLockTTL = 30 * time.Second

// Reseal rewrites, through s, every connection of the given owners that is
// not yet stored in the current format with s's newest key: records
// written before encryption was enabled (s must then have
// Options.MigratePlaintext), records of the previous format, and records
// sealed with an older key. Run it until it reports 0 to finish a
// plaintext migration, a format upgrade or a key rotation without waiting
// for each connection's next write; it is safe to run again and while the
// app runs. s is a store made by New, or one that wraps it (through an
// Unwrap() store.TokenStore method); the store can only list by owner, so
// the caller names the owners.
//
// Each record is rewritten with compare-and-swap, under the connection's
// store.Locker lease when the inner store has one, so it never overwrites
// a concurrent refresh or reconnect (it waits for them, within ctx). It
// returns how many records it rewrote, and every failure joined, each
// naming its connection (a record that cannot be read, e.g. unencrypted
// without MigratePlaintext, is reported and left as it is); ctx ending
// stops it.
func Reseal(ctx context.Context, s store.TokenStore, owners ...string) (resealed int, err error) {
	ss, ok := store.Capability[*Store](s)
	if !ok {
		return 0, errors.New("oauthlink: encrypted.Reseal needs a store made by encrypted.New, or one that wraps it")
	}
	var errs []error
	for _, owner := range owners {
		raws, err := ss.inner.List(ctx, owner)
		if err != nil {
			errs = append(errs, fmt.Errorf("oauthlink: reseal: listing the connections of %q: %w", owner, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		for _, raw := range raws {
			if !ss.stale(raw) {
				continue
			}
			done, err := ss.reseal(ctx, raw.Provider, owner)
			if err != nil {
				errs = append(errs, fmt.Errorf("oauthlink: reseal: connection %q/%q: %w", raw.Provider, owner, err))
				if ctx.Err() != nil {
					return resealed, errors.Join(errs...)
				}
			}
			if done {
				resealed++
			}
		}
	}
	return resealed, errors.Join(errs...)
}

// stale reports whether a stored record has a value that is not sealed in
// the current format with the current key.
func (s *Store) stale(raw *store.Connection) bool {
	want := sealPrefix + s.current + ":"
	for _, r := range secretRefs(raw) {
		if v := r.v.Reveal(); v != "" && !strings.HasPrefix(v, want) {
			return true
		}
	}
	return false
}

// reseal rewrites one record if it is still stale, under its lease when
// the inner store has a store.Locker, and reports whether it wrote.
func (s *Store) reseal(ctx context.Context, provider, owner string) (bool, error) {
	if l, ok := store.Capability[store.Locker](s.inner); ok {
		lease, err := l.Lock(ctx, provider, owner, resealLockTTL)
		if err != nil {
			return false, fmt.Errorf("oauthlink: token store failed: connection lock: %w", err)
		}
		defer lease.Release()
		// Write only while the lease is certainly ours, with the margin
		// the Connector keeps.
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, lease.Deadline().Add(-resealLockTTL/10))
		defer cancel()
	}
	// Without a lease a concurrent write can land between the read and
	// the write: read again and retry, a few times.
	for range 3 {
		raw, err := s.inner.Load(ctx, provider, owner)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil // deleted meanwhile
		}
		if err != nil {
			return false, err
		}
		if !s.stale(raw) {
			return false, nil // written meanwhile
		}
		c, err := s.openConn(raw)
		if err != nil {
			return false, err
		}
		err = s.Save(ctx, c)
		if errors.Is(err, store.ErrVersionConflict) {
			continue
		}
		return err == nil, err
	}
	return false, fmt.Errorf("%w: written concurrently on every attempt; run again", store.ErrVersionConflict)
}
