package oauthlink

import (
	"cmp"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// flow is what the start handler remembers for its callback. It travels
// signed and encrypted in a per-flow cookie; nothing is kept server-side
// until the callback consumes the state.
type flow struct {
	Provider string // provider name: the callback route's provider must match
	Route    string // the RedirectURL the flow was started for
	Owner    string // the platform account that started the flow
	State    string // the state parameter, ≥128 bits from crypto/rand
	Verifier string // PKCE code_verifier (RFC 7636 §4.1), or ""
	ReturnTo string // validated relative path
	Issued   int64  // unix seconds
	// Done marks a completion marker: the record a callback that connected
	// leaves in the flow's cookie, without the verifier, so that a reload
	// of the callback can be told the account is connected.
	Done bool
}

// The record's first byte: its format, which also tells a flow from a
// completion marker.
const (
	flowFormat = 1
	doneFormat = 2
)

// size is the encoded length of f, for preallocation.
func (f *flow) size() int {
	n := 1 + binary.MaxVarintLen64
	for _, s := range [...]string{f.Provider, f.Route, f.Owner, f.State, f.Verifier, f.ReturnTo} {
		n += binary.MaxVarintLen64 + len(s)
	}
	return n
}

// appendTo encodes f compactly after dst: a format byte, then each string
// with a uvarint length, then the issue time. Gob or JSON would double the
// cookie.
func (f *flow) appendTo(b []byte) []byte {
	if f.Done {
		b = append(b, doneFormat)
	} else {
		b = append(b, flowFormat)
	}
	for _, s := range [...]string{f.Provider, f.Route, f.Owner, f.State, f.Verifier, f.ReturnTo} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return binary.AppendVarint(b, f.Issued)
}

func (f *flow) marshal() []byte { return f.appendTo(make([]byte, 0, f.size())) }

var errFlowFormat = errors.New("malformed flow record")

// unmarshalFlow decodes a record. The strings share one allocation.
func unmarshalFlow(b []byte) (*flow, error) {
	if len(b) == 0 || (b[0] != flowFormat && b[0] != doneFormat) {
		return nil, errFlowFormat
	}
	str := string(b)
	i := 1
	f := flow{Done: b[0] == doneFormat}
	for _, dst := range [...]*string{&f.Provider, &f.Route, &f.Owner, &f.State, &f.Verifier, &f.ReturnTo} {
		n, k := binary.Uvarint(b[i:])
		if k <= 0 || n > uint64(len(b)-i-k) {
			return nil, errFlowFormat
		}
		i += k
		*dst = str[i : i+int(n)]
		i += int(n)
	}
	issued, k := binary.Varint(b[i:])
	if k <= 0 || i+k != len(b) {
		return nil, errFlowFormat
	}
	f.Issued = issued
	return &f, nil
}

// The sealed cookie value is base64url (no padding) of
//
//	version (1 byte) | key id (4) | nonce (12) | AES-256-GCM ciphertext + tag
//
// with the cookie's name as associated data, so a value moved to another
// cookie name (another provider, another flow) fails to open. AES-GCM is
// authenticated encryption: it signs and encrypts in one pass, where
// gorilla/securecookie's encrypt-then-MAC costs a fresh HMAC, an AES-CTR
// stream, fmt and two base64 passes per cookie (18 allocations; the whole
// start handler now needs fewer).
const (
	sealVersion  = 2
	sealIDLen    = 4
	sealNonceLen = 12
	sealHeader   = 1 + sealIDLen + sealNonceLen
	sealTagLen   = 16
	sealADPrefix = "oauthlink flow v2\x00"
)

type flowKey struct {
	id   [sealIDLen]byte
	aead cipher.AEAD
}

// flowCodec seals and opens flow records with key rotation: the first key
// seals, every key opens (chosen by key id). It also carries the
// Connector's per-owner flow budget, which the callback checks before it
// records a state in the replay guard (see maxFlowsPerOwner).
type flowCodec struct {
	keys   []flowKey
	budget *flowBudget
}

// newFlowCodec derives one AES-256 key from each secret with HKDF-SHA256,
// so apps manage one secret per generation.
func newFlowCodec(secrets [][]byte) (flowCodec, error) {
	if len(secrets) == 0 {
		return flowCodec{}, fmt.Errorf("%w: CookieSecrets is required (32+ random bytes each)", ErrConfig)
	}
	fc := flowCodec{budget: &flowBudget{}}
	for i, s := range secrets {
		if len(s) < 32 {
			return flowCodec{}, fmt.Errorf("%w: CookieSecrets[%d] is %d bytes; at least 32 random bytes are required", ErrConfig, i, len(s))
		}
		key, err := hkdf.Key(sha256.New, s, nil, "oauthlink flow cookie v2", 32)
		if err != nil {
			return flowCodec{}, fmt.Errorf("%w: deriving cookie keys: %v", ErrConfig, err)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return flowCodec{}, fmt.Errorf("%w: %v", ErrConfig, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return flowCodec{}, fmt.Errorf("%w: %v", ErrConfig, err)
		}
		sum := sha256.Sum256(append([]byte("oauthlink flow key id\x00"), key...))
		k := flowKey{aead: aead}
		copy(k.id[:], sum[:sealIDLen])
		fc.keys = append(fc.keys, k)
	}
	return fc, nil
}

// maxCookieBytes is the browsers' per-cookie limit (name, value and
// attributes); the start handler fails closed beyond it (security.md B11).
const maxCookieBytes = 4096

func sealAD(name string) []byte {
	ad := make([]byte, 0, len(sealADPrefix)+len(name))
	return append(append(ad, sealADPrefix...), name...)
}

// seal encrypts f for the cookie called name.
func (fc flowCodec) seal(name string, f *flow) (string, error) {
	k := &fc.keys[0]
	buf := make([]byte, sealHeader, sealHeader+f.size()+sealTagLen)
	buf[0] = sealVersion
	copy(buf[1:], k.id[:])
	if _, err := rand.Read(buf[1+sealIDLen : sealHeader]); err != nil {
		return "", fmt.Errorf("oauthlink: reading nonce: %w", err)
	}
	buf = f.appendTo(buf)
	out := k.aead.Seal(buf[:sealHeader], buf[1+sealIDLen:sealHeader], buf[sealHeader:], sealAD(name))
	return base64.RawURLEncoding.EncodeToString(out), nil
}

var errSealed = errors.New("flow cookie failed authentication")

// open authenticates and decrypts a cookie value sealed for name.
func (fc flowCodec) open(name, value string) (*flow, error) {
	if len(value) > maxCookieBytes {
		return nil, errSealed
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(value)
	if err != nil || len(b) < sealHeader+sealTagLen || b[0] != sealVersion {
		return nil, errSealed
	}
	for i := range fc.keys {
		k := &fc.keys[i]
		if [sealIDLen]byte(b[1:1+sealIDLen]) != k.id {
			continue
		}
		plain, err := k.aead.Open(b[sealHeader:sealHeader], b[1+sealIDLen:sealHeader], b[sealHeader:], sealAD(name))
		if err != nil {
			return nil, errSealed
		}
		return unmarshalFlow(plain)
	}
	return nil, errSealed
}

// newState returns 128 bits from crypto/rand, base64url without padding.
// A read error fails the request (security.md A8).
func newState() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("oauthlink: reading random state: %w", err)
	}
	var out [22]byte
	base64.RawURLEncoding.Encode(out[:], b[:])
	return string(out[:]), nil
}

// newVerifier returns a PKCE code_verifier of 43 characters from 32 random
// bytes (RFC 7636 §4.1) and its S256 challenge (§4.2).
func newVerifier() (verifier, challenge string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("oauthlink: reading random verifier: %w", err)
	}
	var v, ch [43]byte
	base64.RawURLEncoding.Encode(v[:], b[:])
	sum := sha256.Sum256(v[:])
	base64.RawURLEncoding.Encode(ch[:], sum[:])
	return string(v[:]), string(ch[:]), nil
}

