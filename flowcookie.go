package oauthlink

import (
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// flowName is the per-flow cookie name: the provider prefix plus a digest of
// the state, so two tabs or two providers never overwrite each other
// and the name reveals nothing about the state.
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
// enforced attributes: HttpOnly, SameSite=Lax (Strict
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

// flowCookieLinger is how long a flow cookie outlives its flow (Flow.TTL).
// The callback refuses an expired flow whatever the cookie's age; the
// lingering cookie only lets it say why: a callback that comes back late is
// told the attempt expired (ErrStateExpired), and a reload after success
// that the account is connected (the completion marker), instead of both
// being told the browser has no record of the flow (ErrNoFlowCookie). At
// the default Flow.TTL a flow cookie lives one hour.
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

// pruneFlows keeps at most Flow.MaxPerBrowser-1 earlier flows of this provider in the
// browser, dropping the oldest (unreadable ones first), so one more fits
// (a cookie per flow must not grow the Cookie header past what servers
// accept). It opens cookies only when the cap is reached.
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
