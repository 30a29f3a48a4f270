package redisstore

import (
	"context"
	"crypto/rand"
	"errors"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// unlockScript deletes the lock only if it still holds the caller's value.
// KEYS: lock. ARGV: value.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0
`)

// Lock takes the lock for (provider, owner) across every process sharing
// the Redis (oauthlink.Locker): SET key value NX PX ttl with a random value,
// retried with jittered exponential backoff (2 ms to 200 ms) until it
// succeeds, ctx ends (the error wraps ctx.Err()) or Redis fails. The lock
// expires after ttl; unlock releases it early only while it still holds
// this caller's value, so a holder whose lock expired and was taken cannot
// release the new holder's lock. unlock may be called more than once.
// ttl must be positive; it is rounded up to whole milliseconds. ctx bounds
// only the wait: the lock, once held, does not end with ctx.
func (s *Store) Lock(ctx context.Context, provider, owner string, ttl time.Duration) (unlock func(), err error) {
	if ttl <= 0 {
		return nil, errors.New("redisstore: lock: ttl must be positive")
	}
	ttl = (ttl + time.Millisecond - 1).Truncate(time.Millisecond)
	key, value := s.lockKey(provider, owner), rand.Text()
	var b backoff
	for {
		if err := ctx.Err(); err != nil {
			return nil, fail(ctx, "lock", err)
		}
		ok, err := s.client.SetNX(ctx, key, value, ttl).Result()
		if err != nil {
			return nil, fail(ctx, "lock", err)
		}
		if ok {
			break
		}
		if err := b.wait(ctx); err != nil {
			return nil, fail(ctx, "lock", err)
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			// Best effort: if the release fails, the lock still expires.
			rctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
			defer cancel()
			_ = unlockScript.Run(rctx, s.client, []string{key}, value).Err()
		})
	}, nil
}

// backoff is jittered exponential backoff from 2 ms to 200 ms.
type backoff struct{ next time.Duration }

// wait sleeps for the next backoff step and returns ctx.Err() if ctx ends
// first.
func (b *backoff) wait(ctx context.Context) error {
	const lo, hi = 2 * time.Millisecond, 200 * time.Millisecond
	if b.next == 0 {
		b.next = lo
	}
	d := b.next/2 + mrand.N(b.next/2+1)
	b.next = min(2*b.next, hi)
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
// first to do so (oauthlink.ReplayGuard): SET NX with PX set to the time
// left until expires, so that Redis forgets the key when it expires and
// the application's and Redis's clocks need not agree. Of concurrent calls
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
	first, err = s.client.SetNX(ctx, s.stateKey(key), "1", left).Result()
	if err != nil {
		return false, fail(ctx, "consume", err)
	}
	return first, nil
}

// pingTTL is how long the key Ping writes lives.
const pingTTL = 10 * time.Second

// Ping checks that Redis is reachable and accepts writes (oauthlink.Pinger):
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
