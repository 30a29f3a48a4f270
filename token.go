package oauthlink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxTokenBody caps what is read from a token or revocation endpoint
// (golang.org/x/oauth2 uses the same 1 MiB).
const maxTokenBody = 1 << 20

// tokenResponse is a parsed, validated RFC 6749 §5.1 answer.
type tokenResponse struct {
	AccessToken  string
	RefreshToken string
	TokenType    string
	// Lifetime is expires_in normalised: never zero, never above the
	// provider's maximum.
	Lifetime time.Duration
	// Scope is the granted scope; ScopeSet reports whether it was present.
	Scope    string
	ScopeSet bool
	// Extra is a JSON object of every non-standard field, or nil.
	Extra []byte
}

// standardTokenFields are the RFC 6749 §5.1 fields parsed into tokenResponse.
var standardTokenFields = map[string]bool{
	"access_token": true, "refresh_token": true, "token_type": true,
	"expires_in": true, "scope": true,
}

// parseTokenResponse turns a token endpoint's answer into a token or a typed
// error. The body is parsed as JSON whatever the Content-Type (Mollie sends
// text/html); it never appears in an error.
func parseTokenResponse(status int, header http.Header, body []byte, p *Provider, now time.Time) (*tokenResponse, error) {
	var fields map[string]json.RawMessage
	jsonErr := json.Unmarshal(body, &fields)
	if status < 200 || status > 299 {
		te := &TokenError{StatusCode: status, RetryAfter: parseRetryAfter(header.Get("Retry-After"), now)}
		if jsonErr == nil {
			te.Code, te.Description = errorFields(fields)
		}
		return nil, te
	}
	if jsonErr != nil || fields == nil {
		mt, _, _ := mime.ParseMediaType(header.Get("Content-Type"))
		return nil, fmt.Errorf("%w: status %d body is not a JSON object (content type %q, %d bytes)",
			ErrTokenResponse, status, sanitize(mt, 64), len(body))
	}
	if _, ok := fields["error"]; ok {
		te := &TokenError{StatusCode: status}
		te.Code, te.Description = errorFields(fields)
		return nil, te
	}
	t := &tokenResponse{}
	if !jsonString(fields["access_token"], &t.AccessToken) || t.AccessToken == "" {
		return nil, fmt.Errorf("%w: missing access_token", ErrTokenResponse)
	}
	if raw, ok := fields["refresh_token"]; ok && string(raw) != "null" && !jsonString(raw, &t.RefreshToken) {
		return nil, fmt.Errorf("%w: refresh_token is not a string", ErrTokenResponse)
	}
	t.TokenType = "Bearer"
	if raw, ok := fields["token_type"]; ok && string(raw) != "null" {
		var tt string
		if !jsonString(raw, &tt) || !strings.EqualFold(tt, "bearer") {
			return nil, fmt.Errorf("%w: token_type is not bearer", ErrTokenResponse)
		}
	}
	if raw, ok := fields["scope"]; ok && string(raw) != "null" {
		t.ScopeSet = jsonString(raw, &t.Scope)
	}
	t.Lifetime = normaliseLifetime(fields["expires_in"], p.DefaultTokenLifetime, p.MaxTokenLifetime)
	extra := make(map[string]json.RawMessage)
	for k, v := range fields {
		if !standardTokenFields[k] {
			extra[k] = v
		}
	}
	if len(extra) > 0 {
		t.Extra, _ = json.Marshal(extra) // re-marshalling valid RawMessages cannot fail
	}
	return t, nil
}

// normaliseLifetime reads expires_in (RFC 6749 §5.1 says a number of
// seconds; providers send strings, floats, null, 0 or nonsense). Anything
// that is not a positive number yields def, so a token is never immortal
// (golang.org/x/oauth2 treats a zero expiry as "never expires", issue 738).
func normaliseLifetime(raw json.RawMessage, def, max time.Duration) time.Duration {
	var secs float64
	var s string
	switch {
	case len(raw) == 0:
		return def
	case raw[0] >= '0' && raw[0] <= '9':
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return def
		}
		secs = f
	case json.Unmarshal(raw, &secs) == nil:
	case json.Unmarshal(raw, &s) == nil:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return def
		}
		secs = f
	default:
		return def
	}
	if math.IsNaN(secs) || secs < 1 {
		return def
	}
	if secs >= max.Seconds() {
		return max
	}
	return time.Duration(secs) * time.Second
}

