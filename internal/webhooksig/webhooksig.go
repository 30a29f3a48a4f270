// Package webhooksig checks and makes the webhook signatures Qonto and
// Stripe share: a header "t={unix seconds},v1={hex HMAC-SHA256 of
// "{t}.{raw body}"}" keyed with the endpoint's secret, where several v1
// values may come (one per secret while it is rotated) and other keys are
// ignored. The provider packages wrap its errors in their own sentinels
// and name their own header.
package webhooksig

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

// maxHeader bounds the header Verify parses.
const maxHeader = 1024

// Verify checks header, as sent in the header named name, against the raw
// body: the timestamp must be at most maxAge before now and at most
// maxSkew after it, and one of the v1 values must be the signature of
// body under one of secrets (empty ones are skipped), compared in
// constant time. Its errors say what is wrong, never a secret or a
// signature.
func Verify(name, header string, body []byte, now time.Time, maxAge, maxSkew time.Duration, secrets [][]byte) error {
	ts, sigs, err := parse(name, header)
	if err != nil {
		return err
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || t <= 0 {
		return errors.New("bad timestamp")
	}
	at := time.Unix(t, 0)
	switch {
	case now.Sub(at) > maxAge:
		return fmt.Errorf("timestamp older than %s", maxAge)
	case at.Sub(now) > maxSkew:
		return errors.New("timestamp in the future")
	}
	for _, secret := range secrets {
		if len(secret) == 0 {
			continue
		}
		want := mac(secret, ts, body)
		for _, sig := range sigs {
			if hmac.Equal(sig, want) {
				return nil
			}
		}
	}
	return errors.New("no secret matches")
}

// Sign returns the header value for body sent at t under secret, for
// fakes and tests that send their own events.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

// parse splits "t=...,v1=...[,v1=...]" into the timestamp and the decoded
// v1 signatures; unknown keys (Stripe's v0) are ignored.
func parse(name, header string) (ts string, sigs [][]byte, err error) {
	if header == "" {
		return "", nil, fmt.Errorf("missing %s", name)
	}
	if len(header) > maxHeader {
		return "", nil, errors.New("header too long")
	}
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			if ts != "" {
				return "", nil, errors.New("two timestamps")
			}
			ts = v
		case "v1":
			if b, derr := hex.DecodeString(v); derr == nil && len(b) == sha256.Size {
				sigs = append(sigs, b)
			}
		}
	}
	if ts == "" || len(sigs) == 0 {
		return "", nil, errors.New("no timestamp or no v1 signature")
	}
	return ts, sigs, nil
}

// mac is the HMAC-SHA256 of "{ts}.{body}" under secret.
func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}