// flowName is the per-flow cookie name: the provider prefix plus a digest of
// the state, so two tabs or two providers never overwrite each other
// (security.md A6, A7) and the name reveals nothing about the state.
func (c *Connector) flowName(state string) string {
	sum := sha256.Sum256([]byte(state))
	var b [96]byte
	n := copy(b[:], c.cookiePrefix)
	hex.Encode(b[n:], sum[:6])
	return string(b[:n+12])
}

// stateKey is what the replay guard records: a digest, never the state.
func (c *Connector) stateKey(state string) string {
	var buf [320]byte // the prefix, a provider name and a state of at most 256 bytes
	b := append(buf[:0], "oauthlink replay\x00"...)
	b = append(append(append(b, c.provider.Name...), 0), state...)
	sum := sha256.Sum256(b)
	var out [43]byte
	base64.RawURLEncoding.Encode(out[:], sum[:])
	return string(out[:])
}

// setFlowCookie adds the flow cookie's Set-Cookie header with the
// enforced attributes (security.md B9, B10): HttpOnly, SameSite=Lax (Strict
// would drop it on the provider's cross-site redirect back), Path=/, no
// Domain, Secure unless AllowInsecureHTTP. The header is written directly:
// name and value are base64url and hex, which need no sanitising.
func (c *Connector) setFlowCookie(h http.Header, name, value string, del bool) {
	attrs := c.cookieAttrs
	if del {
		attrs = c.cookieDelAttrs
	}
	var b strings.Builder
	b.Grow(len(name) + 1 + len(value) + len(attrs))
	b.WriteString(name)
	b.WriteByte('=')
	b.WriteString(value)
	b.WriteString(attrs)
	h["Set-Cookie"] = append(h["Set-Cookie"], b.String())
}

// flowCookieLinger is how long a flow cookie outlives its flow (FlowTTL).
// The callback refuses an expired flow whatever the cookie's age; the
// lingering cookie only lets it say why: a callback that comes back late is
// told the attempt expired (ErrStateExpired), and a reload after success
// that the account is connected (the completion marker), instead of both
// being told the browser has no record of the flow (ErrNoFlowCookie). At
// the default FlowTTL a flow cookie lives one hour.
const flowCookieLinger = 50 * time.Minute

