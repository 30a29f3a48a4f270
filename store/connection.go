package store

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"golang.org/x/oauth2"
)

// Status is the state of a connection's grant.
type Status string

const (
	// StatusActive means the tokens are usable or refreshable.
	StatusActive Status = "active"
	// StatusReauthRequired means the provider refused the refresh token
	// (invalid_grant) and no newer token exists: the user must reconnect.
	// The record is kept so the app can show who needs to reconnect.
	StatusReauthRequired Status = "reauth_required"
	// StatusDisconnected means the user disconnected; the record remains
	// only until the provider confirmed revocation.
	StatusDisconnected Status = "disconnected"
	// StatusRevoked means the merchant revoked the app's consent at the
	// provider (the provider said so, e.g. through a webhook): the tokens
	// were dropped, nothing is left to revoke, and the owner must connect
	// again. The record is kept, like StatusReauthRequired, so the app can
	// show who must reconnect; a new connection replaces it.
	StatusRevoked Status = "revoked"
)

// Valid reports whether s is one of the defined statuses.
func (s Status) Valid() bool {
	return s == StatusActive || s == StatusReauthRequired || s == StatusDisconnected || s == StatusRevoked
}

// Connection is one platform owner's link to one provider account.
//
// Connection redacts its tokens when printed with fmt (any verb), logged
// with log/slog or marshalled to JSON. Stores read the secret values through
// AccessToken.Reveal() and RefreshToken.Reveal().
type Connection struct {
	// Provider is the provider's name, e.g. "mollie" or "qonto".
	Provider string
	// Owner identifies the platform account the connection belongs to, as
	// returned by Config.Owner.
	Owner string
	// AccountID is the provider-side account (Mollie organization id, Qonto
	// organization id) when known; empty otherwise.
	AccountID string

	// AccessToken and RefreshToken are the grant's tokens (RefreshToken is
	// empty for providers that issue none). Secrets: they never print, and
	// store/encrypted seals them at rest.
	AccessToken, RefreshToken Secret
	// TokenType is the token type, normalised to "Bearer".
	TokenType string
	// Expiry is when the access token stops working. Zero means the
	// provider gave no lifetime and no refresh token (long-lived tokens):
	// the token is used until the provider's API rejects it, never expired
	// by guess. A missing expires_in that comes with a refresh token gets
	// Provider.DefaultTokenLifetime, and an absurd one is capped at
	// Provider.MaxTokenLifetime.
	Expiry time.Time
	// Scopes are the scopes the provider granted (or, when the token
	// response omitted them, the scopes requested).
	Scopes []string
	// Extra holds the token response's fields other than the standard ones
	// (e.g. Qonto's id_token), as a JSON object. It may hold secrets and is
	// redacted like the tokens.
	Extra Secret
	// RedirectURI is the redirect_uri sent with the code exchange, resent on
	// refresh where the provider requires it (Mollie).
	RedirectURI string

	// Retired lists grants this connection replaced whose revocation at
	// the provider is not confirmed yet: the previous grant of a reconnect,
	// or a disconnected grant whose revocation failed before the owner
	// connected again. oauthlink retries them (Disconnect, the next
	// refresh or reconnect of the connection) and drops each one once the
	// provider confirmed; a non-empty list means a grant is still live at
	// the provider that nobody uses. The tokens are secrets, encrypted at
	// rest like AccessToken.
	Retired []RetiredToken

	// Status is active, reauth_required, disconnected or revoked.
	Status Status
	// RefreshedAt is when the tokens were last obtained from the provider:
	// the code exchange or the last successful refresh. A refresh token
	// that providers expire from disuse (Qonto: 90 days) dies that long
	// after RefreshedAt unless the connection is refreshed; Scanner's
	// RefreshedBefore finds those connections. Zero for a record written
	// before oauthlink recorded it.
	RefreshedAt time.Time
	// Version is the compare-and-swap version; see TokenStore.Save.
	Version int64
	// CreatedAt and UpdatedAt are set by the store on create and on every
	// save (see TokenStore.Save).
	CreatedAt, UpdatedAt time.Time
}

// PendingRevocation reports whether the connection has a revocation left
// to do at the provider: it is disconnected (its record remains until the
// provider confirmed the revocation), or it lists grants in Retired.
// Query.PendingRevocation selects these connections; this method is the
// one definition every store's index agrees with.
func (c *Connection) PendingRevocation() bool {
	return c.Status == StatusDisconnected || len(c.Retired) > 0
}

