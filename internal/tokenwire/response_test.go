package tokenwire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// maxLifetime is the root package's default Provider.MaxTokenLifetime.
const maxLifetime = 90 * 24 * time.Hour

func TestParseTokenResponse(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	type want struct {
		access, refresh string
		lifetime        time.Duration
		scope           string
		scopeSet        bool
		extra           string
		malformed       bool
		tokenErr        *ErrorResponse
	}
	cases := []struct {
		name   string
		status int
		ctype  string
		body   string
		want   want
	}{
		{"mollie text/html", 200, "text/html", `{"access_token":"access_x","refresh_token":"refresh_y","expires_in":3600,"token_type":"bearer","scope":"organizations.read"}`,
			want{access: "access_x", refresh: "refresh_y", lifetime: time.Hour, scope: "organizations.read", scopeSet: true}},
		{"qonto with id_token extra", 200, "application/json", `{"access_token":"ory_at_x","refresh_token":"ory_rt_y","expires_in":3599,"token_type":"bearer","id_token":"eyJ"}`,
			want{access: "ory_at_x", refresh: "ory_rt_y", lifetime: 3599 * time.Second, extra: `{"id_token":"eyJ"}`}},
		{"expires_in missing", 200, "", `{"access_token":"a","token_type":"Bearer"}`, want{access: "a", lifetime: 0}},
		{"expires_in zero", 200, "", `{"access_token":"a","expires_in":0}`, want{access: "a", lifetime: 0}},
		{"expires_in negative", 200, "", `{"access_token":"a","expires_in":-5}`, want{access: "a", lifetime: 0}},
		{"expires_in null", 200, "", `{"access_token":"a","expires_in":null}`, want{access: "a", lifetime: 0}},
		{"expires_in numeric string", 200, "", `{"access_token":"a","expires_in":"120"}`, want{access: "a", lifetime: 2 * time.Minute}},
		{"expires_in junk string", 200, "", `{"access_token":"a","expires_in":"soon"}`, want{access: "a", lifetime: 0}},
		{"expires_in object", 200, "", `{"access_token":"a","expires_in":{}}`, want{access: "a", lifetime: 0}},
		{"expires_in absurd", 200, "", `{"access_token":"a","expires_in":1e300}`, want{access: "a", lifetime: 90 * 24 * time.Hour}},
		{"expires_in fraction", 200, "", `{"access_token":"a","expires_in":0.5}`, want{access: "a", lifetime: 0}},
		{"no token_type means bearer", 200, "", `{"access_token":"a","expires_in":60}`, want{access: "a", lifetime: time.Minute}},
		{"expires_in with whitespace around", 200, "", `{"access_token":"a", "expires_in" : 3600 }`, want{access: "a", lifetime: time.Hour}},
		{"expires_in nine digits", 200, "", `{"access_token":"a","expires_in":123456789}`, want{access: "a", lifetime: 90 * 24 * time.Hour}},
		{"expires_in exponent", 200, "", `{"access_token":"a","expires_in":1e3}`, want{access: "a", lifetime: 1000 * time.Second}},
		{"expires_in padded string", 200, "", `{"access_token":"a","expires_in":" 120 "}`, want{access: "a", lifetime: 2 * time.Minute}},
		{"expires_in beyond float64", 200, "", `{"access_token":"a","expires_in":1e400}`, want{access: "a", lifetime: 0}},
		{"escaped member name", 200, "", `{"access\u005ftoken":"a"}`, want{access: "a"}},
		{"repeated member: the last wins", 200, "", `{"access_token":"a","access_token":"b"}`, want{access: "b"}},
		{"member names are case-sensitive", 200, "", `{"access_token":"a","Scope":"x","TOKEN_TYPE":"mac"}`,
			want{access: "a", extra: `{"Scope":"x","TOKEN_TYPE":"mac"}`}},
		{"Access_Token is not access_token", 200, "", `{"Access_Token":"a"}`, want{malformed: true}},
		{"error_description kept in Extra on success", 200, "", `{"access_token":"a","error_description":"x"}`,
			want{access: "a", extra: `{"error_description":"x"}`}},
		{"escaped strings decoded", 200, "", `{"access_token":"a\u00e9\/b","scope":"x\ty"}`,
			want{access: "a\u00e9/b", scope: "x\ty", scopeSet: true}},
		{"scope null is no scope", 200, "", `{"access_token":"a","scope":null}`, want{access: "a"}},
		{"empty scope is a scope", 200, "", `{"access_token":"a","scope":""}`, want{access: "a", scopeSet: true}},
		{"empty token_type", 200, "", `{"access_token":"a","token_type":""}`, want{malformed: true}},
		{"BEARER in any case", 200, "", `{"access_token":"a","token_type":"BeArEr"}`, want{access: "a"}},
		{"error null is still an error answer", 200, "", `{"error":null,"access_token":"a"}`, want{tokenErr: &ErrorResponse{StatusCode: 200}}},
		{"trailing data", 200, "", `{"access_token":"a"} x`, want{malformed: true}},
		{"empty access_token", 200, "", `{"access_token":"","token_type":"bearer"}`, want{malformed: true}},
		{"missing access_token", 200, "", `{"token_type":"bearer"}`, want{malformed: true}},
		{"access_token not string", 200, "", `{"access_token":5}`, want{malformed: true}},
		{"mac token type", 200, "", `{"access_token":"a","token_type":"mac"}`, want{malformed: true}},
		{"refresh not string", 200, "", `{"access_token":"a","refresh_token":[1]}`, want{malformed: true}},
		{"html with 200 (qonto sandbox without staging header)", 200, "text/html", `<html><body>OneLogin</body></html>`, want{malformed: true}},
		{"json array", 200, "application/json", `[1,2]`, want{malformed: true}},
		{"null", 200, "application/json", `null`, want{malformed: true}},
		{"empty body", 200, "application/json", ``, want{malformed: true}},
		{"error inside 200", 200, "application/json", `{"error":"invalid_grant","error_description":"nope"}`,
			want{tokenErr: &ErrorResponse{StatusCode: 200, Code: "invalid_grant", Description: "nope"}}},
		{"rfc6749 error", 400, "application/json", `{"error":"invalid_grant","error_description":"The refresh token was already used."}`,
			want{tokenErr: &ErrorResponse{StatusCode: 400, Code: "invalid_grant", Description: "The refresh token was already used."}}},
		{"mollie legacy error", 401, "application/json", `{"error":{"type":"request","message":"Missing authentication","field":"x"}}`,
			want{tokenErr: &ErrorResponse{StatusCode: 401, Code: "request", Description: "Missing authentication"}}},
		{"html 502", 502, "text/html", `<h1>Bad gateway</h1>`, want{tokenErr: &ErrorResponse{StatusCode: 502}}},
		{"description sanitised", 400, "", `{"error":"invalid_request","error_description":"<script>\"x\"</script>\u0000\u00e9"}`,
			want{tokenErr: &ErrorResponse{StatusCode: 400, Code: "invalid_request", Description: "<script>x</script>"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {tc.ctype}}
			tok, err := parseTokenResponse(tc.status, h, []byte(tc.body), maxLifetime, now)
			switch {
			case tc.want.tokenErr != nil:
				var te *ErrorResponse
				require.ErrorAs(t, err, &te)
				assert.Equal(t, tc.want.tokenErr, te)
				assert.Nil(t, tok)
			case tc.want.malformed:
				var me *MalformedError
				require.ErrorAs(t, err, &me)
				assert.Nil(t, tok)
				assert.NotContains(t, err.Error(), "OneLogin", "the body must never be echoed")
			default:
				require.NoError(t, err)
				assert.Equal(t, tc.want.access, tok.AccessToken)
				assert.Equal(t, tc.want.refresh, tok.RefreshToken)
				assert.Equal(t, tc.want.lifetime, tok.Lifetime)
				assert.Equal(t, "Bearer", tok.TokenType)
				assert.Equal(t, tc.want.scope, tok.Scope)
				assert.Equal(t, tc.want.scopeSet, tok.ScopeSet)
				if tc.want.extra == "" {
					assert.Nil(t, tok.Extra)
				} else {
					assert.JSONEq(t, tc.want.extra, string(tok.Extra))
				}
			}
		})
	}
}

