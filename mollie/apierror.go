package mollie

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/internal/apiclient"
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

// HTTPStatus is the status oauthlink.HTTPStatus, and so the Connector's
// error page, answers for this error: 422 when Mollie refused the data
// (the user can fix the form), 503 when Mollie throttles (429: try again
// later), and 502 for every other refusal or failure (Mollie failed, or
// refused our credentials: nothing the user can fix).
func (e *APIError) HTTPStatus() int {
	switch e.StatusCode {
	case http.StatusUnprocessableEntity:
		return http.StatusUnprocessableEntity
	case http.StatusTooManyRequests:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadGateway
}

// Unwrap returns, for a 422 that names a Field, an *oauthlink.ParamError
// naming it (so errors.Is(err, oauthlink.ErrBadRequest) holds and the
// Connector's default error page names the field Mollie refused, not its
// detail); else nil.
func (e *APIError) Unwrap() error {
	if e.StatusCode == http.StatusUnprocessableEntity && e.Field != "" {
		return &oauthlink.ParamError{Param: e.Field}
	}
	return nil
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
	e.Title = apiclient.Sanitize(title, maxTitle)
	e.Detail = apiclient.Sanitize(detail, maxDetail)
	e.Field = apiclient.Sanitize(field, maxField)
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
	if len(s) > maxDocURL || apiclient.Sanitize(s, maxDocURL) != s {
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
