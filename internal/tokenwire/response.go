package tokenwire

import (
	"encoding/json"
	"fmt"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/oauthlink/oauthlink/internal/retry"
)

// Token is a parsed, validated RFC 6749 §5.1 answer.
type Token struct {
	AccessToken  string
	RefreshToken string
	// TokenType is always "Bearer": any other type is refused.
	TokenType string
	// Lifetime is expires_in normalised: 0 when the answer gave none (or
	// nonsense: zero, negative, not a number), never above
	// Config.MaxLifetime. What a missing lifetime means is the caller's
	// decision.
	Lifetime time.Duration
	// Scope is the granted scope; ScopeSet reports whether it was present
	// (RFC 6749 §5.1: omitted when identical to the requested scope).
	Scope    string
	ScopeSet bool
	// Extra is a JSON object of every non-standard member, or nil.
	Extra []byte
}

// ErrorResponse is an error answer from the token or revocation endpoint
// (RFC 6749 §5.2), or a non-2xx status without one. It never holds the
// body.
type ErrorResponse struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is the error code ("invalid_grant"), or the type of a legacy
	// {"error": {"type", "message"}} answer; empty when the body carried
	// none. Sanitised to RFC 6749 Appendix A characters, at most 64.
	Code string
	// Description is error_description or the legacy message, sanitised to
	// RFC 6749 Appendix A characters, at most 200.
	Description string
	// RetryAfter is the Retry-After header read by retry.After, else 0.
	RetryAfter time.Duration
}

func (e *ErrorResponse) Error() string {
	s := fmt.Sprintf("token endpoint answered %d", e.StatusCode)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

// MalformedError reports an answer that is not a usable token: not a JSON
// object, no access_token, a token type other than bearer, a redirect, a
// body over MaxBody. Reason never quotes the body.
type MalformedError struct{ Reason string }

func (e *MalformedError) Error() string { return "malformed token response: " + e.Reason }

func malformed(reason string) error { return &MalformedError{Reason: reason} }

// standardTokenFields are the RFC 6749 §5.1 members parsed into Token;
// every other member of a successful answer goes to Token.Extra.
var standardTokenFields = map[string]bool{
	"access_token": true, "refresh_token": true, "token_type": true,
	"expires_in": true, "scope": true,
}

// parseTokenResponse turns a token endpoint's answer into a token or an
// error. The body is parsed as JSON whatever the Content-Type (some
// providers label JSON text/html); it never appears in an error.
func parseTokenResponse(status int, header http.Header, body []byte, maxLifetime time.Duration, now time.Time) (*Token, error) {
	fields, isObject := readTokenFields(body)
	if status < 200 || status > 299 {
		er := &ErrorResponse{StatusCode: status, RetryAfter: retry.After(header.Get("Retry-After"), now)}
		if isObject {
			er.Code, er.Description = errorFields(fields.errCode, fields.errDesc)
		}
		return nil, er
	}
	if !isObject {
		mt, _, _ := mime.ParseMediaType(header.Get("Content-Type"))
		return nil, malformed(fmt.Sprintf("status %d body is not a JSON object (content type %q, %d bytes)",
			status, Sanitize(mt, 64), len(body)))
	}
	if fields.errCode != nil {
		er := &ErrorResponse{StatusCode: status}
		er.Code, er.Description = errorFields(fields.errCode, fields.errDesc)
		return nil, er
	}
	t := &Token{}
	if !jsonString(fields.access, &t.AccessToken) || t.AccessToken == "" {
		return nil, malformed("missing access_token")
	}
	if raw := fields.refresh; raw != nil && string(raw) != "null" && !jsonString(raw, &t.RefreshToken) {
		return nil, malformed("refresh_token is not a string")
	}
	t.TokenType = "Bearer"
	if raw := fields.tokenType; raw != nil && string(raw) != "null" && !isBearer(raw) {
		return nil, malformed("token_type is not bearer")
	}
	if raw := fields.scope; raw != nil && string(raw) != "null" {
		t.ScopeSet = jsonString(raw, &t.Scope)
	}
	t.Lifetime = normaliseLifetime(fields.expiresIn, maxLifetime)
	if fields.other {
		t.Extra = extraFields(body)
	}
	return t, nil
}

// parseRevocationResponse reads a revocation endpoint's answer: any 2xx is
// success, anything else an *ErrorResponse.
func parseRevocationResponse(status int, header http.Header, body []byte, now time.Time) error {
	if status >= 200 && status <= 299 {
		return nil
	}
	er := &ErrorResponse{StatusCode: status, RetryAfter: retry.After(header.Get("Retry-After"), now)}
	if f, ok := readTokenFields(body); ok {
		er.Code, er.Description = errorFields(f.errCode, f.errDesc)
	}
	return er
}

// extraFields returns a JSON object of the non-standard members of a valid
// token response, or nil.
func extraFields(body []byte) []byte {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return nil
	}
	for k := range fields {
		if standardTokenFields[k] {
			delete(fields, k)
		}
	}
	if len(fields) == 0 {
		return nil
	}
	extra, _ := json.Marshal(fields) // re-marshalling valid RawMessages cannot fail
	return extra
}

// normaliseLifetime reads expires_in (RFC 6749 §5.1 says a number of
// seconds; providers send strings, floats, null, 0 or nonsense). Anything
// that is not a positive number of seconds yields 0, "not given", rather
// than a silent immortality (golang.org/x/oauth2 treats a zero expiry as
// "never expires", its issue 738).
func normaliseLifetime(raw json.RawMessage, max time.Duration) time.Duration {
	const def = 0
	var secs float64
	var s string
	switch {
	case len(raw) == 0:
		return def
	case raw[0] >= '0' && raw[0] <= '9':
		if n, ok := smallSeconds(raw); ok { // the usual 3600, without a string copy
			secs = float64(n)
			break
		}
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

// errorFields reads RFC 6749 §5.2 {error, error_description} or the legacy
// {error: {type, message}} some providers still send; both sanitised.
func errorFields(raw, rawDesc json.RawMessage) (code, desc string) {
	var legacy struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
	if jsonString(raw, &code) {
		jsonString(rawDesc, &desc)
	} else if json.Unmarshal(raw, &legacy) == nil {
		code, desc = legacy.Type, legacy.Message
	}
	return Sanitize(code, 64), Sanitize(desc, 200)
}

// Sanitize keeps only the characters RFC 6749 Appendix A allows in
// error_description (%x20-21 / %x23-5B / %x5D-7E) and at most n of them, so
// provider text cannot smuggle markup quotes, backslashes, control bytes or
// Unicode look-alikes into logs or pages. Callers still escape on output.
func Sanitize(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < n; i++ {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			b.WriteByte(c)
		}
	}
	return b.String()
}
