package retry

import (
	"math"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestAfter(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"7", 7 * time.Second},
		{" 7\t", 7 * time.Second},
		{"007", 7 * time.Second},
		{"3599", 3599 * time.Second},
		{"3600", time.Hour},
		{"3601", time.Hour},
		{"9223372036", time.Hour},
		{"9223372037", time.Hour},           // n*time.Second overflows from here
		{"18446744074", time.Hour},          // n*time.Second wraps to 290 ms
		{"9223372036854775807", time.Hour},  // math.MaxInt64
		{"9223372036854775808", time.Hour},  // beyond int64
		{"99999999999999999999", time.Hour}, // beyond uint64
		{"-1", 0},
		{"-99999999999999999999", 0},
		{"+5", 0},
		{"5.5", 0},
		{"5s", 0},
		{"5 6", 0},
		{"0x10", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(90 * time.Second).Format(time.RFC850), 90 * time.Second},
		{now.Add(90 * time.Second).Format(time.ANSIC), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{now.Add(48 * time.Hour).Format(http.TimeFormat), time.Hour},
		{"Fri, 31 Dec 9999 23:59:59 GMT", time.Hour},
		{"Mon, 01 Jan 0001 00:00:00 GMT", 0},
		{"Thu, 01 Jan 2026 00:00:30", 0}, // no zone: not an HTTP-date
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, After(tt.in, now), "Retry-After %q", tt.in)
	}
}

// TestAfterMonotonic: more seconds never mean a shorter wait, across the
// cap and the points where int64 and Duration arithmetic would overflow.
func TestAfterMonotonic(t *testing.T) {
	prev := time.Duration(0)
	for _, n := range []uint64{0, 1, 59, 3599, 3600, 3601, 1 << 32, 9223372036, 9223372037, 18446744073, 18446744074,
		math.MaxInt64 / uint64(time.Second), math.MaxInt64, math.MaxInt64 + 1, math.MaxUint64} {
		got := After(strconv.FormatUint(n, 10), now)
		require.GreaterOrEqual(t, got, prev, "%d seconds", n)
		prev = got
	}
	assert.Equal(t, MaxAfter, After(strconv.FormatUint(math.MaxUint64, 10)+"0", now))
}

func TestBackoff(t *testing.T) {
	const base, limit = 500 * time.Millisecond, 30 * time.Second
	low := func(n time.Duration) time.Duration { return 0 }
	high := func(n time.Duration) time.Duration { return n - 1 }
	tests := []struct {
		name             string
		attempt          int
		base, limit      time.Duration
		after            time.Duration
		wantLo, wantHigh time.Duration
	}{
		{"first retry", 0, base, limit, 0, 250 * time.Millisecond, 500 * time.Millisecond},
		{"doubles", 3, base, limit, 0, 2 * time.Second, 4 * time.Second},
		{"capped at limit", 6, base, limit, 0, 15 * time.Second, limit},
		{"far past the cap", 1 << 20, base, limit, 0, 15 * time.Second, limit},
		{"shift would reach the sign bit", 63, time.Nanosecond, time.Nanosecond, 0, 0, time.Nanosecond},
		{"shift would wrap", 35, base, math.MaxInt64, 0, math.MaxInt64 / 2, math.MaxInt64},
		{"Retry-After raises the wait", 0, base, limit, 10 * time.Second, 10 * time.Second, 10 * time.Second},
		{"Retry-After capped at limit", 0, base, limit, time.Hour, limit, limit},
		{"Retry-After below the backoff", 3, base, limit, time.Second, 2 * time.Second, 4 * time.Second},
		{"negative attempt is the first", -5, base, limit, 0, 250 * time.Millisecond, 500 * time.Millisecond},
		{"base above limit", 0, time.Minute, limit, 0, 15 * time.Second, limit},
		{"zero base", 4, 0, limit, 0, 0, 0},
		{"zero limit", 4, base, 0, time.Second, 0, 0},
		{"negative limit", 4, base, -time.Second, time.Second, 0, 0},
		{"negative Retry-After", 0, base, limit, -time.Hour, 250 * time.Millisecond, 500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.wantLo, backoff(tt.attempt, tt.base, tt.limit, tt.after, low))
			assert.Equal(t, tt.wantHigh, backoff(tt.attempt, tt.base, tt.limit, tt.after, high))
			for range 100 {
				got := Backoff(tt.attempt, tt.base, tt.limit, tt.after)
				require.GreaterOrEqual(t, got, tt.wantLo)
				require.LessOrEqual(t, got, tt.wantHigh)
			}
		})
	}
}

// FuzzRetryAfter: whatever the header says, the wait is never negative,
// never above MaxAfter, and for delay-seconds never shorter than for
// fewer seconds.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "7", "3600", "3601", "18446744074", "99999999999999999999", "-1", "+5",
		"Wed, 21 Oct 2015 07:28:00 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", " 12 ", "1e3"} {
		f.Add(s, int64(1_772_366_400))
	}
	f.Fuzz(func(t *testing.T, v string, unix int64) {
		at := time.Unix(unix, 0)
		got := After(v, at)
		if got < 0 || got > MaxAfter {
			t.Fatalf("After(%q) = %s, out of [0, %s]", v, got, MaxAfter)
		}
		if !isDigits(v) || v == "" {
			return
		}
		if got%time.Second != 0 {
			t.Fatalf("After(%q) = %s, not whole seconds", v, got)
		}
		// One more digit is at least ten times as many seconds; one more
		// second is more: neither may wait less.
		for _, more := range []string{v + "0", v + "9", "1" + v, increment(v)} {
			if m := After(more, at); m < got {
				t.Fatalf("After(%q) = %s < After(%q) = %s", more, m, v, got)
			}
		}
		if n, err := strconv.ParseUint(v, 10, 64); err == nil && n <= uint64(MaxAfter/time.Second) && got != time.Duration(n)*time.Second {
			t.Fatalf("After(%q) = %s, want %d s", v, got, n)
		}
	})
}

// increment adds one to a decimal string of any length.
func increment(v string) string {
	b := []byte(v)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < '9' {
			b[i]++
			return string(b)
		}
		b[i] = '0'
	}
	return "1" + string(b)
}

// FuzzBackoff: for every attempt, base, limit and Retry-After the wait lies
// in [0, limit] and is at least min(after, limit).
func FuzzBackoff(f *testing.F) {
	f.Add(0, int64(500*time.Millisecond), int64(30*time.Second), int64(0))
	f.Add(63, int64(1), int64(1), int64(0))
	f.Add(35, int64(500*time.Millisecond), int64(math.MaxInt64), int64(time.Hour))
	f.Add(-1, int64(-1), int64(-1), int64(-1))
	f.Fuzz(func(t *testing.T, attempt int, base, limit, after int64) {
		got := Backoff(attempt, time.Duration(base), time.Duration(limit), time.Duration(after))
		if got < 0 || (limit > 0 && got > time.Duration(limit)) || (limit <= 0 && got != 0) {
			t.Fatalf("Backoff(%d, %d, %d, %d) = %d", attempt, base, limit, after, got)
		}
		if limit > 0 && got < min(time.Duration(after), time.Duration(limit)) {
			t.Fatalf("Backoff(%d, %d, %d, %d) = %d ignores Retry-After", attempt, base, limit, after, got)
		}
	})
}
