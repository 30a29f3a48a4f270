package mollie

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/oauthlink/oauthlink/internal/retry"
)

// APIError is an error answer (status 400 or more) from Mollie's REST API.
// Mollie answers errors as HAL+JSON: {status, title, detail, field?,
// _links.documentation{href,type}}. Bodies in other
// shapes (an HTML error page, an empty or truncated body, OAuth-style
// {error, error_description}, Mollie's legacy {error:{type,message,field}})
// still give an APIError with the HTTP status; the raw body is never kept.
//
// Title, Detail and Field are provider text cut down to printable ASCII
// without '"' or '\' and capped in length, but they remain provider text:
// escape them on output.
type APIError struct {
	// StatusCode is the HTTP status of the answer (not the body's "status",
	// which could disagree).
	StatusCode int
	// Title is Mollie's short title, e.g. "Unprocessable Entity"; the
	// standard status text when the body has none.
	Title string
	// Detail is Mollie's explanation, e.g. "The 'owner' field is missing";
	// may be empty.
	Detail string
	// Field names the request field Mollie rejected (422), e.g. "owner" or
	// "owner.email"; may be empty.
	Field string
	// DocumentationURL is _links.documentation.href when it is an https URL,
	// else empty. Do not render it as a link without need: it is provider
	// data.
	DocumentationURL string
	// RetryAfter is the parsed Retry-After header on 429 and 5xx answers
	// (delay-seconds or an HTTP date, capped at one hour), else 0. Mollie
	// documents 429 (rate limits) on every endpoint.
	RetryAfter time.Duration
}

// Error describes the failure without any secret and without the body.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mollie: API answered %d", e.StatusCode)
	if e.Title != "" {
		b.WriteString(" ")
		b.WriteString(e.Title)
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, " (field %s)", e.Field)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Temporary reports whether trying again later may succeed: 429 or 5xx.
func (e *APIError) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// Caps on the provider text kept in an APIError.
const (
	maxTitle  = 100
	maxDetail = 300
	maxField  = 100
	maxDocURL = 300
)

// parseAPIError turns an error answer into an *APIError. It never fails and
// never keeps the body: whatever cannot be read as one of Mollie's error
// shapes is dropped, leaving the status.
func parseAPIError(status int, header http.Header, body []byte, now time.Time) *APIError {
	e := &APIError{StatusCode: status}
	if status == http.StatusTooManyRequests || status >= 500 {
		e.RetryAfter = retry.After(header.Get("Retry-After"), now)
	}
	var fields map[string]json.RawMessage
	if len(body) <= maxBody && json.Unmarshal(body, &fields) == nil {
		readErrorFields(e, fields)
	}
	if e.Title == "" {
		e.Title = http.StatusText(status)
	}
	return e
}

func readErrorFields(e *APIError, fields map[string]json.RawMessage) {
	var title, detail, field string
	jsonString(fields["title"], &title)
	jsonString(fields["detail"], &detail)
	jsonString(fields["field"], &field)
	if raw, ok := fields["error"]; ok {
		// OAuth-style {error, error_description} (a refused bearer token) or
		// Mollie's legacy {error: {type, message, field}}.
		var legacy struct {
			Type    string `json:"type"`
			Message string `json:"message"`
			Field   string `json:"field"`
		}
		var code string
		if jsonString(raw, &code) {
			var desc string
			jsonString(fields["error_description"], &desc)
			title, detail = firstNonEmpty(title, code), firstNonEmpty(detail, desc)
		} else if json.Unmarshal(raw, &legacy) == nil {
			title = firstNonEmpty(title, legacy.Type)
			detail = firstNonEmpty(detail, legacy.Message)
			field = firstNonEmpty(field, legacy.Field)
		}
	}
	e.Title = sanitize(title, maxTitle)
	e.Detail = sanitize(detail, maxDetail)
	e.Field = sanitize(field, maxField)
	var links struct {
		Documentation struct {
			Href string `json:"href"`
		} `json:"documentation"`
	}
	if raw, ok := fields["_links"]; ok && json.Unmarshal(raw, &links) == nil {
		e.DocumentationURL = docURL(links.Documentation.Href)
	}
}

// docURL keeps an https URL of sane length, else "".
func docURL(s string) string {
	if len(s) > maxDocURL || sanitize(s, maxDocURL) != s {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return ""
	}
	return s
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func jsonString(raw json.RawMessage, dst *string) bool {
	return len(raw) > 0 && json.Unmarshal(raw, dst) == nil
}

// sanitize keeps only printable ASCII without '"' and '\' (the characters
// RFC 6749 Appendix A allows in error descriptions, as the root package
// does) and at most n of them, so provider text cannot carry markup quotes,
// control bytes, terminal escapes or Unicode look-alikes into logs or pages.
// Callers still escape on output.
func sanitize(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < n; i++ {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			b.WriteByte(c)
		}
	}
	return strings.TrimSpace(b.String())
}
