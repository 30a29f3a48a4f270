package mollie

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/oauthlink/oauthlink"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

var hugeErrorBody = `{"status":422,"title":"T","detail":"` + strings.Repeat("x", maxBody) + `"}`

type parseAPIErrorCase struct {
	name       string
	status     int
	retryAfter string
	body       string
	want       APIError
}

var parseAPIErrorCases = []parseAPIErrorCase{

	{
		name: "HAL 422 with field and documentation", status: 422,
		body: `{"status":422,"title":"Unprocessable Entity","detail":"The 'owner' field is missing","field":"owner",
			"_links":{"documentation":{"href":"https://docs.mollie.com/overview/handling-errors","type":"text/html"}}}`,
		want: APIError{StatusCode: 422, Title: "Unprocessable Entity", Detail: "The 'owner' field is missing", Field: "owner",
			DocumentationURL: "https://docs.mollie.com/overview/handling-errors"},
	},
	{
		name: "HAL 404 without field", status: 404,
		body: `{"status":404,"title":"Not Found","detail":"No client links for this account"}`,
		want: APIError{StatusCode: 404, Title: "Not Found", Detail: "No client links for this account"},
	},
	{
		name: "429 with Retry-After seconds", status: 429, retryAfter: "7",
		body: `{"status":429,"title":"Too Many Requests","detail":"Slow down"}`,
		want: APIError{StatusCode: 429, Title: "Too Many Requests", Detail: "Slow down", RetryAfter: 7 * time.Second},
	},
	{
		name: "429 with Retry-After date", status: 429, retryAfter: testNow.Add(90 * time.Second).Format(http.TimeFormat),
		body: `{"status":429,"title":"Too Many Requests"}`,
		want: APIError{StatusCode: 429, Title: "Too Many Requests", RetryAfter: 90 * time.Second},
	},
	{
		name: "429 Retry-After capped at an hour", status: 429, retryAfter: "99999999999999999",
		want: APIError{StatusCode: 429, Title: "Too Many Requests", RetryAfter: time.Hour},
	},
	{
		// Over int64 it is still a count of seconds: the cap, not 0.
		name: "429 Retry-After beyond int64 capped at an hour", status: 429, retryAfter: "99999999999999999999",
		want: APIError{StatusCode: 429, Title: "Too Many Requests", RetryAfter: time.Hour},
	},
	{
		name: "429 Retry-After with a sign is malformed", status: 429, retryAfter: "+5",
		want: APIError{StatusCode: 429, Title: "Too Many Requests"},
	},
	{
		name: "429 Retry-After in the past", status: 429, retryAfter: testNow.Add(-time.Hour).Format(http.TimeFormat),
		want: APIError{StatusCode: 429, Title: "Too Many Requests"},
	},
	{
		name: "429 Retry-After garbage", status: 429, retryAfter: "soon",
		want: APIError{StatusCode: 429, Title: "Too Many Requests"},
	},
	{
		name: "Retry-After ignored on 422", status: 422, retryAfter: "5",
		want: APIError{StatusCode: 422, Title: "Unprocessable Entity"},
	},
	{
		name: "503 HTML page", status: 503, retryAfter: "30",
		body: "<html><body><h1>Service Unavailable</h1><script>alert(1)</script></body></html>",
		want: APIError{StatusCode: 503, Title: "Service Unavailable", RetryAfter: 30 * time.Second},
	},
	{name: "empty body", status: 500, want: APIError{StatusCode: 500, Title: "Internal Server Error"}},
	{
		name: "truncated JSON", status: 422, body: `{"status":422,"title":"Unprocessable Entity","detail":"The 'ow`,
		want: APIError{StatusCode: 422, Title: "Unprocessable Entity"},
	},
	{name: "huge body", status: 422, body: hugeErrorBody, want: APIError{StatusCode: 422, Title: "Unprocessable Entity"}},
	{name: "JSON array", status: 400, body: `[1,2,3]`, want: APIError{StatusCode: 400, Title: "Bad Request"}},
	{name: "JSON null", status: 400, body: `null`, want: APIError{StatusCode: 400, Title: "Bad Request"}},
	{
		name: "wrong types are ignored", status: 422,
		body: `{"title":5,"detail":{"a":1},"field":["owner"],"_links":"x"}`,
		want: APIError{StatusCode: 422, Title: "Unprocessable Entity"},
	},
	{
		name: "OAuth-style error", status: 401,
		body: `{"error":"invalid_token","error_description":"The access token is invalid"}`,
		want: APIError{StatusCode: 401, Title: "invalid_token", Detail: "The access token is invalid"},
	},
	{
		name: "legacy Mollie error", status: 422,
		body: `{"error":{"type":"request","message":"The owner email is invalid","field":"owner.email"}}`,
		want: APIError{StatusCode: 422, Title: "request", Detail: "The owner email is invalid", Field: "owner.email"},
	},
	{
		name: "markup, quotes, control bytes and unicode stripped", status: 422,
		body: `{"title":"Bad\u0000 \u001b[31mtitle","detail":"<img src=x onerror=\"alert(1)\">\\ caf\u00e9 \u202eevil","field":"own\ner"}`,
		want: APIError{StatusCode: 422, Title: "Bad [31mtitle", Detail: "<img src=x onerror=alert(1)> caf evil", Field: "owner"},
	},
	{
		name: "documentation link must be https", status: 422,
		body: `{"title":"T","_links":{"documentation":{"href":"javascript:alert(1)"}}}`,
		want: APIError{StatusCode: 422, Title: "T"},
	},
	{
		name: "documentation link with userinfo dropped", status: 422,
		body: `{"title":"T","_links":{"documentation":{"href":"https://user:pw@evil.example/"}}}`,
		want: APIError{StatusCode: 422, Title: "T"},
	},
	{
		name: "long detail capped", status: 422,
		body: `{"title":"T","detail":"` + strings.Repeat("d", 5000) + `"}`,
		want: APIError{StatusCode: 422, Title: "T", Detail: strings.Repeat("d", maxDetail)},
	},
	{name: "unknown status", status: 599, want: APIError{StatusCode: 599}},
}

