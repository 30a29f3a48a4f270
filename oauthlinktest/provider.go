package oauthlinktest

import (
	"net/http"

	"github.com/oauthlink/oauthlink"
)

// Provider returns a provider descriptor for this fake: Mollie's quirks
// (Basic client authentication, DELETE revocation, redirect_uri resent on
// refresh, approval_prompt and locale as extra parameters, no PKCE, no
// rotation) with every URL pointing at the fake. Apart from its URLs and
// the token lifetime its options configure, it equals mollie.Provider.
func (m *Mollie) Provider() oauthlink.Provider {
	return oauthlink.Provider{
		Name:                       "mollie",
		AuthURL:                    m.AuthURL(),
		TokenURL:                   m.TokenURL(),
		RevokeURL:                  m.RevokeURL(),
		RevokeMethod:               http.MethodDelete,
		AuthStyle:                  oauthlink.AuthStyleBasic,
		DefaultScopes:              []string{"organizations.read", "onboarding.read"},
		AllowedAuthParams:          []string{"approval_prompt", "locale"},
		ResendRedirectURIOnRefresh: true,
		DefaultTokenLifetime:       m.cfg.accessLifetime,
		APIURL:                     m.APIURL(),
	}
}

// Provider returns a provider descriptor for this fake: Qonto's quirks
// (body client authentication, offline_access always requested, a refresh
// token required, refresh tokens rotated on every refresh with the fake's
// grace window (0 with NoGrace), organization_id and registration_id as
// extra parameters, the staging header when the fake requires one, PKCE
// only with RequirePKCE, RefreshTokenLifetime as IdleLifetime) with every
// URL pointing at the fake. Apart from
// its URLs and what its options configure, it equals qonto.Provider.
func (q *Qonto) Provider() oauthlink.Provider {
	p := oauthlink.Provider{
		Name:                 "qonto",
		AuthURL:              q.AuthURL(),
		TokenURL:             q.TokenURL(),
		RevokeURL:            q.RevokeURL(),
		RevokeMethod:         http.MethodPost,
		AuthStyle:            oauthlink.AuthStyleBody,
		DefaultScopes:        []string{"organization.read"},
		RequiredScopes:       []string{"offline_access"},
		PKCE:                 q.opts.RequirePKCE,
		AllowedAuthParams:    []string{"organization_id", "registration_id"},
		RequireRefreshToken:  true,
		DefaultTokenLifetime: q.cfg.accessLifetime,
		RotatesRefreshTokens: true,
		RefreshGrace:         q.cfg.grace,
		IdleLifetime:         q.cfg.refreshLifetime,
		APIURL:               q.APIURL(),
	}
	if q.opts.StagingToken != "" {
		p.Header = http.Header{StagingHeader: {q.opts.StagingToken}}
	}
	return p
}

// Provider returns a provider descriptor for this fake: what
// discovery.Provider derives from its metadata (AuthStyleBasic when the
// fake accepts client_secret_basic, else AuthStyleBody; PKCE; Issuer, and
// IssuerRequired with IssuerParameter; POST revocation unless
// NoRevocation), plus what metadata cannot say: the scopes the fake
// accepts as DefaultScopes, RotatesRefreshTokens with
// RotateRefreshTokens, the token lifetime, and the fake's URL as APIURL
// (for routes added with Handle).
func (g *Generic) Provider() oauthlink.Provider {
	p := oauthlink.Provider{
		Name:                 "generic",
		AuthURL:              g.AuthURL(),
		TokenURL:             g.TokenURL(),
		RevokeURL:            g.RevokeURL(),
		AuthStyle:            oauthlink.AuthStyleBody,
		DefaultScopes:        g.metadata().ScopesSupported,
		PKCE:                 true,
		Issuer:               g.Issuer(),
		IssuerRequired:       g.opts.IssuerParameter,
		DefaultTokenLifetime: g.cfg.accessLifetime,
		RotatesRefreshTokens: g.opts.RotateRefreshTokens,
		APIURL:               g.APIURL(),
	}
	if g.cfg.token.basicAuth {
		p.AuthStyle = oauthlink.AuthStyleBasic
	}
	if p.RevokeURL != "" {
		p.RevokeMethod = http.MethodPost
	}
	return p
}
