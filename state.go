package oauthlink

import (
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
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
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
}

const flowFormat = 1

// marshal encodes f compactly: a format byte, then each string with a
// uvarint length, then the issue time. Gob or JSON would double the cookie.
func (f *flow) marshal() []byte {
	fields := [...]string{f.Provider, f.Route, f.Owner, f.State, f.Verifier, f.ReturnTo}
	n := 1 + binary.MaxVarintLen64
	for _, s := range fields {
		n += binary.MaxVarintLen64 + len(s)
	}
	b := make([]byte, 1, n)
	b[0] = flowFormat
	for _, s := range fields {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return binary.AppendVarint(b, f.Issued)
}

var errFlowFormat = errors.New("malformed flow record")

func unmarshalFlow(b []byte) (*flow, error) {
	if len(b) == 0 || b[0] != flowFormat {
		return nil, errFlowFormat
	}
	b = b[1:]
	var f flow
	for _, dst := range [...]*string{&f.Provider, &f.Route, &f.Owner, &f.State, &f.Verifier, &f.ReturnTo} {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, errFlowFormat
		}
		*dst = string(b[k : k+int(n)])
		b = b[k+int(n):]
	}
	issued, k := binary.Varint(b)
	if k <= 0 || k != len(b) {
		return nil, errFlowFormat
	}
	f.Issued = issued
	return &f, nil
}

// flowCodec signs (HMAC-SHA256 over name, time and value) and encrypts
// (AES-256-CTR inside securecookie) flow records, with key rotation: the
// first secret encodes, every secret decodes.
type flowCodec struct {
	codecs []securecookie.Codec
}

// newFlowCodec derives a hash key and a block key from each secret with
// HKDF-SHA256, so apps manage one secret per generation.
func newFlowCodec(secrets [][]byte, ttl time.Duration) (flowCodec, error) {
	if len(secrets) == 0 {
		return flowCodec{}, fmt.Errorf("%w: CookieSecrets is required (32+ random bytes each)", ErrConfig)
	}
	var fc flowCodec
	for i, s := range secrets {
		if len(s) < 32 {
			return flowCodec{}, fmt.Errorf("%w: CookieSecrets[%d] is %d bytes; at least 32 random bytes are required", ErrConfig, i, len(s))
		}
		keys, err := hkdf.Key(sha256.New, s, nil, "oauthlink flow cookie v1", 64)
		if err != nil {
			return flowCodec{}, fmt.Errorf("%w: deriving cookie keys: %v", ErrConfig, err)
		}
		sc := securecookie.New(keys[:32], keys[32:])
		sc.SetSerializer(securecookie.NopEncoder{})
		// securecookie checks its own timestamp too; the callback checks
		// the flow's issue time against the injected clock.
		sc.MaxAge(int(ttl/time.Second) + 60)
		sc.MaxLength(2 * maxCookieBytes)
		fc.codecs = append(fc.codecs, sc)
	}
	return fc, nil
}

// maxCookieBytes is the browsers' per-cookie limit (name, value and
// attributes); the start handler fails closed beyond it (security.md B11).
const maxCookieBytes = 4096

func (fc flowCodec) decode(name, value string) (*flow, error) {
	var b []byte
	if err := securecookie.DecodeMulti(name, value, &b, fc.codecs...); err != nil {
		return nil, err
	}
	return unmarshalFlow(b)
}

// newState returns 128 bits from crypto/rand, base64url without padding.
// A read error fails the request (security.md A8).
func newState() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("oauthlink: reading random state: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// newVerifier returns a PKCE code_verifier of 43 characters from 32 random
// bytes (RFC 7636 §4.1) and its S256 challenge (§4.2).
func newVerifier() (verifier, challenge string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("oauthlink: reading random verifier: %w", err)
	}
	verifier = base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// flowName is the per-flow cookie name: the provider prefix plus a digest of
// the state, so two tabs or two providers never overwrite each other
// (security.md A6, A7) and the name reveals nothing about the state.
func (c *Connector) flowName(state string) string {
	sum := sha256.Sum256([]byte(state))
	return c.cookiePrefix + hex.EncodeToString(sum[:6])
}

// stateKey is what the replay guard records: a digest, never the state.
func (c *Connector) stateKey(state string) string {
	sum := sha256.Sum256([]byte("oauthlink replay\x00" + c.provider.Name + "\x00" + state))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// flowCookie returns the cookie carrying value with the enforced attributes
// (security.md B9, B10): HttpOnly, SameSite=Lax (Strict would drop it on the
// provider's cross-site redirect back), Path=/, no Domain, Secure unless
// AllowInsecureHTTP. maxAge < 0 deletes.
func (c *Connector) flowCookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: !c.cfg.AllowInsecureHTTP, SameSite: http.SameSiteLaxMode,
	}
}

