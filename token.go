package oauthlink

import (
	"bytes"
	"context"
	"encoding/base64"
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

	"github.com/oauthlink/oauthlink/internal/retry"
)

// maxTokenBody caps what is read from a token or revocation endpoint
// (golang.org/x/oauth2 uses the same 1 MiB).
const maxTokenBody = 1 << 20

// tokenResponse is a parsed, validated RFC 6749 §5.1 answer.
type tokenResponse struct {
	AccessToken  string
	RefreshToken string
	TokenType    string
	// Lifetime is expires_in normalised: 0 when the answer gave none (or
	// nonsense: zero, negative, not a number), never above the provider's
	// maximum. tokenExpiry turns it into Connection.Expiry.
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

// tokenFields are the members of a token endpoint's JSON object that
// oauthlink reads, as raw JSON (nil when absent), plus whether any other
// member is present.
type tokenFields struct {
	access, refresh, tokenType, expiresIn, scope json.RawMessage
	errCode, errDesc                             json.RawMessage
	other                                        bool
}

// readTokenFields splits a JSON object into the fields above without
// building a map. isObject is false unless doc is valid JSON whose value is
// an object. Once json.Valid has checked the document, only its top level
// is walked. A repeated member keeps its last value, and a name written with
// escapes is decoded first, both exactly as encoding/json decodes into a
// map (checked by FuzzReadTokenFields).
func readTokenFields(doc []byte) (f tokenFields, isObject bool) {
	if !json.Valid(doc) {
		return f, false
	}
	i := skipSpace(doc, 0)
	if doc[i] != '{' {
		return f, false
	}
	i++
	for {
		i = skipSpace(doc, i)
		switch doc[i] {
		case '}':
			return f, true
		case ',':
			i = skipSpace(doc, i+1)
		}
		kEnd := skipValue(doc, i)
		key := doc[i:kEnd]
		i = skipSpace(doc, kEnd)
		i = skipSpace(doc, i+1) // the colon
		vEnd := skipValue(doc, i)
		val := json.RawMessage(doc[i:vEnd:vEnd])
		i = vEnd
		name := key[1 : len(key)-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			var s string
			jsonString(key, &s)
			name = []byte(s)
		}
		switch string(name) {
		case "access_token":
			f.access = val
		case "refresh_token":
			f.refresh = val
		case "token_type":
			f.tokenType = val
		case "expires_in":
			f.expiresIn = val
		case "scope":
			f.scope = val
		case "error":
			f.errCode = val
		case "error_description":
			f.errDesc = val
			f.other = true // kept in Extra on success, as before
		default:
			f.other = true
		}
	}
}

// skipSpace returns the index of the first non-whitespace byte at or after i.
func skipSpace(doc []byte, i int) int {
	for i < len(doc) && (doc[i] == ' ' || doc[i] == '\t' || doc[i] == '\n' || doc[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just past the JSON value starting at i, in a
// document json.Valid accepted.
func skipValue(doc []byte, i int) int {
	depth := 0
	for ; i < len(doc); i++ {
		switch c := doc[i]; c {
		case '"':
			for i++; doc[i] != '"'; i++ {
				if doc[i] == '\\' {
					i++
				}
			}
			if depth == 0 {
				return i + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 { // the end of the enclosing container
				return i
			}
			if depth--; depth == 0 {
				return i + 1
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i
			}
		}
	}
	return i
}

// parseTokenResponse turns a token endpoint's answer into a token or a typed
// error. The body is parsed as JSON whatever the Content-Type (Mollie sends
// text/html); it never appears in an error.
func parseTokenResponse(status int, header http.Header, body []byte, p *Provider, now time.Time) (*tokenResponse, error) {
	fields, isObject := readTokenFields(body)
	if status < 200 || status > 299 {
		te := &ProviderError{StatusCode: status, RetryAfter: parseRetryAfter(header.Get("Retry-After"), now)}
		if isObject {
			te.Code, te.Description = errorFields(fields.errCode, fields.errDesc)
		}
		return nil, te
	}
	if !isObject {
		mt, _, _ := mime.ParseMediaType(header.Get("Content-Type"))
		return nil, fmt.Errorf("%w: status %d body is not a JSON object (content type %q, %d bytes)",
			errTokenResponse, status, sanitize(mt, 64), len(body))
	}
	if fields.errCode != nil {
		te := &ProviderError{StatusCode: status}
		te.Code, te.Description = errorFields(fields.errCode, fields.errDesc)
		return nil, te
	}
	t := &tokenResponse{}
	if !jsonString(fields.access, &t.AccessToken) || t.AccessToken == "" {
		return nil, fmt.Errorf("%w: missing access_token", errTokenResponse)
	}
	if raw := fields.refresh; raw != nil && string(raw) != "null" && !jsonString(raw, &t.RefreshToken) {
		return nil, fmt.Errorf("%w: refresh_token is not a string", errTokenResponse)
	}
	t.TokenType = "Bearer"
	if raw := fields.tokenType; raw != nil && string(raw) != "null" && !isBearer(raw) {
		return nil, fmt.Errorf("%w: token_type is not bearer", errTokenResponse)
	}
	if raw := fields.scope; raw != nil && string(raw) != "null" {
		t.ScopeSet = jsonString(raw, &t.Scope)
	}
	t.Lifetime = normaliseLifetime(fields.expiresIn, p.MaxTokenLifetime)
	if fields.other {
		t.Extra = extraFields(body)
	}
	return t, nil
}

// isBearer reports whether a raw token_type is the string "bearer" in any
// case (RFC 6749 §5.1: case-insensitive).
func isBearer(raw json.RawMessage) bool {
	if len(raw) == 8 && raw[0] == '"' && raw[7] == '"' {
		return strings.EqualFold(string(raw[1:7]), "bearer")
	}
	var tt string
	return jsonString(raw, &tt) && strings.EqualFold(tt, "bearer")
}

// extraFields returns a JSON object of the non-standard members of a valid
// token response, or nil. Only responses that carry such members (Qonto's
// id_token) pay for the map.
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
// that is not a positive number of seconds yields 0, "not given": what that
// means is tokenExpiry's decision, not a silent immortality
// (golang.org/x/oauth2 treats a zero expiry as "never expires", issue 738).
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

// tokenExpiry is when a token from tok stops working, as stored in
// Connection.Expiry:
//
//   - expires_in given: now plus it (capped at Provider.MaxTokenLifetime);
//   - no expires_in, but a refresh token: now plus
//     Provider.DefaultTokenLifetime, so the token is refreshed ahead of an
//     expiry the provider did not state rather than failing at it;
//   - neither (long-lived tokens: GoCardless, Shopify offline tokens): the
//     zero time. Such a token is used until the provider's API rejects it
//     (a 401 through Client marks the connection reauth_required); it is
//     never expired by guess.
func (e *engine) tokenExpiry(now time.Time, tok *tokenResponse, refreshToken string) time.Time {
	switch {
	case tok.Lifetime > 0:
		return now.Add(tok.Lifetime)
	case refreshToken != "":
		return now.Add(e.provider.DefaultTokenLifetime)
	}
	return time.Time{}
}

// smallSeconds reads a JSON number of at most 9 digits and nothing else.
func smallSeconds(raw []byte) (n int, ok bool) {
	if len(raw) == 0 || len(raw) > 9 {
		return 0, false
	}
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
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
	return sanitize(code, 64), sanitize(desc, 200)
}

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP date
// (RFC 9110 §10.2.3) with the module's one parser: 0 when absent or
// malformed, capped at one hour, saturating instead of overflowing.
func parseRetryAfter(v string, now time.Time) time.Duration { return retry.After(v, now) }

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

// formBody is an application/x-www-form-urlencoded request body, built in
// one buffer (url.Values would sort and re-encode a map on every call).
type formBody []byte

// add appends one name=value pair, both query-escaped.
func (f formBody) add(name, value string) formBody {
	if len(f) > 0 {
		f = append(f, '&')
	}
	f = append(f, url.QueryEscape(name)...)
	f = append(f, '=')
	return append(f, url.QueryEscape(value)...)
}

// newForm starts a token or revocation request body; with AuthStyleBody it
// already holds client_id and client_secret.
func (e *engine) newForm() formBody {
	return append(make(formBody, 0, 384), e.endpoint.baseForm...)
}

// newExchangeForm starts a code exchange's body: newForm's, with grant_type
// and redirect_uri (escaped once, in New).
func (e *engine) newExchangeForm() formBody {
	return append(make(formBody, 0, 384), e.endpoint.exchangeForm...)
}

// endpoint is what New precomputes for the calls to the token and
// revocation endpoints.
type endpoint struct {
	// rt sends the requests: HTTPClient's Transport, or
	// http.DefaultTransport. Requests go to it directly, not through
	// http.Client, since oauthlink follows no redirect and needs no cookie
	// jar here.
	rt http.RoundTripper
	// timeout is HTTPClient.Timeout (30 seconds without an HTTPClient),
	// applied on top of ExchangeTimeout.
	timeout time.Duration
	// authorization is the Basic credentials header value (AuthStyleBasic).
	authorization []string
	// baseForm is the start of every request body: the credentials with
	// AuthStyleBody, else empty. exchangeForm adds the code exchange's
	// fixed parameters.
	baseForm, exchangeForm formBody
}

// newEndpoint derives the endpoint settings from the config.
func newEndpoint(cfg *Config, p *Provider) endpoint {
	e := endpoint{rt: http.DefaultTransport, timeout: 30 * time.Second}
	if cl := cfg.HTTPClient; cl != nil {
		e.timeout = cl.Timeout
		if cl.Transport != nil {
			e.rt = cl.Transport
		}
	}
	if p.AuthStyle == AuthStyleBasic {
		// RFC 6749 §2.3.1: the credentials are form-encoded before Basic.
		creds := url.QueryEscape(cfg.ClientID) + ":" + url.QueryEscape(cfg.ClientSecret)
		e.authorization = []string{"Basic " + base64.StdEncoding.EncodeToString([]byte(creds))}
	}
	if p.AuthStyle == AuthStyleBody {
		e.baseForm = formBody(nil).add("client_id", cfg.ClientID).add("client_secret", cfg.ClientSecret)
	}
	e.exchangeForm = append(formBody(nil), e.baseForm...).add("grant_type", "authorization_code").add("redirect_uri", cfg.RedirectURL)
	return e
}

var (
	hdrFormContent = []string{"application/x-www-form-urlencoded"}
	hdrAcceptJSON  = []string{"application/json"}
)

// endpointCall sends one form POST (or DELETE) to a token or revocation
// endpoint with the provider's pinned client authentication. It follows no
// redirect (a 307/308 would replay the code, secret or refresh token) and
// reads at most maxTokenBody bytes. form is not modified, so a caller may
// send it again.
func (e *engine) endpointCall(ctx context.Context, method, endpoint string, form formBody) (status int, header http.Header, body []byte, err error) {
	if e.endpoint.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = within(ctx, e.endpoint.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, method, endpoint, bytes.NewReader(form))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("oauthlink: building token request: %w", err)
	}
	for k, vs := range e.provider.Header {
		req.Header[k] = vs
	}
	req.Header["Content-Type"] = hdrFormContent
	req.Header["Accept"] = hdrAcceptJSON
	if e.endpoint.authorization != nil {
		req.Header["Authorization"] = e.endpoint.authorization
	}
	resp, err := e.endpoint.rt.RoundTrip(req)
	if err == nil && resp == nil {
		err = errors.New("transport returned no response")
	}
	if err != nil {
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		return 0, nil, nil, fmt.Errorf("oauthlink: %s %s: %w", method, redactURL(endpoint), unwrapURLError(err))
	}
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		return resp.StatusCode, resp.Header, nil, fmt.Errorf("%w: endpoint answered redirect %d, not followed", errTokenResponse, resp.StatusCode)
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxTokenBody+1))
	if err != nil {
		return resp.StatusCode, resp.Header, nil, fmt.Errorf("oauthlink: reading token response: %w", err)
	}
	if len(body) > maxTokenBody {
		return resp.StatusCode, resp.Header, nil, fmt.Errorf("%w: body larger than %d bytes", errTokenResponse, maxTokenBody)
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
func (e *engine) tokenRequest(ctx context.Context, form formBody) (*tokenResponse, error) {
	ctx, cancel := within(ctx, e.opts.ExchangeTimeout)
	defer cancel()
	status, header, body, err := e.endpointCall(ctx, http.MethodPost, e.provider.TokenURL, form)
	if err != nil {
		return nil, err
	}
	return parseTokenResponse(status, header, body, &e.provider, e.now())
}

// revoke revokes one token (RFC 7009 §2.1; Mollie: DELETE with a body,
// 204). hint is "access_token" or "refresh_token".
func (e *engine) revoke(ctx context.Context, token, hint string) error {
	if e.provider.RevokeURL == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, e.opts.ExchangeTimeout)
	defer cancel()
	form := e.newForm().add("token", token).add("token_type_hint", hint)
	status, header, body, err := e.endpointCall(ctx, e.provider.RevokeMethod, e.provider.RevokeURL, form)
	if err != nil {
		return err
	}
	if status >= 200 && status <= 299 {
		return nil
	}
	te := &ProviderError{StatusCode: status, RetryAfter: parseRetryAfter(header.Get("Retry-After"), e.now())}
	if f, ok := readTokenFields(body); ok {
		te.Code, te.Description = errorFields(f.errCode, f.errDesc)
	}
	return te
}
