package discovery

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
)

// Metadata is the part of an authorization server's metadata (RFC 8414
// §2) that oauthlink uses. Fetch and Cache.Metadata return a validated
// copy the caller may change.
type Metadata struct {
	// Issuer is the server's issuer identifier; it equals the issuer the
	// document was fetched for (RFC 8414 §3.3).
	Issuer string `json:"issuer"`
	// AuthorizationEndpoint is the authorization endpoint (RFC 6749 §3.1).
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	// TokenEndpoint is the token endpoint (RFC 6749 §3.2).
	TokenEndpoint string `json:"token_endpoint"`
	// RevocationEndpoint is the revocation endpoint (RFC 7009); empty
	// when the server has none.
	RevocationEndpoint string `json:"revocation_endpoint,omitempty"`
	// ScopesSupported lists the scopes the server says it supports; nil
	// when it does not say.
	ScopesSupported []string `json:"scopes_supported,omitempty"`
	// ResponseTypesSupported lists the response_type values.
	ResponseTypesSupported []string `json:"response_types_supported,omitempty"`
	// GrantTypesSupported lists the grant types; absent means
	// authorization_code and implicit (RFC 8414 §2).
	GrantTypesSupported []string `json:"grant_types_supported,omitempty"`
	// TokenEndpointAuthMethodsSupported lists the client authentication
	// methods of the token endpoint; absent means client_secret_basic.
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	// RevocationEndpointAuthMethodsSupported lists the client
	// authentication methods of the revocation endpoint.
	RevocationEndpointAuthMethodsSupported []string `json:"revocation_endpoint_auth_methods_supported,omitempty"`
	// CodeChallengeMethodsSupported lists the PKCE methods (RFC 7636);
	// absent means no PKCE support.
	CodeChallengeMethodsSupported []string `json:"code_challenge_methods_supported,omitempty"`
	// AuthorizationResponseIssParameterSupported says the server puts iss
	// in every authorization response (RFC 9207 §3).
	AuthorizationResponseIssParameterSupported bool `json:"authorization_response_iss_parameter_supported,omitempty"`
}

// clone returns a deep copy of m.
func (m *Metadata) clone() *Metadata {
	c := *m
	c.ScopesSupported = slices.Clone(m.ScopesSupported)
	c.ResponseTypesSupported = slices.Clone(m.ResponseTypesSupported)
	c.GrantTypesSupported = slices.Clone(m.GrantTypesSupported)
	c.TokenEndpointAuthMethodsSupported = slices.Clone(m.TokenEndpointAuthMethodsSupported)
	c.RevocationEndpointAuthMethodsSupported = slices.Clone(m.RevocationEndpointAuthMethodsSupported)
	c.CodeChallengeMethodsSupported = slices.Clone(m.CodeChallengeMethodsSupported)
	return &c
}

// parseMetadata reads exactly one JSON object from body and checks it
// against the issuer it was fetched for.
func parseMetadata(body []byte, issuer string, insecure bool) (*Metadata, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, fmt.Errorf("%w: the document is not a JSON object", ErrInvalid)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var m Metadata
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: malformed JSON: %s", ErrInvalid, jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrInvalid)
	}
	if err := m.validate(issuer, insecure); err != nil {
		return nil, err
	}
	return &m, nil
}

// jsonProblem describes a decoding error without quoting the document.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return fmt.Sprintf("member %q has the wrong type", typeErr.Field)
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return fmt.Sprintf("syntax error at byte %d", syntaxErr.Offset)
	}
	return "unreadable"
}

// validate applies RFC 8414 §2 and §3.3 and oauthlink's transport rules.
func (m *Metadata) validate(issuer string, insecure bool) error {
	if m.Issuer != issuer {
		// RFC 8414 §3.3: the issuer MUST be identical to the one the
		// well-known URI was built from, or the document is not used.
		return fmt.Errorf("%w: the document's issuer %q is not %q (RFC 8414 §3.3)", ErrInvalid, clip(m.Issuer), issuer)
	}
	for _, e := range []struct{ name, v string }{
		{"authorization_endpoint", m.AuthorizationEndpoint},
		{"token_endpoint", m.TokenEndpoint},
		{"revocation_endpoint", m.RevocationEndpoint},
	} {
		if e.v == "" {
			if e.name == "revocation_endpoint" {
				continue
			}
			return fmt.Errorf("%w: %s is missing", ErrInvalid, e.name)
		}
		if err := checkURL(e.v, insecure); err != nil {
			return fmt.Errorf("%w: %s %v", ErrInvalid, e.name, err)
		}
	}
	if m.ResponseTypesSupported != nil && !slices.Contains(m.ResponseTypesSupported, "code") {
		return fmt.Errorf("%w: the server offers no authorization code flow (response_types_supported lacks \"code\")", ErrUnsupported)
	}
	if m.GrantTypesSupported != nil && !slices.Contains(m.GrantTypesSupported, "authorization_code") {
		return fmt.Errorf("%w: the server offers no authorization code grant (grant_types_supported lacks \"authorization_code\")", ErrUnsupported)
	}
	return nil
}

// checkURL checks an endpoint or issuer: absolute, http(s), no userinfo or
// fragment, https unless insecure.
func checkURL(raw string, insecure bool) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", clip(raw))
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("%q is not an http(s) URL", clip(raw))
	case u.Scheme == "http" && !insecure:
		return fmt.Errorf("%q must use https: over http the client secret, codes and tokens travel in clear (set AllowInsecureHTTP for local development)", clip(raw))
	case u.User != nil || u.Fragment != "" || strings.HasSuffix(raw, "#"):
		return fmt.Errorf("%q must not carry userinfo or a fragment", clip(raw))
	}
	return nil
}

// clip bounds a value from the document before it goes into an error.
func clip(s string) string {
	const max = 200
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
