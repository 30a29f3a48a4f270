package redisstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oauthlink/oauthlink/internal/retry"
	"github.com/oauthlink/oauthlink/internal/storekit"
	"github.com/oauthlink/oauthlink/store"
)

// acquireScript takes the lock: it sets the key to the caller's value
// with PX ttl if the key is missing, and also when it already holds the
// caller's value, then only moving its expiry to ttl from now. The second
// case is a resent acquire: go-redis sends a command again when the
// connection fails before the reply arrives, so an acquire that succeeded
// but whose reply was lost finds its own value; SET NX would report the
// lock taken and the caller would wait for its own lock to expire. It
// returns 1 when the caller holds the lock, 0 when another value does.
// KEYS: lock. ARGV: value, ttl in milliseconds.
var acquireScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == false then
	redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
	return 1
end
if cur == ARGV[1] then
	redis.call('PEXPIRE', KEYS[1], ARGV[2])
	return 1
end
return 0
`)

// unlockScript deletes the lock only if it still holds the caller's value.
// KEYS: lock. ARGV: value.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0
`)

// renewScript moves the lock's expiry to ttl from now, only if it still
// holds the caller's value: an expired key reads as nil, a successor's
// key holds another value. It returns 1 when renewed, 0 when the lock is
// no longer the caller's. KEYS: lock. ARGV: value, ttl in milliseconds.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// roundTTL rounds ttl up to whole milliseconds, Redis's PX unit, so that
// the store never counts less than the caller asked for.
func roundTTL(ttl time.Duration) time.Duration {
	return (ttl + time.Millisecond - 1).Truncate(time.Millisecond)
}

// Lock takes the lock for (provider, owner) across every process sharing
// the Redis (store.Locker): acquireScript, SET key value PX ttl unless
// another value holds the key, with a random value (an acquire resent by
// go-redis after a lost reply finds its own value and succeeds), retried with jittered exponential backoff (2 ms to 200 ms) until it
// succeeds, ctx ends (the error wraps ctx.Err()) or Redis fails. The lock
// is a lease of ttl: the returned store.Lease renews it (Renew, a
// script that extends the key only while it holds this caller's value)
// and releases it early (Release, a script that deletes it only while it
// holds this caller's value), so a holder whose lock expired and was taken
// can neither renew nor release the new holder's lock. Release may be
// called more than once. ttl must be positive; it is rounded up to whole
// milliseconds. ctx bounds only the wait: the lock, once held, does not
// end with ctx.
func (s *Store) Lock(ctx context.Context, provider, owner string, ttl time.Duration) (store.Lease, error) {
	if ttl <= 0 {
		return nil, errors.New("redisstore: lock: ttl must be positive")
	}
	ttl = roundTTL(ttl)
	l := &lease{s: s, key: s.lockKey(provider, owner), value: rand.Text()}
	var b backoff
	for {
		if err := ctx.Err(); err != nil {
			return nil, fail(ctx, "lock", err)
		}
		sent := time.Now()
		n, err := acquireScript.Run(ctx, s.client, []string{l.key}, l.value, ttl.Milliseconds()).Int64()
		if err != nil {
			return nil, fail(ctx, "lock", err)
		}
		if n == 1 {
			l.Acquired(sent.Add(ttl))
			return l, nil
		}
		if err := b.wait(ctx); err != nil {
			return nil, fail(ctx, "lock", err)
		}
	}
}

// lease is a held lock key (store.Lease), identified by its random
// value. LeaseState gives it Deadline: the moment the SET or the last
// successful renewal was sent, plus its ttl, on this process's clock.
type lease struct {
	storekit.LeaseState
	s          *Store
	key, value string
}

// Renew implements store.Lease: renewScript sets the key's PX to ttl
// (rounded up to whole milliseconds) only while it still holds this
// lease's value. A key that expired or holds another value means the lease
// is lost, for good.
func (l *lease) Renew(ctx context.Context, ttl time.Duration) error {
	if ttl <= 0 {
		return errors.New("redisstore: renew: ttl must be positive")
	}
	ttl = roundTTL(ttl)
	err := l.LeaseState.Renew(ctx, ttl, func(ctx context.Context) (time.Time, bool, error) {
		sent := time.Now()
		n, err := renewScript.Run(ctx, l.s.client, []string{l.key}, l.value, ttl.Milliseconds()).Int64()
		return sent, n == 1, err
	})
	switch {
	case errors.Is(err, store.ErrLeaseLost):
		return fmt.Errorf("redisstore: renew %s: %w", l.key, err)
	case err != nil:
		return fail(ctx, "renew", err)
	}
	return nil
}

// Release implements store.Lease: unlockScript deletes the key only
// while it holds this lease's value. Only the first call does anything; it
// is best effort, bounded by releaseTimeout: if it fails, the lock still
// expires after its ttl.
func (l *lease) Release() {
	if !l.LeaseState.Release() {
		return
	}
	rctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	_ = unlockScript.Run(rctx, l.s.client, []string{l.key}, l.value).Err()
}

// backoff is jittered exponential backoff from 2 ms to 200 ms (the
// module's retry.Backoff).
type backoff struct{ attempt int }

// wait sleeps for the next backoff step and returns ctx.Err() if ctx ends
// first.
func (b *backoff) wait(ctx context.Context) error {
	d := retry.Backoff(b.attempt, 2*time.Millisecond, 200*time.Millisecond, 0)
	b.attempt++
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Consume records key until expires and reports whether this call was the
// first to do so (store.ReplayGuard): consumeScript, SET NX with a
// random value and PX set to the time left until expires, so that Redis
// forgets the key when it expires and the application's and Redis's clocks
// need not agree; a call resent after its reply was lost finds its own
// value and is still the first. Of concurrent calls
// with one key, on one instance or many, exactly one sees true. An expires
// that is not in the future records nothing and returns true.
func (s *Store) Consume(ctx context.Context, key string, expires time.Time) (first bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, fail(ctx, "consume", err)
	}
	left := time.Until(expires)
	if left <= 0 {
		return true, nil
	}
	left = (left + time.Millisecond - 1).Truncate(time.Millisecond)
	n, err := consumeScript.Run(ctx, s.client, []string{s.stateKey(key)}, rand.Text(), left.Milliseconds()).Int64()
	if err != nil {
		return false, fail(ctx, "consume", err)
	}
	return n == 1, nil
}

// consumeScript records a state: it sets the key to the caller's random
// value with PX ttl if the key is missing, and returns 1; a key already
// holding the caller's value also returns 1 (a call resent by go-redis
// after its reply was lost on the wire is still the first), any other
// value 0. KEYS: state. ARGV: value, ttl in milliseconds.
var consumeScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == false then
	redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
	return 1
end
if cur == ARGV[1] then
	return 1
end
return 0
`)

// pingTTL is how long the key Ping writes lives.
const pingTTL = 10 * time.Second

// Ping checks that Redis is reachable and accepts writes (store.Pinger):
// PING and a SET of the prefix's ping key in one pipelined round trip. A
// read-only replica or a server out of memory (maxmemory with noeviction)
// refuses the SET.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fail(ctx, "ping", err)
	}
	pipe := s.client.Pipeline()
	pipe.Ping(ctx)
	pipe.Set(ctx, s.prefix+"ping", time.Now().UTC().Format(time.RFC3339Nano), pingTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return fail(ctx, "ping", err)
	}
	return nil
}
