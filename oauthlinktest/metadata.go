package oauthlinktest

import (
	"encoding/json"
	"net/http"
	"slices"
)

// metadata is the authorization server metadata a fake publishes
// (RFC 8414 §2). Every member is derived from the fake's configuration and
// lists only what the fake does: a client configured from it works
// against the fake, and a client that departs from it fails.
type metadata struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	RevocationEndpoint                         string   `json:"revocation_endpoint,omitempty"`
	ScopesSupported                            []string `json:"scopes_supported,omitempty"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported,omitempty"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported"`
	AuthorizationResponseIssParameterSupported bool     `json:"authorization_response_iss_parameter_supported,omitempty"`
}

// issuer returns the fake's issuer identifier: its URL and issuer path.
func (s *server) issuer() string { return s.srv.URL + s.cfg.issuerPath }

// metadataURL returns where the fake serves its metadata.
func (s *server) metadataURL() string { return s.srv.URL + s.cfg.metadataPath }

// metadata builds the document from the configuration the endpoints run
// with.
func (s *server) metadata() metadata {
	te := s.cfg.token
	var auth []string
	if te.basicAuth {
		auth = append(auth, "client_secret_basic")
	}
	if !te.noBodyAuth {
		auth = append(auth, "client_secret_post")
	}
	m := metadata{
		Issuer:                 s.issuer(),
		AuthorizationEndpoint:  s.AuthURL(),
		TokenEndpoint:          s.TokenURL(),
		ResponseTypesSupported: []string{"code"},
		// Both grants are always served; the Qonto fake issues a refresh
		// token only with offline_access.
		GrantTypesSupported:               []string{"authorization_code", "refresh_token"},
		TokenEndpointAuthMethodsSupported: auth,
		// A code_challenge is always checked, and only S256 is accepted
		// (RequirePKCE makes one mandatory, which metadata cannot say).
		CodeChallengeMethodsSupported:              []string{"S256"},
		AuthorizationResponseIssParameterSupported: s.cfg.issParam,
	}
	// The revocation endpoint is an RFC 7009 one (POST) here: metadata
	// has no member for another method.
	if s.cfg.revokePath != "" && te.revokeMethod == http.MethodPost {
		m.RevocationEndpoint = s.RevokeURL()
		m.RevocationEndpointAuthMethodsSupported = auth
	}
	for sc := range s.cfg.allowedScopes {
		m.ScopesSupported = append(m.ScopesSupported, sc)
	}
	slices.Sort(m.ScopesSupported)
	return m
}

// serveMetadata serves the metadata document (RFC 8414 §3.2).
func (s *server) serveMetadata(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(s.metadata())
}
