package oauthlink_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// validConfig is a Config New accepts, with every endpoint set, for tests
// that break one thing at a time.
func validConfig() oauthlink.Config {
	return oauthlink.Config{
		Provider: oauthlink.Provider{
			Name:       "p",
			AuthURL:    "https://provider.example/auth",
			TokenURL:   "https://provider.example/token",
			RevokeURL:  "https://provider.example/revoke",
			APIURL:     "https://api.provider.example",
			AuthStyle:  oauthlink.AuthStyleBody,
			AuthParams: []string{"locale"},
			PKCE:       true,
		},
		ClientID: "client", ClientSecret: "secret", RedirectURL: "https://app.example/cb",
		Store:         memstore.New(),
		Owner:         func(*http.Request) (string, error) { return "shop-1", nil },
		CookieSecrets: [][]byte{make([]byte, 32)},
		Logger:        slog.New(slog.DiscardHandler),
	}
}

// New refuses, with an error wrapping ErrConfig that names the field, what
// would send secrets in clear, panic on first use, or repeat an
// authorization parameter (RFC 6749 §3.1).
func TestNewRefusesUnsafeConfig(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*oauthlink.Config)
		// want are substrings of the error: the field, and the parameter.
		want []string
	}{
		{"http AuthURL", func(c *oauthlink.Config) { c.Provider.AuthURL = "http://provider.example/auth" }, []string{"AuthURL", "https"}},
		{"http TokenURL", func(c *oauthlink.Config) { c.Provider.TokenURL = "http://provider.example/token" }, []string{"TokenURL", "https"}},
		{"http RevokeURL", func(c *oauthlink.Config) { c.Provider.RevokeURL = "http://provider.example/revoke" }, []string{"RevokeURL", "https"}},
		{"http APIURL", func(c *oauthlink.Config) { c.Provider.APIURL = "http://api.provider.example" }, []string{"APIURL", "https"}},
		{"HTTP TokenURL in capitals", func(c *oauthlink.Config) { c.Provider.TokenURL = "HTTP://provider.example/token" }, []string{"TokenURL", "https"}},
		{"APIURL with userinfo", func(c *oauthlink.Config) { c.Provider.APIURL = "https://user:pw@api.provider.example" }, []string{"APIURL"}},
		{"APIURL not absolute", func(c *oauthlink.Config) { c.Provider.APIURL = "/v2" }, []string{"APIURL"}},
		{"typed-nil Store", func(c *oauthlink.Config) { c.Store = (*memstore.Store)(nil) }, []string{"Store"}},
		{"typed-nil HTTPClient.Transport", func(c *oauthlink.Config) {
			c.HTTPClient = &http.Client{Transport: (*http.Transport)(nil)}
		}, []string{"HTTPClient.Transport"}},
		{"AuthURL query malformed", func(c *oauthlink.Config) { c.Provider.AuthURL += "?a=%zz" }, []string{"AuthURL", "query"}},
		{"AuthParams empty name", func(c *oauthlink.Config) { c.Provider.AuthParams = []string{""} }, []string{"AuthParams"}},
		{"AuthParams repeats AuthURL's query", func(c *oauthlink.Config) {
			c.Provider.AuthURL += "?locale=nl_NL"
		}, []string{"AuthParams", `"locale"`}},
	}
	for _, name := range []string{"response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method"} {
		tests = append(tests,
			struct {
				name   string
				mutate func(*oauthlink.Config)
				want   []string
			}{"AuthURL query sets " + name, func(c *oauthlink.Config) {
				c.Provider.AuthURL += "?" + url.Values{name: {"x"}}.Encode()
			}, []string{"AuthURL", `"` + name + `"`}},
			struct {
				name   string
				mutate func(*oauthlink.Config)
				want   []string
			}{"AuthParams lists " + name, func(c *oauthlink.Config) {
				c.Provider.AuthParams = append(c.Provider.AuthParams, name)
			}, []string{"AuthParams", `"` + name + `"`}},
		)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := validConfig()
			tc.mutate(&cfg)
			var c *oauthlink.Connector
			var err error
			require.NotPanics(t, func() { c, err = oauthlink.New(cfg) })
			require.ErrorIs(t, err, oauthlink.ErrConfig)
			assert.Nil(t, c)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

// The controls: a valid Config passes, plain http passes with
// AllowInsecureHTTP, and a parameter of AuthURL's own that oauthlink does
// not set is kept, once.
func TestNewAcceptsSafeConfig(t *testing.T) {
	t.Run("valid", func(t *testing.T) {
		_, err := oauthlink.New(validConfig())
		require.NoError(t, err)
	})
	t.Run("http endpoints with AllowInsecureHTTP", func(t *testing.T) {
		cfg := validConfig()
		cfg.AllowInsecureHTTP = true
		cfg.RedirectURL = "http://127.0.0.1:8080/cb"
		for _, u := range []*string{&cfg.Provider.AuthURL, &cfg.Provider.TokenURL, &cfg.Provider.RevokeURL, &cfg.Provider.APIURL} {
			*u = "http" + (*u)[len("https"):]
		}
		_, err := oauthlink.New(cfg)
		require.NoError(t, err)
	})
	t.Run("no RevokeURL and no APIURL", func(t *testing.T) {
		cfg := validConfig()
		cfg.Provider.RevokeURL, cfg.Provider.APIURL = "", ""
		_, err := oauthlink.New(cfg)
		require.NoError(t, err)
	})
	t.Run("AuthURL's own parameters are sent once", func(t *testing.T) {
		cfg := validConfig()
		cfg.Provider.AuthURL += "?audience=shops&prompt=consent"
		cfg.Flow.AuthParams = func(r *http.Request) (url.Values, error) {
			return url.Values{"locale": {r.FormValue("locale")}}, nil
		}
		link, err := oauthlink.New(cfg)
		require.NoError(t, err)
		w := httptest.NewRecorder()
		link.StartHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "https://app.example/connect/p?locale=nl_NL", nil))
		require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
		loc, err := url.Parse(w.Header().Get("Location"))
		require.NoError(t, err)
		q := loc.Query()
		for _, name := range []string{"audience", "prompt", "locale", "response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method"} {
			assert.Len(t, q[name], 1, name)
		}
		assert.Equal(t, "shops", q.Get("audience"))
		assert.Equal(t, "nl_NL", q.Get("locale"))
	})
}
