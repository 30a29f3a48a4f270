package oauthlink

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Sentinel errors. Test with errors.Is; the handlers wrap them with context
// that never contains a secret.
var (
	// ErrConfig reports an invalid Config or Provider, from New, or an app
	// wired wrongly (ConnectionFromContext without the Load middleware).
	ErrConfig = errors.New("oauthlink: invalid configuration")
	// ErrInvalidState: the callback's state is missing, malformed, does
	// not match its cookie, belongs to another provider or route, the
	// cookie is missing (ErrNoFlowCookie) or fails authentication, or the
	// issuer is missing or wrong (ErrIssuer).
	// HTTP 400.
	ErrInvalidState = errors.New("oauthlink: invalid state")
	// ErrStateExpired: the flow is older than Config.Flow.TTL. HTTP 400.
	ErrStateExpired = errors.New("oauthlink: flow expired")
	// ErrStateReplayed: this state was already consumed by an earlier
	// callback (ErrAlreadyConnected when the owner is connected). HTTP 400.
	ErrStateReplayed = errors.New("oauthlink: state already used")
	// ErrOwnerMismatch: the callback arrived in another platform account's
	// session than the one that started the flow (connection CSRF). HTTP 403.
	ErrOwnerMismatch = errors.New("oauthlink: flow belongs to another account")
	// ErrNoOwner: Config.Owner returned an error or an empty owner (the user
	// is not logged in). HTTP 401.
	ErrNoOwner = errors.New("oauthlink: no authenticated owner")
	// ErrBadRequest: the callback, start or disconnect request is malformed
	// (repeated or oversized parameters, both code and error, no code, an
	// oversized form, and errInvalidParam: a return-to that is not a
	// relative path, an extra parameter not allowed), or a request through
	// Connector.Client goes to a host other than the provider's API.
	// HTTP 400.
	ErrBadRequest = errors.New("oauthlink: bad request")
	// ErrExchange: the code exchange failed (network, timeout, provider
	// error, malformed response). The code is never retried. HTTP 502.
	ErrExchange = errors.New("oauthlink: token exchange failed")
	// ErrRefresh: the provider did not refresh the token: no answer
	// (network, timeout), an error status other than a refused grant (that
	// is ErrReauthRequired), or a malformed answer (errTokenResponse). A
	// *ProviderError stays in the chain when the provider answered. The stored
	// connection is unchanged; a later call tries again. HTTP 502.
	ErrRefresh = errors.New("oauthlink: refresh failed")
	// ErrRevoke: the provider did not confirm the revocation of a grant
	// (no answer, an error status); a *ProviderError stays in the chain when
	// the provider answered. Disconnect keeps the record as
	// store.StatusDisconnected with the grants still to revoke; calling it again
	// retries. HTTP 502.
	ErrRevoke = errors.New("oauthlink: revocation failed")
	// ErrStore: the store failed. HTTP 500 (503 when unreachable before
	// the code was spent: ErrStoreUnavailable).
	ErrStore = errors.New("oauthlink: token store failed")
	// errCookieTooLarge: the encoded state cookie would exceed the 4096-byte
	// browser limit. HTTP 400.
	errCookieTooLarge = errors.New("oauthlink: state cookie too large")
	// errTokenResponse: the token endpoint answered something that is not a
	// usable token (not JSON, no access_token, wrong token type, body too
	// large). The body is never included in the error.
	errTokenResponse = errors.New("oauthlink: malformed token response")
	// ErrReauthRequired: the provider refused the refresh token and no newer
	// token exists; the connection is marked store.StatusReauthRequired and the
	// user must connect again.
	ErrReauthRequired = errors.New("oauthlink: reconnect required")
	// ErrDisconnected: the connection was disconnected, or the merchant
	// revoked consent at the provider (store.StatusRevoked; the message
	// says so).
	ErrDisconnected = errors.New("oauthlink: connection disconnected")
	// errNoRefreshToken: ForceRefresh was asked of a connection that has no
	// refresh token (a provider that issues long-lived access tokens, or a
	// rotating provider that answered a refresh without one). Nothing was
	// changed; the access token is used until it expires or the provider
	// rejects it.
	// It wraps ErrRefresh: there is nothing to refresh with.
	errNoRefreshToken = fmt.Errorf("%w: connection has no refresh token", ErrRefresh)
	// errTooManyFlows: the owner already has maxFlowsPerOwner callbacks
	// recorded in the replay guard that have not expired (each stays
	// FlowTTL plus a minute), so this callback is refused before its state
	// is recorded or its code spent. It keeps one signed-in user from
	// filling a replay guard that every owner shares; other owners are
	// unaffected, and the owner can connect again once the window has
	// passed. A person connecting an account never comes near the limit.
	// HTTP 429.
	errTooManyFlows = errors.New("oauthlink: too many connect flows for this account; try again later")
)

