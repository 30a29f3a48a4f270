package redisstore

import (
	"fmt"
	"strconv"
	"time"
)

// refreshedDigits is the width of a stored RefreshedAt: milliseconds since
// 0001-01-01T00:00:00Z (the zero time.Time), zero-padded, so that stored
// values sort as strings in time order and index members can embed them.
const refreshedDigits = 15

// zeroRefreshed is the stored form of a zero RefreshedAt, and what a record
// written before the field existed reads as.
const zeroRefreshed = "000000000000000"

// zeroUnixMilli is the zero time.Time in Unix milliseconds.
var zeroUnixMilli = time.Time{}.UnixMilli()

// maxRefreshed is the latest RefreshedAt that fits refreshedDigits (in the
// year 31690).
var maxRefreshed = time.UnixMilli(zeroUnixMilli + 999_999_999_999_999).UTC()

// encodeRefreshed returns the stored form of t, truncated to the
// millisecond: refreshedDigits digits. It fails for a time before the zero
// time or after maxRefreshed.
func encodeRefreshed(t time.Time) (string, error) {
	if t.IsZero() {
		return zeroRefreshed, nil
	}
	if t.Before(time.Time{}) || t.After(maxRefreshed) {
		return "", fmt.Errorf("RefreshedAt %s is outside years 1 to 31690", t.Format(time.RFC3339))
	}
	return fmt.Sprintf("%0*d", refreshedDigits, t.UnixMilli()-zeroUnixMilli), nil
}

// decodeRefreshed reads a stored RefreshedAt: "" (a record written before
// the field existed) and zeroRefreshed read as the zero time.
func decodeRefreshed(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || len(v) != refreshedDigits || ms < 0 {
		return time.Time{}, fmt.Errorf("bad refreshed %q", v)
	}
	if ms == 0 {
		return time.Time{}, nil
	}
	return time.UnixMilli(ms + zeroUnixMilli).UTC(), nil
}

// refreshedCutoff returns the stored form that bounds RefreshedBefore t
// from above: a stored RefreshedAt r (whole milliseconds) is before t
// exactly when its stored form sorts before the cutoff. ok is false when
// no stored time is before t; all is true when every one is.
func refreshedCutoff(t time.Time) (cutoff string, ok, all bool) {
	if !t.After(time.Time{}) {
		return "", false, false
	}
	if t.After(maxRefreshed) {
		return "", true, true
	}
	// Before t means at most t rounded up to the millisecond, exclusive.
	ms := t.UnixMilli() - zeroUnixMilli
	if t.Sub(time.UnixMilli(t.UnixMilli())) > 0 {
		ms++
	}
	return fmt.Sprintf("%0*d", refreshedDigits, ms), true, false
}
