// Package webhooksig checks and makes the webhook signatures Qonto and
// Stripe share: a header "t={unix seconds},v1={hex HMAC-SHA256 of
// "{t}.{raw body}"}" keyed with the endpoint's secret, where several v1
// values may come (one per secret while it is rotated) and other keys are
// ignored. The provider packages wrap its errors in their own sentinels
// and name their own header.
package webhooksig

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
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

// Read does what every signed-webhook endpoint does first: it refuses
// methods other than POST (405), reads at most maxBody bytes (413 beyond,
// 400 when the body cannot be read) and checks the signature with verify,
// answering badSignature (and logging why at Warn, under what) when it
// fails. It returns the body and true, or false once it has answered.
func Read(w http.ResponseWriter, r *http.Request, maxBody int64, verify func(body []byte) error, badSignature int, log *slog.Logger, what string) ([]byte, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return nil, false
		}
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return nil, false
	}
	if err := verify(body); err != nil {
		log.Warn(what+": webhook refused", "error", err)
		http.Error(w, "invalid signature", badSignature)
		return nil, false
	}
	return body, true
}

// Secrets returns copies of the non-empty secrets, so that a caller's
// later change to its slices cannot change what a handler accepts.
func Secrets(secrets [][]byte) [][]byte {
	var out [][]byte
	for _, s := range secrets {
		if len(s) > 0 {
			out = append(out, bytes.Clone(s))
		}
	}
	return out
}