// ProviderError is an OAuth error answer from the provider: on the
// callback (RFC 6749 §4.1.2.1: error, error_description, error_uri), where
// StatusCode is 0, or from the token or revocation endpoint (RFC 6749
// §5.2), or a non-2xx status without an error body there. Description and
// URI are sanitised to RFC 6749 Appendix A characters and at most 200
// characters, but remain provider text: render them escaped, never as a
// link. A response body is never included.
type ProviderError struct {
	// StatusCode is the token or revocation endpoint's HTTP status; 0 for
	// an error the provider sent back on the callback.
	StatusCode int
	// Code is the OAuth error code ("access_denied", "invalid_grant"), or
	// Mollie's legacy error type; empty when the answer carried none.
	Code string
	// Description is the sanitised error_description (or legacy message).
	Description string
	// URI is the sanitised error_uri of a callback error.
	URI string
	// RetryAfter is the endpoint's parsed Retry-After header (whole
	// seconds or an HTTP date; malformed or past values give 0, anything
	// over an hour gives one hour), else 0.
	RetryAfter time.Duration
}

// Error describes the answer: the status or the callback, the code and
// the sanitised description.
func (e *ProviderError) Error() string {
	var b strings.Builder
	if e.StatusCode == 0 {
		b.WriteString("oauthlink: provider returned ")
		b.WriteString(e.Code)
	} else {
		fmt.Fprintf(&b, "oauthlink: token endpoint answered %d", e.StatusCode)
		if e.Code != "" {
			b.WriteString(" ")
			b.WriteString(e.Code)
		}
	}
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(e.Description)
	}
	return b.String()
}

// Cancelled reports whether the user declined on the provider's consent
// page (access_denied on the callback), as opposed to every other failure.
func (e *ProviderError) Cancelled() bool { return e.StatusCode == 0 && e.Code == "access_denied" }

// InvalidGrant reports whether the provider rejected the grant (an expired,
// revoked or reused code or refresh token).
func (e *ProviderError) InvalidGrant() bool { return e.Code == "invalid_grant" }

