package oauthlink

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
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
// attributes); the start handler fails closed beyond it.
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
// A read error fails the request: no flow starts on weak randomness.
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
