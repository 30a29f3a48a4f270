package oauthlink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/oauthlink/oauthlink/store"
)

// Revocation is one grant for a custom Provider.Revoke to revoke, and what
// it needs to do so. Token and ClientSecret are store.Secret values: they
// print, log and marshal as "[redacted]". A Revoke function must not put
// them, or any part of the provider's answer it does not control, into
// the error it returns: oauthlink logs that error.
type Revocation struct {
	// Token is the grant's refresh token, or its access token when it has
	// none.
	Token store.Secret
	// Kind is Token's RFC 7009 token_type_hint: "refresh_token" or
	// "access_token".
	Kind string
	// AccountID is the provider account the grant belongs to
	// (Connection.AccountID, or RetiredToken.AccountID for a replaced
	// grant); "" when it was never known.
	AccountID string
	// URL is Provider.RevokeURL.
	URL string
	// ClientID and ClientSecret are Config.ClientID and Config.ClientSecret.
	ClientID     string
	ClientSecret store.Secret
	// HTTPClient sends the request: Config.HTTPClient's Transport (the
	// default transport without one), following no redirect (a redirect
	// would replay the credentials elsewhere) and keeping no cookies. The
	// context passed to Revoke bounds it.
	HTTPClient *http.Client
}

// revokeClient is the HTTPClient a custom Provider.Revoke receives.
func revokeClient(cfg *Config) *http.Client {
	var rt http.RoundTripper
	if cfg.HTTPClient != nil {
		rt = cfg.HTTPClient.Transport
	}
	return &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// revokeCustom revokes one grant with Provider.Revoke, bounded by
// ExchangeTimeout. A *ProviderError answer is kept as it is, so the
// retry rules (Temporary, RetryAfter, invalid_token) apply to it; any
// other error gets the package's prefix.
func (e *engine) revokeCustom(ctx context.Context, token, kind, account string) error {
	ctx, cancel := within(ctx, e.opts.ExchangeTimeout)
	defer cancel()
	err := e.provider.Revoke(ctx, Revocation{
		Token: store.Secret(token), Kind: kind, AccountID: account, URL: e.provider.RevokeURL,
		ClientID: e.clientID, ClientSecret: e.clientSecret, HTTPClient: e.revokeHTTP,
	})
	var pe *ProviderError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pe):
		return err
	}
	return fmt.Errorf("oauthlink: revocation at %s: %w", e.provider.Name, err)
}

// standardTokenMember reports whether name is a member RFC 6749 §5.1 and
// §5.2 define, which Provider.AccountIDField must not name.
func standardTokenMember(name string) bool {
	switch name {
	case "", "access_token", "refresh_token", "token_type", "expires_in", "scope", "error", "error_description", "error_uri":
		return true
	}
	return false
}

// accountID reads Provider.AccountIDField from a code exchange's answer:
// "" when the provider has none configured, an error (naming the member,
// never quoting the answer) when the member is missing, not a string, or
// not 1 to 255 characters of [A-Za-z0-9._:-] (every provider's account
// ids fit; nothing that could be markup or a log-line break does).
func (e *engine) accountID(tok *tokenResponse) (string, error) {
	name := e.provider.AccountIDField
	if name == "" {
		return "", nil
	}
	var members map[string]json.RawMessage
	var id string
	if len(tok.Extra) == 0 || json.Unmarshal(tok.Extra, &members) != nil || json.Unmarshal(members[name], &id) != nil {
		return "", fmt.Errorf("%w: no %s string", errTokenResponse, name)
	}
	if len(id) == 0 || len(id) > 255 {
		return "", fmt.Errorf("%w: %s is empty or longer than 255 bytes", errTokenResponse, name)
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-', c == '.', c == ':':
		default:
			return "", fmt.Errorf("%w: %s holds characters other than [A-Za-z0-9._:-]", errTokenResponse, name)
		}
	}
	return id, nil
}