func TestParseAPIError(t *testing.T) {
	for _, tt := range parseAPIErrorCases {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.retryAfter != "" {
				h.Set("Retry-After", tt.retryAfter)
			}
			got := parseAPIError(tt.status, h, []byte(tt.body), testNow)
			require.NotNil(t, got)
			assert.Equal(t, tt.want, *got)
			checkAPIErrorInvariants(t, got, tt.status, []byte(tt.body))
		})
	}
}

// checkAPIErrorInvariants holds for every input: the status is kept, text
// is sanitised and bounded, the body never comes back whole.
func checkAPIErrorInvariants(t testing.TB, e *APIError, status int, body []byte) {
	t.Helper()
	if e.StatusCode != status {
		t.Fatalf("status %d, want %d", e.StatusCode, status)
	}
	for _, s := range []struct {
		v string
		n int
	}{{e.Title, maxTitle}, {e.Detail, maxDetail}, {e.Field, maxField}, {e.DocumentationURL, maxDocURL}} {
		if len(s.v) > s.n || !utf8.ValidString(s.v) || strings.ContainsAny(s.v, "\"\\\x00\n\r\x1b") {
			t.Fatalf("unsanitised field %q", s.v)
		}
		for i := 0; i < len(s.v); i++ {
			if s.v[i] < 0x20 || s.v[i] > 0x7e {
				t.Fatalf("non-printable byte in %q", s.v)
			}
		}
	}
	if e.DocumentationURL != "" && !strings.HasPrefix(e.DocumentationURL, "https://") {
		t.Fatalf("documentation URL %q is not https", e.DocumentationURL)
	}
	if e.RetryAfter < 0 || e.RetryAfter > time.Hour {
		t.Fatalf("RetryAfter %s out of range", e.RetryAfter)
	}
	msg := e.Error()
	if !strings.HasPrefix(msg, "mollie: API answered ") {
		t.Fatalf("message %q", msg)
	}
	if len(body) > 600 && strings.Contains(msg, string(body)) {
		t.Fatalf("message echoes the body")
	}
	if len(msg) > 700 {
		t.Fatalf("message of %d bytes", len(msg))
	}
}

func TestAPIErrorMessageAndTemporary(t *testing.T) {
	e := &APIError{StatusCode: 422, Title: "Unprocessable Entity", Detail: "The 'owner' field is missing", Field: "owner"}
	assert.Equal(t, "mollie: API answered 422 Unprocessable Entity: The 'owner' field is missing (field owner)", e.Error())
	assert.False(t, e.Temporary())
	e = &APIError{StatusCode: 429, Title: "Too Many Requests", RetryAfter: 3 * time.Second}
	assert.Equal(t, "mollie: API answered 429 Too Many Requests (retry after 3s)", e.Error())
	assert.True(t, e.Temporary())
	assert.True(t, (&APIError{StatusCode: 502}).Temporary())
	assert.False(t, (&APIError{StatusCode: 404}).Temporary())
}

func FuzzParseAPIError(f *testing.F) {
	f.Add(422, "", []byte(`{"status":422,"title":"Unprocessable Entity","detail":"The 'owner' field is missing","field":"owner","_links":{"documentation":{"href":"https://docs.mollie.com/","type":"text/html"}}}`))
	f.Add(429, "120", []byte(`{"status":429,"title":"Too Many Requests"}`))
	f.Add(503, "Wed, 21 Oct 2015 07:28:00 GMT", []byte("<html>down</html>"))
	f.Add(401, "", []byte(`{"error":"invalid_token","error_description":"bad"}`))
	f.Add(422, "", []byte(`{"error":{"type":"request","message":"m","field":"f"}}`))
	f.Add(500, "", []byte(``))
	f.Add(400, "", []byte(`{"title":"`))
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		e := parseAPIError(status, h, body, testNow)
		if e == nil {
			t.Fatal("nil error")
		}
		checkAPIErrorInvariants(t, e, status, body)
		if st := oauthlink.HTTPStatus(e); st != e.HTTPStatus() || (st != 422 && st != 502 && st != 503) {
			t.Fatalf("status %d answers %d", status, st)
		}
	})
}

// TestAPIErrorStatus: the status the Connector's error page answers for an
// error answer from Mollie.
func TestAPIErrorStatus(t *testing.T) {
	for status, want := range map[int]int{422: 422, 429: 503, 400: 502, 401: 502, 404: 502, 500: 502, 503: 502} {
		err := fmt.Errorf("wrapped: %w", &APIError{StatusCode: status})
		assert.Equal(t, want, oauthlink.HTTPStatus(err), "Mollie %d", status)
	}
}