// Temporary reports whether an endpoint's failure may pass: 429 or a 5xx
// status.
func (e *ProviderError) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// HTTPStatus maps an error to the status the default error hook answers
// with. An error of another package may choose its own: the first error in
// err's chain (outermost first, as errors.As walks it) that has a method
// HTTPStatus() int returning 400 to 599 decides. The mollie package's
// client-link errors do so: 422 for a form Mollie would refuse, 502 or 503
// when Mollie fails. Otherwise this package's sentinels decide, as each
// one's documentation says; anything else is 500.
func HTTPStatus(err error) int {
	status, pe := chainFacts(err)
	if status != 0 {
		return status
	}
	switch {
	case errors.Is(err, ErrOwnerMismatch), errors.Is(err, ErrCrossOrigin):
		return http.StatusForbidden
	case errors.Is(err, errTooManyFlows):
		return http.StatusTooManyRequests
	case errors.Is(err, ErrNoOwner):
		return http.StatusUnauthorized
	case errors.Is(err, ErrInvalidState), errors.Is(err, ErrStateExpired),
		errors.Is(err, ErrStateReplayed), errors.Is(err, ErrBadRequest),
		errors.Is(err, errCookieTooLarge):
		return http.StatusBadRequest
	case pe != nil:
		if pe.Cancelled() {
			return http.StatusForbidden
		}
		return http.StatusBadGateway
	case errors.Is(err, ErrExchange), errors.Is(err, ErrRefresh), errors.Is(err, ErrRevoke):
		return http.StatusBadGateway
	case errors.Is(err, ErrStoreUnavailable):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// chainFacts walks err's chain once, depth first as errors.As does, for
// the status the first error that chooses one chooses (a method
// HTTPStatus() int returning 400 to 599) and the callback's *ProviderError
// (StatusCode 0). It does not allocate.
func chainFacts(err error) (status int, pe *ProviderError) {
	for err != nil {
		if s, ok := err.(interface{ HTTPStatus() int }); ok && status == 0 {
			if v := s.HTTPStatus(); v >= 400 && v <= 599 {
				status = v
			}
		}
		if p, ok := err.(*ProviderError); ok && pe == nil && p.StatusCode == 0 {
			pe = p
		}
		switch e := err.(type) {
		case interface{ Unwrap() error }:
			err = e.Unwrap()
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				s, p := chainFacts(x)
				if status == 0 {
					status = s
				}
				if pe == nil {
					pe = p
				}
			}
			return status, pe
		default:
			return status, pe
		}
	}
	return status, pe
}

// ErrStoreUnavailable: the store failed its pre-exchange check, so the code
// was not spent; the user can simply try again. HTTP 503.
var ErrStoreUnavailable = fmt.Errorf("%w: unavailable", ErrStore)

// The callback's precise causes. Each wraps the sentinel it refines, so
// errors.Is(err, ErrInvalidState) and errors.Is(err, ErrStateReplayed) still
// hold where they held before; test the precise one first to say more.
var (
	// ErrNoFlowCookie: the browser sent no flow cookie for the callback's
	// state. The flow was started in another browser, the browser did not
	// keep the cookie (blocked, cleared, a private window closed), or the
	// cookie's lifetime has passed. Wraps ErrInvalidState. HTTP 400.
	ErrNoFlowCookie = fmt.Errorf("%w: no flow cookie in this browser", ErrInvalidState)
	// ErrAlreadyConnected: the state was already used, and the owner has an
	// active connection to this provider: the callback was reloaded (back
	// button, reload, a second submit) after it connected. Nothing was
	// changed; the app may simply show the connection. Wraps
	// ErrStateReplayed. HTTP 400.
	ErrAlreadyConnected = fmt.Errorf("%w: the account is already connected", ErrStateReplayed)
	// ErrIssuer: the callback's iss parameter (RFC 9207) is missing where
	// the provider requires one (Provider.IssuerRequired), or is not the
	// provider's issuer: the answer may come from another authorization
	// server (a mix-up attack). Wraps ErrInvalidState. HTTP 400.
	ErrIssuer = fmt.Errorf("%w: issuer check failed (RFC 9207)", ErrInvalidState)
	// errIssuerMissing and errIssuerMismatch are ErrIssuer's two cases;
	// the default error page gives each its own sentence.
	errIssuerMissing  = fmt.Errorf("%w: no iss parameter", ErrIssuer)
	errIssuerMismatch = fmt.Errorf("%w: issuer does not match", ErrIssuer)
	// errInvalidParam: a parameter of the start request is invalid; the
	// error is a *ParamError naming it. Wraps ErrBadRequest. HTTP 400.
	errInvalidParam = fmt.Errorf("%w: invalid parameter", ErrBadRequest)
	// ErrCrossOrigin: a handler refused a request another site made the
	// browser send: DisconnectHandler (see Config.Flow.CrossOrigin), or a
	// handler of another package built on Begin (the mollie client-link
	// handler). Nothing was changed. HTTP 403.
	ErrCrossOrigin = errors.New("oauthlink: cross-origin request refused")
)

// ParamError names an invalid parameter of a start request: the
// return-to parameter, or an authorization parameter. It matches
// errInvalidParam (and so ErrBadRequest) and Err with errors.Is.
//
// Config.Flow.AuthParams may return one to have its parameter named on the
// error page. Param is a name, never the rejected value: the value is the
// request's, and is neither stored in the error nor shown.
type ParamError struct {
	// Param is the parameter's name, e.g. "return_to" or "organization_id".
	Param string
	// Err says what is wrong with it, without the value; optional.
	Err error
}

// Error names the parameter and what is wrong with it, never its value.
func (e *ParamError) Error() string {
	s := "oauthlink: bad request: invalid parameter " + paramName(e.Param)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns errInvalidParam and Err.
func (e *ParamError) Unwrap() []error {
	if e.Err == nil {
		return []error{errInvalidParam}
	}
	return []error{errInvalidParam, e.Err}
}

// paramName bounds a parameter name for messages and pages: printable
// ASCII, at most 64 bytes. A name may come from the request (a hook that
// forwards names), so pages escape it too.
func paramName(name string) string { return sanitize(name, 64) }
