package discovery

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/oauthlink/oauthlink"
)

// The client authentication methods (RFC 8414 §2, the IANA "OAuth Token
// Endpoint Authentication Methods" registry) oauthlink can use.
const (
	methodBasic = "client_secret_basic"
	methodPost  = "client_secret_post"
)

func methodOf(s oauthlink.AuthStyle) string {
	switch s {
	case oauthlink.AuthStyleBasic:
		return methodBasic
	case oauthlink.AuthStyleBody:
		return methodPost
	}
	return ""
}

// provider builds the oauthlink.Provider m describes.
func (m *Metadata) provider(name string, want oauthlink.AuthStyle) (oauthlink.Provider, error) {
	style, err := m.authStyle(want)
	if err != nil {
		return oauthlink.Provider{}, err
	}
	p := oauthlink.Provider{
		Name:      name,
		AuthURL:   m.AuthorizationEndpoint,
		TokenURL:  m.TokenEndpoint,
		RevokeURL: m.RevocationEndpoint,
		AuthStyle: style,
		PKCE:      slices.Contains(m.CodeChallengeMethodsSupported, "S256"),
		// Always: a callback that carries iss must carry this one
		// (RFC 9207 §2.4), whether or not the server promised to send it.
		Issuer:         m.Issuer,
		IssuerRequired: m.AuthorizationResponseIssParameterSupported,
	}
	if p.RevokeURL != "" {
		p.RevokeMethod = http.MethodPost // RFC 7009 §2.1
	}
	return p, nil
}

// authStyle pins the client authentication: the one asked for, else Basic
// before body, among those the token endpoint (and the revocation
// endpoint, where it lists its own) accepts.
func (m *Metadata) authStyle(want oauthlink.AuthStyle) (oauthlink.AuthStyle, error) {
	token := m.TokenEndpointAuthMethodsSupported
	if len(token) == 0 {
		token = []string{methodBasic} // RFC 8414 §2: the default
	}
	revoke := m.RevocationEndpointAuthMethodsSupported
	if m.RevocationEndpoint == "" {
		revoke = nil
	}
	accepts := func(method string) bool {
		return slices.Contains(token, method) && (len(revoke) == 0 || slices.Contains(revoke, method))
	}
	candidates := []oauthlink.AuthStyle{oauthlink.AuthStyleBasic, oauthlink.AuthStyleBody}
	if want != 0 {
		if methodOf(want) == "" {
			return 0, fmt.Errorf("%w: discovery: Options.AuthStyle must be AuthStyleBasic or AuthStyleBody", oauthlink.ErrConfig)
		}
		candidates = []oauthlink.AuthStyle{want}
	}
	for _, s := range candidates {
		if accepts(methodOf(s)) {
			return s, nil
		}
	}
	offered := "token endpoint: " + list(token)
	if len(revoke) > 0 {
		offered += "; revocation endpoint: " + list(revoke)
	}
	switch {
	case want != 0:
		return 0, fmt.Errorf("%w: the server does not accept %s, the client authentication asked for (%s)", ErrUnsupported, methodOf(want), offered)
	case len(token) == 1 && token[0] == "none":
		return 0, fmt.Errorf("%w: the server accepts only public clients (\"none\"); oauthlink is a confidential client and authenticates with its secret (client_secret_basic or client_secret_post)", ErrUnsupported)
	}
	return 0, fmt.Errorf("%w: no client authentication oauthlink supports (client_secret_basic, client_secret_post) is accepted by every endpoint (%s)", ErrUnsupported, offered)
}

// list quotes the server's method names for an error, bounded.
func list(methods []string) string {
	var q []string
	for i, m := range methods {
		if i == 10 {
			q = append(q, "…")
			break
		}
		q = append(q, fmt.Sprintf("%q", clip(m)))
	}
	return strings.Join(q, ", ")
}