// cookieMaxAge is the Max-Age, in seconds, of a flow cookie for flows that
// live flowTTL.
func cookieMaxAge(flowTTL time.Duration) int {
	return int((flowTTL + flowCookieLinger) / time.Second)
}

// cookieAttrs are the attributes after name=value: those of a flow cookie
// for flows of flowTTL seconds, or of its deletion when flowTTL is 0.
func cookieAttrs(flowTTL int, secure bool) string {
	maxAge := 0
	if flowTTL > 0 {
		maxAge = cookieMaxAge(time.Duration(flowTTL) * time.Second)
	}
	s := "; Path=/; Max-Age=" + strconv.Itoa(maxAge) + "; HttpOnly"
	if secure {
		s += "; Secure"
	}
	return s + "; SameSite=Lax"
}

// cookieValue returns the value of the request cookie called name without
// parsing every cookie into an *http.Cookie.
func cookieValue(r *http.Request, name string) string {
	for _, line := range r.Header["Cookie"] {
		for part := range strings.SplitSeq(line, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && k == name {
				if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
					v = v[1 : len(v)-1]
				}
				return v
			}
		}
	}
	return ""
}

// saveFlow stores the sealed flow in its cookie, failing closed when the cookie would exceed the browser limit.
func (c *Connector) saveFlow(w http.ResponseWriter, r *http.Request, name string, f *flow) error {
	// Sealed and base64'd, a record over a quarter of the limit leaves too
	// little room once the name and attributes are added: reject it before
	// spending the crypto.
	if f.size() > maxCookieBytes*3/4-len(name)-len(c.cookieAttrs)-sealHeader-sealTagLen {
		return errCookieTooLarge
	}
	value, err := c.flows.seal(name, f)
	if err != nil {
		return err
	}
	if len(name)+1+len(value)+len(c.cookieAttrs) > maxCookieBytes {
		return errCookieTooLarge
	}
	c.setFlowCookie(w.Header(), name, value, false)
	return nil
}

// loadFlow reads and authenticates the flow cookie named name.
func (c *Connector) loadFlow(r *http.Request, name string) (*flow, error) {
	value := cookieValue(r, name)
	if value == "" {
		return nil, ErrNoFlowCookie
	}
	f, err := c.flows.open(name, value)
	if err != nil {
		return nil, errBadFlowCookie
	}
	return f, nil
}

var errBadFlowCookie = fmt.Errorf("%w: flow cookie failed authentication", ErrInvalidState)

// flowEnd is what the callback's response does with the flow cookie.
type flowEnd int8

const (
	endDelete flowEnd = iota // every failure
	endMark                  // a callback that connected: the completion marker
	endKeep                  // a reload that found the marker: leave it
)

// endFlow deletes the flow cookie, or replaces it with the completion
// marker of f. A marker that cannot be made is a deleted cookie: the
// callback succeeded all the same.
func (c *Connector) endFlow(w http.ResponseWriter, r *http.Request, name string, f *flow, end flowEnd) {
	switch end {
	case endKeep:
		return
	case endMark:
		m := &flow{Provider: f.Provider, Route: f.Route, Owner: f.Owner, State: f.State, Issued: f.Issued, Done: true}
		err := c.saveFlow(w, r, name, m)
		if err == nil {
			return
		}
		c.log.Warn("oauthlink: leaving the completion marker failed", "provider", c.provider.Name, "error", err)
	}
	c.clearFlow(w, r, name)
}

// clearFlow deletes the flow cookie (or session): on every callback
// outcome but success, and when pruning.
func (c *Connector) clearFlow(w http.ResponseWriter, r *http.Request, name string) {
	c.setFlowCookie(w.Header(), name, "", true)
}

// pruneFlows keeps at most MaxFlows-1 earlier flows of this provider in the
// browser, dropping the oldest (unreadable ones first), so one more fits
// (security.md A7). It opens cookies only when the cap is reached.
func (c *Connector) pruneFlows(w http.ResponseWriter, r *http.Request) {
	var names []string
	for _, line := range r.Header["Cookie"] {
		for part := range strings.SplitSeq(line, ";") {
			k, _, _ := strings.Cut(strings.TrimSpace(part), "=")
			if len(k) > len(c.cookiePrefix) && strings.HasPrefix(k, c.cookiePrefix) && !slices.Contains(names, k) {
				names = append(names, k)
			}
		}
	}
	excess := len(names) - (c.cfg.Flow.MaxPerBrowser - 1)
	if excess <= 0 {
		return
	}
	issued := make(map[string]int64, len(names))
	for _, n := range names {
		issued[n] = -1 << 62
		if f, err := c.loadFlow(r, n); err == nil {
			issued[n] = f.Issued
		}
	}
	slices.SortStableFunc(names, func(a, b string) int { return cmp.Compare(issued[a], issued[b]) })
	for _, n := range names[:excess] {
		c.clearFlow(w, r, n)
	}
}
