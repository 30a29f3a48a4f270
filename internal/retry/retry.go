// Package retry holds the module's one reading of Retry-After and its one
// capped, jittered exponential backoff, so the token endpoint, revocation,
// Mollie's API client and the stores' lock waits cannot drift apart.
//
// Both are written to saturate rather than overflow: a provider's header and
// a configured number of attempts are untrusted sizes, and time.Duration
// arithmetic wraps around silently (n*time.Second for n = 18446744074 is
// 290 ms; RetryBase<<63 is negative).
package retry

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// MaxAfter caps what After returns: a provider may ask for a pause, but an
// hour is the longest any caller waits on its word.
const MaxAfter = time.Hour

// After reads a Retry-After field value (RFC 9110 §10.2.3) as the time to
// wait from now: delay-seconds (1*DIGIT, any number of digits) or an
// HTTP-date. Absent, malformed (a sign, a fraction, trailing text), negative
// or past values give 0; anything longer than MaxAfter gives MaxAfter. The
// result is never negative, never above MaxAfter, and never decreases as
// the number of seconds grows.
func After(v string, now time.Time) time.Duration {
	v = strings.Trim(v, " \t")
	if v == "" {
		return 0
	}
	if isDigits(v) {
		// Accumulate with saturation: once past the cap more digits cannot
		// lower the result, so the loop never multiplies into an overflow.
		const capSeconds = int64(MaxAfter / time.Second)
		var n int64
		for i := 0; i < len(v); i++ {
			n = n*10 + int64(v[i]-'0')
			if n > capSeconds {
				return MaxAfter
			}
		}
		return time.Duration(n) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	// Time.Sub saturates at the extremes of Duration instead of wrapping.
	return min(max(t.Sub(now), 0), MaxAfter)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Backoff returns how long to wait before the retry that follows attempt
// (0 for the first failure): base doubled attempt times, capped at limit,
// drawn at random from its upper half (so peers that failed together do
// not retry together), then raised to after (a parsed Retry-After) and
// capped at limit again. The result lies in [0, limit] for every input:
// the doubling saturates instead of shifting into the sign bit, and a
// non-positive base or limit gives 0.
func Backoff(attempt int, base, limit, after time.Duration) time.Duration {
	return backoff(attempt, base, limit, after, rand.N[time.Duration])
}

// backoff is Backoff with the jitter source injected: draw(n) returns a
// value in [0, n).
func backoff(attempt int, base, limit, after time.Duration, draw func(time.Duration) time.Duration) time.Duration {
	if limit <= 0 {
		return 0
	}
	d := Exponential(attempt, base, limit)
	lo := d / 2
	d = lo + draw(d-lo+1) // in [d/2, d]
	return min(max(d, after), limit)
}

// Exponential returns base doubled attempt times, capped at limit, without
// jitter: for a single process retrying its own write, where there are no
// peers to spread out and a predictable count of attempts matters. 0 when
// base or limit is not positive, base when attempt is not positive (capped
// at limit).
func Exponential(attempt int, base, limit time.Duration) time.Duration {
	if base <= 0 || limit <= 0 {
		return 0
	}
	d := min(base, limit)
	for range max(attempt, 0) {
		if d >= limit/2 {
			return limit
		}
		d *= 2
	}
	return d
}

// Sleep waits d or until ctx ends, and returns ctx's error in that case:
// the module's one wait between attempts.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