// jsonString decodes a JSON string. raw comes from a document that already
// parsed, so a valid UTF-8 string without a backslash is its bytes between
// the quotes (exactly what encoding/json would produce); anything else takes
// the full decoder.
func jsonString(raw json.RawMessage, dst *string) bool {
	if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' && bytes.IndexByte(raw[1:n-1], '\\') < 0 && utf8.Valid(raw[1:n-1]) {
		*dst = string(raw[1 : n-1])
		return true
	}
	return len(raw) > 0 && json.Unmarshal(raw, dst) == nil
}

// errorFields reads RFC 6749 §5.2 {error, error_description} or Mollie's
// legacy {error: {type, message}}; both sanitised.
func errorFields(fields map[string]json.RawMessage) (code, desc string) {
	raw := fields["error"]
	var legacy struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
	if jsonString(raw, &code) {
		jsonString(fields["error_description"], &desc)
	} else if json.Unmarshal(raw, &legacy) == nil {
		code, desc = legacy.Type, legacy.Message
	}
	return sanitize(code, 64), sanitize(desc, 200)
}

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP date
// (RFC 9110 §10.2.3); 0 when absent or malformed. Capped at one hour.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), time.Hour)
}

// sanitize keeps only the characters RFC 6749 Appendix A allows in
// error_description (%x20-21 / %x23-5B / %x5D-7E) and at most n of them, so
// provider text cannot smuggle markup quotes, backslashes, control bytes or
// Unicode look-alikes into logs or pages. Callers still escape on output.
func sanitize(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < n; i++ {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// endpointCall sends one form POST (or DELETE) to a token or revocation
// endpoint with the provider's pinned client authentication. It follows no
// redirect (a 307/308 would replay the code, secret or refresh token) and
// reads at most maxTokenBody bytes.
func (c *Connector) endpointCall(ctx context.Context, method, endpoint string, form url.Values) (status int, header http.Header, body []byte, err error) {
	p := &c.provider
	switch p.AuthStyle {
	case AuthStyleBody:
		form.Set("client_id", c.cfg.ClientID)
		form.Set("client_secret", c.cfg.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, method, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("oauthlink: building token request: %w", err)
	}
	for k, vs := range p.Header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if p.AuthStyle == AuthStyleBasic {
		// RFC 6749 §2.3.1: the credentials are form-encoded before Basic.
		req.SetBasicAuth(url.QueryEscape(c.cfg.ClientID), url.QueryEscape(c.cfg.ClientSecret))
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("oauthlink: %s %s: %w", method, redactURL(endpoint), unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		return resp.StatusCode, resp.Header, nil, fmt.Errorf("%w: endpoint answered redirect %d, not followed", ErrTokenResponse, resp.StatusCode)
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxTokenBody+1))
	if err != nil {
		return resp.StatusCode, resp.Header, nil, fmt.Errorf("oauthlink: reading token response: %w", err)
	}
	if len(body) > maxTokenBody {
		return resp.StatusCode, resp.Header, nil, fmt.Errorf("%w: body larger than %d bytes", ErrTokenResponse, maxTokenBody)
	}
	return resp.StatusCode, resp.Header, body, nil
}

// unwrapURLError keeps the cause of a *url.Error (timeouts stay
// recognisable with errors.Is) without repeating the URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redactURL drops the query and userinfo of an endpoint URL for messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "endpoint"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// tokenRequest performs one grant at the token endpoint. It is never retried
// here: a retried code makes the provider revoke what it issued
// (RFC 6749 §4.1.2), and refresh retries are decided by the caller.
func (c *Connector) tokenRequest(ctx context.Context, form url.Values) (*tokenResponse, error) {
	ctx, cancel := within(ctx, c.cfg.ExchangeTimeout)
	defer cancel()
	status, header, body, err := c.endpointCall(ctx, http.MethodPost, c.provider.TokenURL, form)
	if err != nil {
		return nil, err
	}
	return parseTokenResponse(status, header, body, &c.provider, c.now())
}

// revoke revokes one token (RFC 7009 §2.1; Mollie: DELETE with a body,
// 204). hint is "access_token" or "refresh_token".
func (c *Connector) revoke(ctx context.Context, token, hint string) error {
	if c.provider.RevokeURL == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ExchangeTimeout)
	defer cancel()
	form := url.Values{"token": {token}, "token_type_hint": {hint}}
	status, header, body, err := c.endpointCall(ctx, c.provider.RevokeMethod, c.provider.RevokeURL, form)
	if err != nil {
		return err
	}
	if status >= 200 && status <= 299 {
		return nil
	}
	te := &TokenError{StatusCode: status, RetryAfter: parseRetryAfter(header.Get("Retry-After"), c.now())}
	var fields map[string]json.RawMessage
	if json.Unmarshal(bytes.TrimSpace(body), &fields) == nil {
		te.Code, te.Description = errorFields(fields)
	}
	return te
}
