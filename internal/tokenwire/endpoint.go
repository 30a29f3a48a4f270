// Package tokenwire speaks OAuth 2.0 to a token endpoint (RFC 6749 §3.2)
// and a revocation endpoint (RFC 7009): it builds the form bodies, applies
// the pinned client authentication (RFC 6749 §2.3.1), sends one request
// without following redirects, and parses and validates the answer
// (RFC 6749 §5.1 and §5.2).
//
// Nothing here knows the root package's Config or Connector: New takes a
// Config of plain values, and errors come back as *ErrorResponse (the
// provider answered with an error) or *MalformedError (the answer is not a
// usable token), which the caller converts to its own types. No error
// carries a response body, a client secret or a token.
package tokenwire

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// MaxBody caps what is read from a token or revocation endpoint
// (golang.org/x/oauth2 uses the same 1 MiB).
const MaxBody = 1 << 20

// AuthStyle is how the client authenticates (RFC 6749 §2.3.1). It is
// pinned: nothing here probes one style after the other, since resending a
// code or a rotated refresh token makes some providers revoke the grant.
type AuthStyle int

const (
	// AuthBasic sends the form-encoded client_id:client_secret as HTTP
	// Basic credentials.
	AuthBasic AuthStyle = iota + 1
	// AuthInBody sends client_id and client_secret as form fields.
	AuthInBody
)

// Config is what an Endpoint needs. It is read once, by New.
type Config struct {
	// TokenURL is the token endpoint (RFC 6749 §3.2).
	TokenURL string
	// RevokeURL is the revocation endpoint (RFC 7009); empty when there is
	// none, and Revoke then does nothing.
	RevokeURL string
	// RevokeMethod is the revocation request's method; empty means POST
	// (RFC 7009 §2.1).
	RevokeMethod string
	// ClientID and ClientSecret are the client credentials.
	ClientID, ClientSecret string
	// AuthStyle places the credentials.
	AuthStyle AuthStyle
	// RedirectURL is sent as redirect_uri with the code exchange
	// (RFC 6749 §4.1.3).
	RedirectURL string
	// Header is added to every request. It is not copied: the caller must
	// not change it afterwards.
	Header http.Header
	// Transport sends the requests; nil means http.DefaultTransport. It is
	// called directly, not through an http.Client: no redirect is followed
	// and no cookie jar is consulted.
	Transport http.RoundTripper
	// Timeout bounds each call, on top of the caller's context; 0 means no
	// bound of its own.
	Timeout time.Duration
	// MaxLifetime caps expires_in. It must be positive.
	MaxLifetime time.Duration
	// Now is the clock Retry-After dates are read against; nil means
	// time.Now.
	Now func() time.Time
}

// Endpoint sends requests to one provider's token and revocation
// endpoints. It is safe for concurrent use.
type Endpoint struct {
	tokenURL, revokeURL, revokeMethod string
	header                            http.Header
	rt                                http.RoundTripper
	timeout, maxLifetime              time.Duration
	now                               func() time.Time
	// authorization is the Basic credentials header value (AuthBasic).
	authorization []string
	// baseForm starts every request body: the credentials with AuthInBody,
	// else empty. exchangeForm adds the code exchange's fixed parameters.
	baseForm, exchangeForm Form
}

// New precomputes the credentials and fixed form parameters of cfg.
func New(cfg Config) *Endpoint {
	e := &Endpoint{
		tokenURL: cfg.TokenURL, revokeURL: cfg.RevokeURL, revokeMethod: cfg.RevokeMethod,
		header: cfg.Header, rt: cfg.Transport, timeout: cfg.Timeout,
		maxLifetime: cfg.MaxLifetime, now: cfg.Now,
	}
	if e.revokeMethod == "" {
		e.revokeMethod = http.MethodPost
	}
	if e.rt == nil {
		e.rt = http.DefaultTransport
	}
	if e.now == nil {
		e.now = time.Now
	}
	switch cfg.AuthStyle {
	case AuthBasic:
		// RFC 6749 §2.3.1: the credentials are form-encoded before Basic.
		creds := url.QueryEscape(cfg.ClientID) + ":" + url.QueryEscape(cfg.ClientSecret)
		e.authorization = []string{"Basic " + base64.StdEncoding.EncodeToString([]byte(creds))}
	case AuthInBody:
		e.baseForm = Form(nil).Add("client_id", cfg.ClientID).Add("client_secret", cfg.ClientSecret)
	}
	e.exchangeForm = append(Form(nil), e.baseForm...).Add("grant_type", "authorization_code").Add("redirect_uri", cfg.RedirectURL)
	return e
}