// TestErrorAnswerRetryAfter: an error answer carries Retry-After as read by
// internal/retry (whole seconds or an HTTP date, capped at an hour).
func TestErrorAnswerRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":                              0,
		"7":                             7 * time.Second,
		"-3":                            0,
		"junk":                          0,
		"99999999":                      time.Hour,
		"Thu, 01 Jan 2026 00:00:30 GMT": 30 * time.Second,
		"Wed, 31 Dec 2025 00:00:30 GMT": 0,
	}
	for in, want := range cases {
		h := http.Header{"Retry-After": {in}}
		_, err := parseTokenResponse(429, h, []byte(`{"error":"slow_down"}`), maxLifetime, now)
		var te *ErrorResponse
		require.ErrorAs(t, err, &te)
		assert.Equal(t, want, te.RetryAfter, "Retry-After %q", in)
		err = parseRevocationResponse(503, h, nil, now)
		require.ErrorAs(t, err, &te)
		assert.Equal(t, want, te.RetryAfter, "revocation, Retry-After %q", in)
	}
}

// TestMalformedReasons: the reasons name what is wrong, never the body.
func TestMalformedReasons(t *testing.T) {
	for body, want := range map[string]string{
		`{"token_type":"bearer"}`:                 "malformed token response: missing access_token",
		`{"access_token":"a","refresh_token":1}`:  "malformed token response: refresh_token is not a string",
		`{"access_token":"a","token_type":"mac"}`: "malformed token response: token_type is not bearer",
		`<html><body>secret_page</body></html>`:   `malformed token response: status 200 body is not a JSON object (content type "text/html", 37 bytes)`,
	} {
		_, err := parseTokenResponse(200, http.Header{"Content-Type": {"text/html; charset=utf-8"}}, []byte(body), maxLifetime, time.Now())
		require.EqualError(t, err, want)
	}
}

