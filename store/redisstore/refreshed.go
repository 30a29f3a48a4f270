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
// from above: a stored RefreshedAt (whole milliseconds) is before t
// exactly when it sorts before the cutoff. all is true when every stored
// time is before t. A zero RefreshedAt is before any t, as store.Query
// says, even one before the year 1.
func refreshedCutoff(t time.Time) (cutoff string, all bool) {
	if t.After(maxRefreshed) {
		return "", true
	}
	ms := int64(0)
	if t.After(time.Time{}) {
		// Before t means before t rounded up to the millisecond.
		ms = t.UnixMilli() - zeroUnixMilli
		if t.Sub(time.UnixMilli(t.UnixMilli())) > 0 {
			ms++
		}
	}
	return fmt.Sprintf("%0*d", refreshedDigits, max(ms, 1)), false
}

// unixMilliOf converts a stored RefreshedAt to Unix milliseconds, 0 for the
// zero time, as storekit's cursors hold it.
func unixMilliOf(stored string) int64 {
	t, err := decodeRefreshed(stored)
	if err != nil || t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// storedOfUnixMilli inverts unixMilliOf, and reports whether ms is in the
// range a stored RefreshedAt can hold.
func storedOfUnixMilli(ms int64) (string, bool) {
	if ms == 0 {
		return zeroRefreshed, true
	}
	if ms < zeroUnixMilli || ms > maxRefreshed.UnixMilli() {
		return "", false
	}
	return fmt.Sprintf("%0*d", refreshedDigits, ms-zeroUnixMilli), true
}