func (c *Connector) sessionOptions(maxAge int) *sessions.Options {
	return &sessions.Options{
		Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: !c.cfg.AllowInsecureHTTP, SameSite: http.SameSiteLaxMode,
	}
}

const sessionFlowKey = "oauthlink.flow"

// saveFlow stores the encoded flow in its cookie (or the app's session
// store), failing closed when the cookie would exceed the browser limit.
func (c *Connector) saveFlow(w http.ResponseWriter, r *http.Request, name string, f *flow) error {
	rec := f.marshal()
	if len(rec) > maxCookieBytes/2 {
		// Signed, encrypted and base64'd twice, it cannot fit 4096 bytes.
		return ErrCookieTooLarge
	}
	value, err := c.flows.codecs[0].Encode(name, rec)
	if err != nil {
		return fmt.Errorf("oauthlink: encoding flow: %w", err)
	}
	maxAge := int(c.cfg.FlowTTL / time.Second)
	if c.cfg.Sessions != nil {
		s, err := c.cfg.Sessions.New(r, name)
		if s == nil {
			return fmt.Errorf("oauthlink: session store: %w", err)
		}
		s.Values[sessionFlowKey] = value
		s.Options = c.sessionOptions(maxAge)
		if err := s.Save(r, w); err != nil {
			return fmt.Errorf("oauthlink: saving flow session: %w", err)
		}
		return nil
	}
	ck := c.flowCookie(name, value, maxAge)
	if len(ck.String()) > maxCookieBytes {
		return ErrCookieTooLarge
	}
	http.SetCookie(w, ck)
	return nil
}

// loadFlow reads and authenticates the flow cookie named name.
func (c *Connector) loadFlow(r *http.Request, name string) (*flow, error) {
	var value string
	if c.cfg.Sessions != nil {
		s, err := c.cfg.Sessions.Get(r, name)
		if err != nil || s == nil {
			return nil, fmt.Errorf("%w: no flow session", ErrInvalidState)
		}
		value, _ = s.Values[sessionFlowKey].(string)
	} else if ck, err := r.Cookie(name); err == nil {
		value = ck.Value
	}
	if value == "" {
		return nil, fmt.Errorf("%w: no flow cookie", ErrInvalidState)
	}
	f, err := c.flows.decode(name, value)
	if err != nil {
		return nil, fmt.Errorf("%w: flow cookie failed authentication", ErrInvalidState)
	}
	return f, nil
}

// clearFlow deletes the flow cookie (or session) on every callback outcome.
func (c *Connector) clearFlow(w http.ResponseWriter, r *http.Request, name string) {
	if c.cfg.Sessions != nil {
		if s, _ := c.cfg.Sessions.Get(r, name); s != nil {
			s.Options = c.sessionOptions(-1)
			s.Values = map[any]any{}
			if err := s.Save(r, w); err != nil {
				c.log.Warn("oauthlink: clearing flow session failed", "provider", c.provider.Name, "error", err)
			}
			return
		}
	}
	http.SetCookie(w, c.flowCookie(name, "", -1))
}

// pruneFlows keeps at most MaxFlows-1 earlier flows of this provider in the
// browser, dropping the oldest (undecodable ones first), so one more fits
// (security.md A7). It decodes cookies only when the cap is reached.
func (c *Connector) pruneFlows(w http.ResponseWriter, r *http.Request) {
	var names []string
	for _, ck := range r.Cookies() {
		if len(ck.Name) > len(c.cookiePrefix) && ck.Name[:len(c.cookiePrefix)] == c.cookiePrefix && !slices.Contains(names, ck.Name) {
			names = append(names, ck.Name)
		}
	}
	excess := len(names) - (c.cfg.MaxFlows - 1)
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
	slices.SortStableFunc(names, func(a, b string) int {
		switch {
		case issued[a] < issued[b]:
			return -1
		case issued[a] > issued[b]:
			return 1
		}
		return 0
	})
	for _, n := range names[:excess] {
		c.clearFlow(w, r, n)
	}
}