func TestParseRevocationResponse(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	assert.NoError(t, parseRevocationResponse(200, http.Header{}, nil, now))
	assert.NoError(t, parseRevocationResponse(204, http.Header{}, nil, now), "204 (Mollie) is success")
	err := parseRevocationResponse(400, http.Header{}, []byte(`{"error":"unsupported_token_type","error_description":"no \"x\""}`), now)
	assert.Equal(t, &ErrorResponse{StatusCode: 400, Code: "unsupported_token_type", Description: "no x"}, err)
	err = parseRevocationResponse(401, http.Header{}, []byte(`{"error":{"type":"request","message":"Missing authentication"}}`), now)
	assert.Equal(t, &ErrorResponse{StatusCode: 401, Code: "request", Description: "Missing authentication"}, err)
	err = parseRevocationResponse(502, http.Header{}, []byte(`<h1>Bad gateway</h1>`), now)
	assert.Equal(t, &ErrorResponse{StatusCode: 502}, err)
	assert.EqualError(t, &ErrorResponse{StatusCode: 400, Code: "invalid_grant", Description: "d"}, "token endpoint answered 400 invalid_grant: d")
	assert.EqualError(t, &ErrorResponse{StatusCode: 502}, "token endpoint answered 502")
}

func TestSanitize(t *testing.T) {
	assert.Equal(t, "abcdef", Sanitize("abc\tdef\n\x00", 200), "control bytes are dropped")
	assert.Equal(t, "<img src=x onerror=alert(1)>", Sanitize(`"><img src=x onerror=alert(1)>`[2:], 200))
	assert.Equal(t, strings.Repeat("a", 200), Sanitize(strings.Repeat("a", 500), 200))
	assert.Equal(t, "", Sanitize("\u202e\uff0f", 10), "non-ASCII is dropped")
	assert.Equal(t, "x", Sanitize(`\"x`, 10), "quotes and backslashes are dropped")
}

func FuzzParseTokenResponse(f *testing.F) {
	f.Add(200, "text/html", []byte(`{"access_token":"access_x","refresh_token":"refresh_y","expires_in":3600,"token_type":"bearer"}`))
	f.Add(400, "application/json", []byte(`{"error":"invalid_grant"}`))
	f.Add(200, "text/html", []byte(`<html></html>`))
	f.Add(401, "", []byte(`{"error":{"type":"request","message":"m"}}`))
	now := time.Unix(1_700_000_000, 0)
	f.Fuzz(func(t *testing.T, status int, ctype string, body []byte) {
		tok, err := parseTokenResponse(status, http.Header{"Content-Type": {ctype}}, body, maxLifetime, now)
		if err == nil {
			if tok.AccessToken == "" || tok.Lifetime < 0 || tok.Lifetime > maxLifetime {
				t.Fatalf("accepted an unusable token: lifetime %v", tok.Lifetime)
			}
			if status < 200 || status > 299 {
				t.Fatalf("accepted a token with status %d", status)
			}
			return
		}
		var te *ErrorResponse
		if errors.As(err, &te) {
			for _, s := range []string{te.Code, te.Description} {
				if Sanitize(s, 200) != s {
					t.Fatalf("unsanitised error text %q", s)
				}
			}
		}
		// The error may name the (sanitised, quoted) Content-Type's media
		// type: body text counts only outside that part of the message.
		msg := err.Error()
		if mt, _, perr := mime.ParseMediaType(ctype); perr == nil || mt != "" {
			msg = strings.ReplaceAll(msg, fmt.Sprintf("%q", Sanitize(mt, 64)), "")
		}
		if len(body) > 8 && strings.Contains(msg, string(body)) && !strings.Contains(ctype, string(body)) {
			t.Fatalf("error echoes the body")
		}
	})
}