// RetiredToken is a token of a replaced grant, waiting to be revoked
// (RFC 7009).
type RetiredToken struct {
	// Token is the token to revoke: the grant's refresh token, or its
	// access token when it had none. Redacted like every Secret.
	Token Secret
	// Kind is the RFC 7009 token_type_hint: "refresh_token" or
	// "access_token".
	Kind string
	// Since is when the grant was retired.
	Since time.Time
	// AccountID is the provider-side account of the retired grant
	// (Connection.AccountID when it was retired); empty when unknown. A
	// provider that revokes per account rather than per token (Stripe's
	// deauthorize, see oauthlink.Provider.Revoke) needs it to revoke the
	// grant.
	AccountID string
}

// Clone returns a deep copy of c.
func (c *Connection) Clone() *Connection {
	if c == nil {
		return nil
	}
	d := *c
	d.Scopes = slices.Clone(c.Scopes)
	d.Retired = slices.Clone(c.Retired)
	return &d
}

// OAuth2Token returns the connection's access token as an *oauth2.Token,
// for code that speaks golang.org/x/oauth2: the access token, its type and
// expiry, and the extra response fields (Token.Extra("id_token")), but
// never the refresh token. The refresh token is the grant itself and stays
// inside oauthlink: code holding it could print or log it (an
// *oauth2.Token does not redact), or spend it outside the refresh lock,
// and a provider that rotates refresh tokens (Qonto) treats the second use
// of a refresh token as theft and revokes the whole grant, the tokens
// oauthlink holds included. Refresh through Connector.Connection or Connector.Client;
// an oauth2.TokenSource built on this token cannot refresh it.
func (c *Connection) OAuth2Token() *oauth2.Token {
	tok := &oauth2.Token{
		AccessToken: c.AccessToken.Reveal(),
		TokenType:   c.TokenType,
		Expiry:      c.Expiry,
	}
	if c.Extra != "" {
		var extra map[string]any
		if err := json.Unmarshal([]byte(c.Extra.Reveal()), &extra); err == nil && len(extra) > 0 {
			// The standard fields never reach Extra; dropping them again
			// keeps a refresh token out even of a record written by hand.
			delete(extra, "refresh_token")
			tok = tok.WithExtra(extra)
		}
	}
	return tok
}

// String describes the connection without any secret.
func (c *Connection) String() string {
	if c == nil {
		return "<nil>"
	}
	return fmt.Sprintf("Connection{Provider:%q Owner:%q AccountID:%q Status:%s Version:%d Expiry:%s AccessToken:%s RefreshToken:%s Retired:%d}",
		c.Provider, c.Owner, c.AccountID, c.Status, c.Version, c.Expiry.Format(time.RFC3339), c.AccessToken, c.RefreshToken, len(c.Retired))
}

// GoString is String: %#v must not print the tokens either.
func (c *Connection) GoString() string { return c.String() }

// Format prints String for every verb, so %v, %+v, %#v, %s and %q never
// reveal a token.
func (c *Connection) Format(f fmt.State, verb rune) { fmt.Fprint(f, c.String()) }

// LogValue logs the connection's non-secret fields.
func (c *Connection) LogValue() slog.Value {
	if c == nil {
		return slog.StringValue("<nil>")
	}
	return slog.GroupValue(
		slog.String("provider", c.Provider),
		slog.String("owner", c.Owner),
		slog.String("account_id", c.AccountID),
		slog.String("status", string(c.Status)),
		slog.Int64("version", c.Version),
		slog.Time("expiry", c.Expiry),
		slog.Int("retired", len(c.Retired)),
	)
}

// MarshalJSON writes the connection without its secrets (tokens and extra
// fields are written as "[redacted]" when set).
func (c *Connection) MarshalJSON() ([]byte, error) {
	type public struct {
		Provider     string    `json:"provider"`
		Owner        string    `json:"owner"`
		AccountID    string    `json:"account_id,omitempty"`
		AccessToken  Secret    `json:"access_token,omitempty"`
		RefreshToken Secret    `json:"refresh_token,omitempty"`
		TokenType    string    `json:"token_type,omitempty"`
		Expiry       time.Time `json:"expires_at"`
		Scopes       []string  `json:"scopes"`
		Status       Status    `json:"status"`
		Version      int64     `json:"version"`
		CreatedAt    time.Time `json:"created_at"`
		UpdatedAt    time.Time `json:"updated_at"`
	}
	return json.Marshal(public{c.Provider, c.Owner, c.AccountID, c.AccessToken, c.RefreshToken,
		c.TokenType, c.Expiry, c.Scopes, c.Status, c.Version, c.CreatedAt, c.UpdatedAt})
}

var (
	_ fmt.Formatter  = (*Connection)(nil)
	_ fmt.GoStringer = (*Connection)(nil)
	_ slog.LogValuer = (*Connection)(nil)
	_ json.Marshaler = (*Connection)(nil)
)
