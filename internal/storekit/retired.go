package storekit

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/oauthlink/oauthlink/store"
)

// SinceFormat is how a driver stores RetiredToken.Since: each driver writes
// it as it writes every other time. Rows and records already written use
// these forms, so they must never change.
type SinceFormat int

const (
	// SinceMicros is the field "since_us": microseconds since the Unix
	// epoch, a JSON number (sqlstore). It reads back in UTC.
	SinceMicros SinceFormat = iota + 1
	// SinceRFC3339 is the field "since": RFC 3339 text with nanoseconds, in
	// UTC, a JSON string (redisstore).
	SinceRFC3339
)

// storedRetired is the stored form of one store.RetiredToken, an element
// of a JSON array. The token is a byte string (base64 in JSON), so any
// bytes round-trip exactly. Exactly one of the Since fields is set, as the
// SinceFormat says; the field order is that of the stored form.
type storedRetired struct {
	Token   []byte  `json:"token"`
	Kind    string  `json:"kind"`
	SinceUS *int64  `json:"since_us,omitempty"`
	Since   *string `json:"since,omitempty"`
	// Account is RetiredToken.AccountID, absent when empty (and in
	// everything written before it existed).
	Account string `json:"account,omitempty"`
}

// EncodeRetired returns the stored form of rs: "" for no retired grant, a
// JSON array otherwise, with Since in format f. Kinds must be valid UTF-8.
func EncodeRetired(rs []store.RetiredToken, f SinceFormat) (string, error) {
	if len(rs) == 0 {
		return "", nil
	}
	out := make([]storedRetired, len(rs))
	for i, r := range rs {
		if !utf8.ValidString(r.Kind) || !utf8.ValidString(r.AccountID) {
			return "", fmt.Errorf("retired token %d: kind or account is not valid UTF-8", i)
		}
		out[i] = storedRetired{Token: []byte(r.Token.Reveal()), Kind: r.Kind, Account: r.AccountID}
		switch f {
		case SinceMicros:
			us := r.Since.UnixMicro()
			out[i].SinceUS = &us
		case SinceRFC3339:
			s := r.Since.UTC().Format(time.RFC3339Nano)
			out[i].Since = &s
		default:
			return "", fmt.Errorf("encode retired tokens: unknown since format %d", f)
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", fmt.Errorf("encode retired tokens: %w", err)
	}
	return string(b), nil
}

// DecodeRetired reads the stored form written by EncodeRetired with the
// same format: nil for "" (also what a record written before retired
// grants were stored holds) and for an empty array. An element without
// "account" (written before AccountID existed) reads with AccountID "".
// A missing since_us reads as the Unix epoch; a missing since is an error.
func DecodeRetired(v string, f SinceFormat) ([]store.RetiredToken, error) {
	if v == "" {
		return nil, nil
	}
	if f != SinceMicros && f != SinceRFC3339 {
		return nil, fmt.Errorf("decode retired tokens: unknown since format %d", f)
	}
	var stored []storedRetired
	if err := json.Unmarshal([]byte(v), &stored); err != nil {
		return nil, fmt.Errorf("decode retired tokens: %w", err)
	}
	if len(stored) == 0 {
		return nil, nil
	}
	rs := make([]store.RetiredToken, len(stored))
	for i, r := range stored {
		since, err := r.since(f)
		if err != nil {
			return nil, fmt.Errorf("decode retired token %d: since: %w", i, err)
		}
		rs[i] = store.RetiredToken{Token: store.Secret(r.Token), Kind: r.Kind, Since: since, AccountID: r.Account}
	}
	return rs, nil
}

// since reads the Since field of format f: a missing since_us is 0, a
// missing since is "", which does not parse.
func (r storedRetired) since(f SinceFormat) (time.Time, error) {
	if f == SinceMicros {
		var us int64
		if r.SinceUS != nil {
			us = *r.SinceUS
		}
		return time.UnixMicro(us).UTC(), nil
	}
	var s string
	if r.Since != nil {
		s = *r.Since
	}
	return time.Parse(time.RFC3339Nano, s)
}
