package qonto

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/oauthlink/oauthlink"
)

// ErrIdentify reports that the organization could not be read after
// connecting. The cause (ErrClientConfig, ErrRequest, ErrResponse, an
// *APIError) stays in the chain.
var ErrIdentify = errors.New("qonto: cannot identify the organization")

// Identify returns a function for oauthlink.Config.Hooks.Identify that
// records the Qonto organization id as Connection.AccountID, from
// GET /v2/organization (Client.Organization) with the connection's new
// access token: Qonto's token response carries no organization id, and
// the connection is not stored yet, so the Connector's Client cannot be
// used. It calls only when the granted scopes include organization.read;
// otherwise it leaves AccountID empty.
//
// api says where and how: BaseURL (default APIURL; pass the provider's
// APIURL), AllowInsecureHTTP, Timeout and HTTPClient, which carries the
// requests underneath (its Transport and Timeout; e.g. a test fake's
// client). header is sent with the token: in the sandbox, the preset's
// X-Qonto-Staging-Token (pass the provider's Header). The token goes only
// to BaseURL's origin, never over plain http but to a loopback host with
// AllowInsecureHTTP, and no redirect is followed.
//
// An error wraps ErrIdentify; it fails the callback, and the connector then
// revokes the new grant.
func Identify(api Client, header http.Header) func(ctx context.Context, conn *oauthlink.Connection) error {
	return func(ctx context.Context, conn *oauthlink.Connection) error {
		if !slices.Contains(conn.Scopes, ScopeOrganizationRead) {
			return nil
		}
		c, err := api.withToken(conn.AccessToken, header)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrIdentify, err)
		}
		org, err := c.Organization(ctx)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrIdentify, err)
		}
		conn.AccountID = org.ID
		return nil
	}
}
