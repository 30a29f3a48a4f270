package oauthlink

import "golang.org/x/oauth2"

// Endpoint returns p's authorization and token endpoints as an
// oauth2.Endpoint, with its AuthStyle pinned to p.AuthStyle
// (oauth2.AuthStyleInHeader for AuthStyleBasic, oauth2.AuthStyleInParams
// for AuthStyleBody), for code that speaks golang.org/x/oauth2: an
// oauth2.Config for a one-off client-credentials call, or a library that
// takes an endpoint.
//
// The style is never oauth2.AuthStyleAutoDetect, even for a Provider
// whose AuthStyle is unset: auto-detection resends the grant with the
// other style after a failure, and a resent code or rotated refresh token
// makes some providers revoke the whole grant (see AuthStyle). An unset or
// unknown AuthStyle maps to oauth2.AuthStyleInHeader, the style RFC 6749
// §2.3.1 requires every server to accept.
//
// A connection's tokens are refreshed by the Connector, never by an
// oauth2.Config built on this endpoint: a second refresher would send a
// rotated refresh token the Connector already spent.
func (p Provider) Endpoint() oauth2.Endpoint {
	style := oauth2.AuthStyleInHeader
	if p.AuthStyle == AuthStyleBody {
		style = oauth2.AuthStyleInParams
	}
	return oauth2.Endpoint{AuthURL: p.AuthURL, TokenURL: p.TokenURL, AuthStyle: style}
}
