package qonto

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the header carrying a webhook's signature:
// t={unix seconds},v1={hex HMAC-SHA256 of "{t}.{raw body}"}, keyed with the
// subscription's secret.
const SignatureHeader = "X-Qonto-Signature"

// Bounds on a webhook signature's timestamp.
const (
	// SignatureMaxAge is how old a signature may be: an older one is a
	// replay, or a delivery too late to trust.
	SignatureMaxAge = 5 * time.Minute
	// SignatureMaxSkew is how far in the future a signature's timestamp
	// may be, for clocks that disagree a little.
	SignatureMaxSkew = 30 * time.Second
)

// ErrSignature: a webhook's X-Qonto-Signature is missing, malformed, too
// old, too far in the future, or made with none of the secrets. The
// message says which, never a secret or a signature.
var ErrSignature = errors.New("qonto: invalid webhook signature")

// VerifySignature checks header, a webhook's X-Qonto-Signature, against
// the raw request body: the timestamp t must be at most SignatureMaxAge
// before now and at most SignatureMaxSkew after it, and one of the header's
// v1 values must be the hex HMAC-SHA256 of "{t}.{body}" under one of
// secrets (several are accepted while a subscription's secret is rotated).
// Signatures are compared in constant time. An error wraps ErrSignature.
func VerifySignature(header string, body []byte, now time.Time, secrets ...[]byte) error {
	ts, sigs, err := parseSignature(header)
	if err != nil {
		return err
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || t <= 0 {
		return fmt.Errorf("%w: bad timestamp", ErrSignature)
	}
	at := time.Unix(t, 0)
	switch {
	case now.Sub(at) > SignatureMaxAge:
		return fmt.Errorf("%w: timestamp older than %s", ErrSignature, SignatureMaxAge)
	case at.Sub(now) > SignatureMaxSkew:
		return fmt.Errorf("%w: timestamp in the future", ErrSignature)
	}
	for _, secret := range secrets {
		if len(secret) == 0 {
			continue
		}
		want := sign(secret, ts, body)
		for _, sig := range sigs {
			if hmac.Equal(sig, want) {
				return nil
			}
		}
	}
	return fmt.Errorf("%w: no secret matches", ErrSignature)
}

// parseSignature splits "t=...,v1=...[,v1=...]" into the timestamp and the
// decoded v1 signatures; unknown keys are ignored.
func parseSignature(header string) (ts string, sigs [][]byte, err error) {
	if header == "" {
		return "", nil, fmt.Errorf("%w: missing %s", ErrSignature, SignatureHeader)
	}
	if len(header) > 1024 {
		return "", nil, fmt.Errorf("%w: header too long", ErrSignature)
	}
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			if ts != "" {
				return "", nil, fmt.Errorf("%w: two timestamps", ErrSignature)
			}
			ts = v
		case "v1":
			if b, derr := hex.DecodeString(v); derr == nil && len(b) == sha256.Size {
				sigs = append(sigs, b)
			}
		}
	}
	if ts == "" || len(sigs) == 0 {
		return "", nil, fmt.Errorf("%w: no timestamp or no v1 signature", ErrSignature)
	}
	return ts, sigs, nil
}

// sign is the HMAC-SHA256 of "{ts}.{body}" under secret.
func sign(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}