// Form is an application/x-www-form-urlencoded request body, built in one
// buffer (url.Values would sort and re-encode a map on every call).
type Form []byte

// Add appends one name=value pair, both query-escaped.
func (f Form) Add(name, value string) Form {
	if len(f) > 0 {
		f = append(f, '&')
	}
	f = append(f, url.QueryEscape(name)...)
	f = append(f, '=')
	return append(f, url.QueryEscape(value)...)
}

// Form starts a token or revocation request body; with AuthInBody it
// already holds client_id and client_secret.
func (e *Endpoint) Form() Form {
	return append(make(Form, 0, 384), e.baseForm...)
}

// ExchangeForm starts a code exchange's body (RFC 6749 §4.1.3): Form's,
// with grant_type and redirect_uri.
func (e *Endpoint) ExchangeForm() Form {
	return append(make(Form, 0, 384), e.exchangeForm...)
}

// Token performs one grant at the token endpoint and returns the validated
// token, an *ErrorResponse, a *MalformedError, or the transport's error
// (context deadlines stay recognisable with errors.Is). It never retries:
// a resent code makes the provider revoke what it issued (RFC 6749
// §4.1.2), so retries are the caller's decision. form is not modified, so
// a caller may send it again.
func (e *Endpoint) Token(ctx context.Context, form Form) (*Token, error) {
	ctx, cancel := within(ctx, e.timeout)
	defer cancel()
	status, header, body, err := e.call(ctx, http.MethodPost, e.tokenURL, form)
	if err != nil {
		return nil, err
	}
	return parseTokenResponse(status, header, body, e.maxLifetime, e.now())
}

// Revoke revokes one token (RFC 7009 §2.1); hint is "access_token" or
// "refresh_token". Without a revocation endpoint it does nothing. Any 2xx
// answer is success (RFC 7009 §2.2 says 200; some providers answer 204);
// any other is an *ErrorResponse.
func (e *Endpoint) Revoke(ctx context.Context, token, hint string) error {
	if e.revokeURL == "" {
		return nil
	}
	ctx, cancel := within(ctx, e.timeout)
	defer cancel()
	form := e.Form().Add("token", token).Add("token_type_hint", hint)
	status, header, body, err := e.call(ctx, e.revokeMethod, e.revokeURL, form)
	if err != nil {
		return err
	}
	return parseRevocationResponse(status, header, body, e.now())
}

var (
	hdrFormContent = []string{"application/x-www-form-urlencoded"}
	hdrAcceptJSON  = []string{"application/json"}
)

// call sends one form request with the pinned client authentication. It
// follows no redirect (a 307/308 would replay the code, secret or refresh
// token) and reads at most MaxBody bytes.
func (e *Endpoint) call(ctx context.Context, method, endpoint string, form Form) (status int, header http.Header, body []byte, err error) {
	req, err := http.NewRequestWithContext(ctx, method, endpoint, bytes.NewReader(form))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("building token request: %w", err)
	}
	for k, vs := range e.header {
		req.Header[k] = vs
	}
	req.Header["Content-Type"] = hdrFormContent
	req.Header["Accept"] = hdrAcceptJSON
	if e.authorization != nil {
		req.Header["Authorization"] = e.authorization
	}
	resp, err := e.rt.RoundTrip(req)
	if err == nil && resp == nil {
		err = errors.New("transport returned no response")
	}
	if err != nil {
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		return 0, nil, nil, fmt.Errorf("%s %s: %w", method, redactURL(endpoint), unwrapURLError(err))
	}
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		return resp.StatusCode, resp.Header, nil, malformed(fmt.Sprintf("endpoint answered redirect %d, not followed", resp.StatusCode))
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return resp.StatusCode, resp.Header, nil, fmt.Errorf("reading token response: %w", err)
	}
	if len(body) > MaxBody {
		return resp.StatusCode, resp.Header, nil, malformed(fmt.Sprintf("body larger than %d bytes", MaxBody))
	}
	return resp.StatusCode, resp.Header, body, nil
}

// within bounds ctx by d (0: not at all), reusing ctx when its own
// deadline already comes first (a context.WithTimeout costs a timer and
// several allocations).
func within(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return ctx, func() {}
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
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
