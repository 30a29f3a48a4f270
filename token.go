package oauthlink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/oauthlink/oauthlink/internal/tokenwire"
)

// tokenResponse is a parsed, validated RFC 6749 §5.1 answer.
type tokenResponse = tokenwire.Token

// formBody is a token or revocation request body.
type formBody = tokenwire.Form

// newEndpoint derives the token and revocation endpoint settings from the
// provider and the defaulted config. HTTPClient contributes its Transport
// (requests go to it directly: no redirect is followed, no cookie jar is
// consulted) and its Timeout, which bounds each call together with
// Tokens.ExchangeTimeout; without an HTTPClient that second bound is 30 seconds.
func newEndpoint(cfg *Config, p *Provider, now func() time.Time) *tokenwire.Endpoint {
	wc := tokenwire.Config{
		TokenURL: p.TokenURL, RevokeURL: p.RevokeURL, RevokeMethod: p.RevokeMethod,
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RedirectURL: cfg.RedirectURL,
		Header: p.Header, Timeout: cfg.Tokens.ExchangeTimeout, MaxLifetime: p.MaxTokenLifetime, Now: now,
	}
	switch p.AuthStyle {
	case AuthStyleBasic:
		wc.AuthStyle = tokenwire.AuthBasic
	case AuthStyleBody:
		wc.AuthStyle = tokenwire.AuthInBody
	}
	clientTimeout := 30 * time.Second
	if cl := cfg.HTTPClient; cl != nil {
		clientTimeout, wc.Transport = cl.Timeout, cl.Transport
	}
	if clientTimeout > 0 && clientTimeout < wc.Timeout {
		wc.Timeout = clientTimeout
	}
	return tokenwire.New(wc)
}

// newForm starts a token or revocation request body; with AuthStyleBody it
// already holds client_id and client_secret.
func (e *engine) newForm() formBody { return e.endpoint.Form() }

// newExchangeForm starts a code exchange's body: newForm's, with grant_type
// and redirect_uri.
func (e *engine) newExchangeForm() formBody { return e.endpoint.ExchangeForm() }

// tokenRequest performs one grant at the token endpoint, bounded by
// ExchangeTimeout. It is never retried here: a retried code makes the
// provider revoke what it issued (RFC 6749 §4.1.2), and refresh retries are
// decided by the caller.
func (e *engine) tokenRequest(ctx context.Context, form formBody) (*tokenResponse, error) {
	tok, err := e.endpoint.Token(ctx, form)
	if err != nil {
		return nil, wireError(err)
	}
	return tok, nil
}

// revoke revokes one grant: with the provider's custom Provider.Revoke
// when it has one (revokeCustom), else one token by RFC 7009 §2.1
// (Mollie: DELETE with a body, 204). hint is "access_token" or
// "refresh_token"; account is the grant's provider account, "" when
// unknown. Without a revocation endpoint it does nothing.
func (e *engine) revoke(ctx context.Context, token, hint, account string) error {
	if e.provider.Revoke != nil {
		return e.revokeCustom(ctx, token, hint, account)
	}
	return wireError(e.endpoint.Revoke(ctx, token, hint))
}

// wireError converts the token client's errors to this package's: an error
// answer to a *ProviderError, an unusable answer to errTokenResponse, and
// anything else (no answer) to an error with the package's prefix that
// keeps its cause.
func wireError(err error) error {
	var er *tokenwire.ErrorResponse
	var me *tokenwire.MalformedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &er):
		return &ProviderError{StatusCode: er.StatusCode, Code: er.Code, Description: er.Description, RetryAfter: er.RetryAfter}
	case errors.As(err, &me):
		return fmt.Errorf("%w: %s", errTokenResponse, me.Reason)
	}
	return fmt.Errorf("oauthlink: %w", err)
}

// tokenExpiry is when a token from tok stops working, as stored in
// Connection.Expiry:
//
//   - expires_in given: now plus it (capped at Provider.MaxTokenLifetime);
//   - no expires_in, but a refresh token: now plus
//     Provider.DefaultTokenLifetime, so the token is refreshed ahead of an
//     expiry the provider did not state rather than failing at it;
//   - no expires_in from a provider whose access tokens do not expire
//     (Provider.AccessTokensDoNotExpire: Stripe), or neither expires_in
//     nor a refresh token (long-lived tokens: GoCardless, Shopify offline
//     tokens): the zero time. Such a token is used until the provider's
//     API rejects it (a 401 through Client refreshes it once when there is
//     a refresh token, else marks the connection reauth_required); it is
//     never expired by guess.
func (e *engine) tokenExpiry(now time.Time, tok *tokenResponse, refreshToken string) time.Time {
	switch {
	case tok.Lifetime > 0:
		return now.Add(tok.Lifetime)
	case e.provider.AccessTokensDoNotExpire:
		return time.Time{}
	case refreshToken != "":
		return now.Add(e.provider.DefaultTokenLifetime)
	}
	return time.Time{}
}

// sanitize keeps at most n characters of provider text, only those
// RFC 6749 Appendix A allows in error_description, minus quote and
// backslash (tokenwire.Sanitize).
func sanitize(s string, n int) string { return tokenwire.Sanitize(s, n) }
