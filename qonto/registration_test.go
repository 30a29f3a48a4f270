package qonto

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store/memstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWithIDs(t *testing.T) {
	tests := []struct {
		name string
		id   string
		want string // "" = error
	}{
		{"docs registration example", "a584b060-8c96-488d-8bbb-74f0d3d2803c", "a584b060-8c96-488d-8bbb-74f0d3d2803c"},
		{"upper case is lowered", "1ACF250C-A068-47FA-AE9D-032B85C148DC", "1acf250c-a068-47fa-ae9d-032b85c148dc"},
		{"nil UUID shape", "00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000"},
		{"empty", "", ""},
		{"no hyphens", "a584b0608c96488d8bbb74f0d3d2803c", ""},
		{"braces", "{a584b060-8c96-488d-8bbb-74f0d3d2803c}", ""},
		{"urn form", "urn:uuid:a584b060-8c96-488d-8bbb-74f0d3d2803c", ""},
		{"non-hex", "g584b060-8c96-488d-8bbb-74f0d3d2803c", ""},
		{"hyphen misplaced", "a584b06-08c96-488d-8bbb-74f0d3d2803c", ""},
		{"trailing space", "a584b060-8c96-488d-8bbb-74f0d3d2803c ", ""},
		{"injection", "a584b060-8c96-488d-8bbb-74f0d3d&state", ""},
		{"slug, not an id", "acme-corp-1234", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range []struct {
				param string
				fn    func(string) (url.Values, error)
			}{{ParamRegistrationID, WithRegistration}, {ParamOrganizationID, WithOrganization}} {
				v, err := c.fn(tt.id)
				if tt.want == "" {
					require.ErrorIs(t, err, ErrInvalidID)
					assert.Nil(t, v)
					assert.Contains(t, err.Error(), c.param)
					if tt.id != "" {
						assert.NotContains(t, err.Error(), tt.id, "the rejected value is not echoed")
					}
					continue
				}
				require.NoError(t, err)
				assert.Equal(t, url.Values{c.param: {tt.want}}, v)
			}
		})
	}
}

// TestParamsReachAuthorizeURL checks the helpers against the preset: both
// parameters are allowed by Provider.AuthParams and end up in the URL, and
// an invalid id from AuthParams is a 400 before anything is sent.
func TestParamsReachAuthorizeURL(t *testing.T) {
	var id string
	conn, err := oauthlink.New(oauthlink.Config{
		Provider:      Provider(Options{Sandbox: true, StagingToken: "staging"}),
		ClientID:      "0d8d6a6c-1c1b-4c57-9a1e-2f1f5f5c6b7a",
		ClientSecret:  "secret",
		RedirectURL:   "https://platform.example/connect/qonto/callback",
		Store:         memstore.New(),
		Owner:         func(*http.Request) (string, error) { return "user-1", nil },
		CookieSecrets: [][]byte{make([]byte, 32)},
		Flow: oauthlink.FlowOptions{
			AuthParams: func(*http.Request) (url.Values, error) {
				if id == "" {
					return nil, nil
				}
				return WithRegistration(id)
			},
		},
	})
	require.NoError(t, err)

	start := func() *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		conn.StartHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/connect/qonto", nil))
		return w
	}
	w := start()
	require.Equal(t, http.StatusSeeOther, w.Code)
	loc, err := url.Parse(w.Header().Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, SandboxOAuthURL+"/oauth2/auth", loc.Scheme+"://"+loc.Host+loc.Path)
	assert.NotContains(t, loc.Query(), ParamRegistrationID)

	id = "a584b060-8c96-488d-8bbb-74f0d3d2803c"
	w = start()
	require.Equal(t, http.StatusSeeOther, w.Code)
	loc, err = url.Parse(w.Header().Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, []string{id}, loc.Query()[ParamRegistrationID])

	id = "not-a-uuid"
	w = start()
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Empty(t, w.Header().Get("Location"))
	assert.Empty(t, w.Result().Cookies(), "no flow started")

	// Begin with organization_id: the preset allows it too.
	params, err := WithOrganization("1acf250c-a068-47fa-ae9d-032b85c148dc")
	require.NoError(t, err)
	flow, err := conn.Begin(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil), oauthlink.BeginOptions{Params: params})
	require.NoError(t, err)
	loc, err = url.Parse(flow.AuthURL.Reveal())
	require.NoError(t, err)
	assert.Equal(t, "1acf250c-a068-47fa-ae9d-032b85c148dc", loc.Query().Get(ParamOrganizationID))
}
