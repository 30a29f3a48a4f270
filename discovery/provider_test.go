package discovery_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/discovery"
)

func TestProviderFromMetadata(t *testing.T) {
	a := newAS(t)
	a.set(func(a *as) { a.doc["authorization_response_iss_parameter_supported"] = true })
	p, err := discovery.Provider(t.Context(), "acme", a.issuer(), opts(a))
	require.NoError(t, err)
	u := a.srv.URL
	assert.Equal(t, oauthlink.Provider{
		Name: "acme", AuthURL: u + "/authorize", TokenURL: u + "/token",
		RevokeURL: u + "/revoke", RevokeMethod: http.MethodPost,
		AuthStyle: oauthlink.AuthStyleBasic, PKCE: true,
		Issuer: u, IssuerRequired: true,
	}, p)
}

// PKCE S256 only when offered; never plain.
func TestProviderPKCE(t *testing.T) {
	for _, tc := range []struct {
		name    string
		methods any
		want    bool
	}{
		{"S256", []string{"S256"}, true},
		{"plain and S256", []string{"plain", "S256"}, true},
		{"plain only", []string{"plain"}, false},
		{"absent", nil, false},
		{"empty", []string{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAS(t)
			a.set(func(a *as) {
				if tc.methods == nil {
					delete(a.doc, "code_challenge_methods_supported")
				} else {
					a.doc["code_challenge_methods_supported"] = tc.methods
				}
			})
			p, err := discovery.Provider(t.Context(), "acme", a.issuer(), opts(a))
			require.NoError(t, err)
			assert.Equal(t, tc.want, p.PKCE)
		})
	}
}

// RFC 9207: the issuer is always checked when the callback carries one,
// and required when the server says it sends it.
func TestProviderIssuer(t *testing.T) {
	for _, tc := range []struct {
		name string
		flag any
		want bool
	}{{"advertised", true, true}, {"false", false, false}, {"absent", nil, false}} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAS(t)
			a.set(func(a *as) {
				if tc.flag != nil {
					a.doc["authorization_response_iss_parameter_supported"] = tc.flag
				}
			})
			p, err := discovery.Provider(t.Context(), "acme", a.issuer(), opts(a))
			require.NoError(t, err)
			assert.Equal(t, a.issuer(), p.Issuer)
			assert.Equal(t, tc.want, p.IssuerRequired)
		})
	}
}

func TestProviderAuthStyle(t *testing.T) {
	basic, post := "client_secret_basic", "client_secret_post"
	for _, tc := range []struct {
		name      string
		token     []string // nil: absent
		revoke    []string // nil: absent
		noRevoke  bool     // no revocation endpoint
		want      oauthlink.AuthStyle
		ask       oauthlink.AuthStyle
		wantErr   error
		errSubstr string
	}{
		{name: "absent: basic (RFC 8414 default)", want: oauthlink.AuthStyleBasic},
		{name: "basic and post", token: []string{basic, post}, want: oauthlink.AuthStyleBasic},
		{name: "post listed first", token: []string{post, basic}, want: oauthlink.AuthStyleBasic},
		{name: "post only", token: []string{post}, want: oauthlink.AuthStyleBody},
		{name: "post among others", token: []string{"private_key_jwt", post, "none"}, want: oauthlink.AuthStyleBody},
		{name: "revocation takes post only", token: []string{basic, post}, revoke: []string{post}, want: oauthlink.AuthStyleBody},
		{name: "revocation list without an endpoint is ignored", token: []string{basic}, revoke: []string{post}, noRevoke: true, want: oauthlink.AuthStyleBasic},
		{name: "asked for body", token: []string{basic, post}, ask: oauthlink.AuthStyleBody, want: oauthlink.AuthStyleBody},
		{name: "asked for basic", token: []string{post, basic}, ask: oauthlink.AuthStyleBasic, want: oauthlink.AuthStyleBasic},
		{name: "none only", token: []string{"none"}, wantErr: discovery.ErrUnsupported, errSubstr: "public clients"},
		{name: "private_key_jwt only", token: []string{"private_key_jwt", "tls_client_auth"}, wantErr: discovery.ErrUnsupported, errSubstr: `"private_key_jwt", "tls_client_auth"`},
		{name: "no common method", token: []string{basic}, revoke: []string{post}, wantErr: discovery.ErrUnsupported, errSubstr: "revocation endpoint"},
		{name: "asked for body, basic only", token: []string{basic}, ask: oauthlink.AuthStyleBody, wantErr: discovery.ErrUnsupported, errSubstr: "client_secret_post"},
		{name: "asked for an unknown style", token: []string{basic}, ask: oauthlink.AuthStyle(9), wantErr: oauthlink.ErrConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAS(t)
			a.set(func(a *as) {
				delete(a.doc, "token_endpoint_auth_methods_supported")
				if tc.token != nil {
					a.doc["token_endpoint_auth_methods_supported"] = tc.token
				}
				if tc.revoke != nil {
					a.doc["revocation_endpoint_auth_methods_supported"] = tc.revoke
				}
				if tc.noRevoke {
					delete(a.doc, "revocation_endpoint")
				}
			})
			o := opts(a)
			o.AuthStyle = tc.ask
			p, err := discovery.Provider(t.Context(), "acme", a.issuer(), o)
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
				assert.ErrorContains(t, err, tc.errSubstr)
				assert.Zero(t, p)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, p.AuthStyle)
		})
	}
}

// What discovery returns is a Provider New accepts as it is (over https).
func TestProviderIsAccepted(t *testing.T) {
	a := newAS(t)
	p, err := discovery.Provider(t.Context(), "acme", a.issuer(), opts(a))
	require.NoError(t, err)
	_, err = oauthlink.New(testConfig(p, a.srv.Client()))
	require.NoError(t, err)
}