// FuzzSanitize: whatever the provider sends, sanitised text holds only RFC
// 6749 Appendix A characters minus quote and backslash, and is bounded.
func FuzzSanitize(f *testing.F) {
	for _, s := range []string{`<script>alert(1)</script>`, `"><img onerror=x>`, "a\x00b\nc", "\u202e\uff0f", `javascript:alert(1)`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Sanitize(s, 200)
		if len(out) > 200 {
			t.Fatalf("too long: %d", len(out))
		}
		for i := 0; i < len(out); i++ {
			if c := out[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
				t.Fatalf("kept byte %#x", c)
			}
		}
		if Sanitize(out, 200) != out {
			t.Fatalf("not idempotent")
		}
	})
}

// FuzzJSONString: the fast path decodes exactly as encoding/json does.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{`"abc"`, `"a\"b"`, `"\u00e9"`, "\"\xff\"", `""`, `"é"`, `1`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var want string
		if json.Unmarshal(raw, &want) != nil {
			return
		}
		var got string
		if !jsonString(raw, &got) || got != want {
			t.Fatalf("jsonString(%q) = %q, encoding/json says %q", raw, got, want)
		}
	})
}

// FuzzReadTokenFields: splitting a JSON document without a map finds
// exactly the members encoding/json finds when it decodes into a map (last
// repeated member wins, escaped names decoded), and byte-for-byte the same
// raw values.
func FuzzReadTokenFields(f *testing.F) {
	for _, s := range []string{
		`{"access_token":"a","refresh_token":"r","expires_in":3600,"token_type":"bearer","scope":"x y"}`,
		` { "access_token" : "a" , "expires_in" : 1e3 } `,
		`{"access\u005ftoken":"escaped name","access_token":"later wins"}`,
		`{"error":{"type":"request","message":"m","nested":[1,{"a":"}"}]},"error_description":"d"}`,
		`{"id_token":"eyJ","x":[],"y":{},"z":null,"w":true,"v":"a\"b\\"}`,
		`{}`, `[]`, `"s"`, `null`, `{"a":"\u00e9\ud83d\ude00"}`, "{\"\xff\":1}",
	} {
		f.Add([]byte(s))
	}
	known := map[string]func(*tokenFields) json.RawMessage{
		"access_token":      func(t *tokenFields) json.RawMessage { return t.access },
		"refresh_token":     func(t *tokenFields) json.RawMessage { return t.refresh },
		"token_type":        func(t *tokenFields) json.RawMessage { return t.tokenType },
		"expires_in":        func(t *tokenFields) json.RawMessage { return t.expiresIn },
		"scope":             func(t *tokenFields) json.RawMessage { return t.scope },
		"error":             func(t *tokenFields) json.RawMessage { return t.errCode },
		"error_description": func(t *tokenFields) json.RawMessage { return t.errDesc },
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		got, isObject := readTokenFields(doc) // any bytes: never a panic
		var want map[string]json.RawMessage
		err := json.Unmarshal(doc, &want)
		if isObject != (err == nil && want != nil) {
			t.Fatalf("isObject = %v, encoding/json: err %v, map %v", isObject, err, want != nil)
		}
		if !isObject {
			return
		}
		other := false
		for k := range want {
			if _, ok := known[k]; !ok || k == "error_description" {
				other = true
			}
		}
		if got.other != other {
			t.Fatalf("other = %v, want %v", got.other, other)
		}
		for name, field := range known {
			w, present := want[name]
			g := field(&got)
			if present != (g != nil) || string(bytes.TrimSpace(w)) != string(g) {
				t.Fatalf("%s: got %q, encoding/json has %q (present %v)", name, g, w, present)
			}
		}
	})
}

func TestSmallSeconds(t *testing.T) {
	for raw, want := range map[string]int{"0": 0, "7": 7, "3600": 3600, "123456789": 123456789} {
		n, ok := smallSeconds([]byte(raw))
		assert.True(t, ok, raw)
		assert.Equal(t, want, n, raw)
	}
	for _, raw := range []string{"", "1234567890", "1.5", "1e3", "-1", "12 "} {
		_, ok := smallSeconds([]byte(raw))
		assert.False(t, ok, "%q must take strconv's path", raw)
	}
}
