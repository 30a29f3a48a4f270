package oauthlinktest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// flavour runs a test against either fake through one interface.
type flavour struct {
	name   string
	start  func(t *testing.T, now func() time.Time) *server
	scopes string
	token  func(t *testing.T, s *server, form url.Values) reply
	// noRefresh: the provider issues no refresh tokens and refuses the
	// refresh_token grant (GoCardless).
	noRefresh bool
	// pkce: the provider documents PKCE (or runs on a server that
	// implements it), so the fake's PKCE checks are its rules.
	pkce bool
}

var flavours = []flavour{
	{
		name: "mollie",
		start: func(t *testing.T, now func() time.Time) *server {
			return newTestMollie(t, MollieOptions{Now: now}).server
		},
		scopes: "organizations.read onboarding.read",
		token: func(t *testing.T, s *server, form url.Values) reply {
			return send(t, s, request{method: http.MethodPost, url: s.TokenURL(), form: form, basic: s.basic()})
		},
		pkce: true,
	},
	{
		name: "qonto",
		start: func(t *testing.T, now func() time.Time) *server {
			return newTestQonto(t, QontoOptions{Now: now}).server
		},
		scopes: "offline_access organization.read",
		token: func(t *testing.T, s *server, form url.Values) reply {
			return send(t, s, request{method: http.MethodPost, url: s.TokenURL(), form: s.withCreds(form)})
		},
		pkce: true,
	},
	{
		name: "stripe",
		start: func(t *testing.T, now func() time.Time) *server {
			return newTestStripe(t, StripeOptions{Now: now}).server
		},
		scopes: "read_write",
		token: func(t *testing.T, s *server, form url.Values) reply {
			return send(t, s, request{method: http.MethodPost, url: s.TokenURL(), form: s.withCreds(form)})
		},
	},
	{
		name: "gocardless",
		start: func(t *testing.T, now func() time.Time) *server {
			return newTestGoCardless(t, GoCardlessOptions{Now: now}).server
		},
		scopes: "read_write",
		token: func(t *testing.T, s *server, form url.Values) reply {
			return send(t, s, request{method: http.MethodPost, url: s.TokenURL(), form: s.withCreds(form)})
		},
		noRefresh: true,
	},
}

func flavourNamed(t *testing.T, name string) flavour {
	t.Helper()
	for _, fl := range flavours {
		if fl.name == name {
			return fl
		}
	}
	t.Fatalf("no flavour %q", name)
	return flavour{}
}

func TestCodeIsSingleUse(t *testing.T) {
	for _, fl := range flavours {
		t.Run(fl.name, func(t *testing.T) {
			s := fl.start(t, nil)
			c := code(t, s, authParams(s, fl.scopes))

			first := fl.token(t, s, exchangeForm(c, appCallback))
			require.Equal(t, http.StatusOK, first.status, string(first.raw))
			require.NotEmpty(t, first.AccessToken)
			assert.True(t, s.AccessTokenValid(first.AccessToken))
			if fl.noRefresh {
				assert.Empty(t, first.RefreshToken)
			} else {
				require.NotEmpty(t, first.RefreshToken)
				assert.True(t, s.RefreshTokenValid(first.RefreshToken))
			}

			second := fl.token(t, s, exchangeForm(c, appCallback))
			assert.Equal(t, http.StatusBadRequest, second.status)
			assert.Equal(t, "invalid_grant", second.Error)
			assert.False(t, s.AccessTokenValid(first.AccessToken), "a reused code revokes what it produced")
			assert.False(t, s.RefreshTokenValid(first.RefreshToken))
			assert.Equal(t, 2, s.Exchanges())
			assert.Equal(t, 1, s.ReuseDetections())
			assert.Equal(t, 2, s.Presented(c))
		})
	}
}

func TestCodeExpiry(t *testing.T) {
	tests := []struct {
		flavour string
		wait    time.Duration
		wantOK  bool
	}{
		{"mollie", 29 * time.Second, true},
		{"mollie", 30 * time.Second, false},
		{"qonto", 9*time.Minute + 59*time.Second, true},
		{"qonto", 10 * time.Minute, false},
		{"stripe", 5*time.Minute - time.Second, true},
		{"stripe", 5 * time.Minute, false},
		{"gocardless", 5*time.Minute - time.Second, true},
		{"gocardless", 5 * time.Minute, false},
	}
	for _, tc := range tests {
		t.Run(tc.flavour+" after "+tc.wait.String(), func(t *testing.T) {
			fl := flavourNamed(t, tc.flavour)
			clk := newClock()
			s := fl.start(t, clk.Now)
			c := code(t, s, authParams(s, fl.scopes))
			clk.Advance(tc.wait)
			r := fl.token(t, s, exchangeForm(c, appCallback))
			if tc.wantOK {
				assert.Equal(t, http.StatusOK, r.status)
			} else {
				assert.Equal(t, http.StatusBadRequest, r.status)
				assert.Equal(t, "invalid_grant", r.Error)
			}
		})
	}
}

func TestCodeBoundToRedirectURI(t *testing.T) {
	tests := []struct {
		name         string
		flavour      int
		sendAtAuth   bool
		sendExchange string // "" sends none
		wantError    string
	}{
		{"mollie same", 0, true, appCallback, ""},
		{"mollie different", 0, true, appCallback + "/other", "invalid_grant"},
		{"mollie missing although sent at authorize", 0, true, "", "invalid_grant"},
		{"mollie none at either", 0, false, "", ""},
		{"mollie registered one at exchange only", 0, false, appCallback, ""},
		{"mollie other one at exchange only", 0, false, "https://evil.example/cb", "invalid_grant"},
		{"qonto same", 1, true, appCallback, ""},
		{"qonto missing", 1, true, "", "invalid_grant"},
		{"qonto different", 1, true, "https://evil.example/cb", "invalid_grant"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fl := flavours[tc.flavour]
			s := fl.start(t, nil)
			params := authParams(s, fl.scopes)
			if !tc.sendAtAuth {
				params.Del("redirect_uri")
			}
			c := code(t, s, params)
			r := fl.token(t, s, exchangeForm(c, tc.sendExchange))
			assert.Equal(t, tc.wantError, r.Error, r.ErrorDescription)
			if tc.wantError == "" {
				assert.Equal(t, http.StatusOK, r.status)
			}
		})
	}
}

func TestPKCE(t *testing.T) {
	verifier := strings.Repeat("abcdefghij", 5) // 50 characters
	tests := []struct {
		name      string
		challenge string // "" sends none
		verifier  string // "" sends none
		wantError string
	}{
		{"matching verifier", s256(verifier), verifier, ""},
		{"wrong verifier", s256(verifier), strings.Repeat("z", 50), "invalid_grant"},
		{"verifier sent as plain challenge", verifier[:43], verifier[:43], "invalid_grant"},
		{"too short verifier", s256("short"), "short", "invalid_grant"},
		{"missing verifier", s256(verifier), "", "invalid_grant"},
		{"verifier without challenge", "", verifier, "invalid_grant"},
		{"neither", "", "", ""},
	}
	for _, fl := range flavours {
		if !fl.pkce {
			continue // Stripe and GoCardless document no PKCE
		}
		for _, tc := range tests {
			t.Run(fl.name+" "+tc.name, func(t *testing.T) {
				s := fl.start(t, nil)
				params := authParams(s, fl.scopes)
				if tc.challenge != "" {
					params.Set("code_challenge", tc.challenge)
					params.Set("code_challenge_method", "S256")
				}
				c := code(t, s, params)
				form := exchangeForm(c, appCallback)
				if tc.verifier != "" {
					form.Set("code_verifier", tc.verifier)
				}
				r := fl.token(t, s, form)
				assert.Equal(t, tc.wantError, r.Error, r.ErrorDescription)
				if tc.wantError != "" {
					assert.Equal(t, http.StatusBadRequest, r.status)
					assert.Empty(t, r.AccessToken)
				}
			})
		}
	}
}

func TestTokenEndpointRejects(t *testing.T) {
	for _, fl := range flavours {
		t.Run(fl.name, func(t *testing.T) {
			s := fl.start(t, nil)
			tests := []struct {
				name       string
				form       url.Values
				wantStatus int
				wantError  string
			}{
				{"unknown code", exchangeForm("auth_unknown", appCallback), 400, "invalid_grant"},
				{"no code", url.Values{"grant_type": {"authorization_code"}}, 400, "invalid_request"},
				{"unknown grant type", url.Values{"grant_type": {"password"}}, 400, "unsupported_grant_type"},
				{"repeated parameter", url.Values{"grant_type": {"authorization_code", "authorization_code"}}, 400, "invalid_request"},
				{"unknown refresh token", refreshForm("refresh_unknown"), 400, "invalid_grant"},
				{"no refresh token", url.Values{"grant_type": {"refresh_token"}}, 400, "invalid_request"},
			}
			for _, tc := range tests {
				if fl.noRefresh && tc.form.Get("grant_type") == "refresh_token" {
					tc.wantError = "unsupported_grant_type"
				}
				t.Run(tc.name, func(t *testing.T) {
					r := fl.token(t, s, tc.form)
					assert.Equal(t, tc.wantStatus, r.status)
					assert.Equal(t, tc.wantError, r.Error)
					assert.NotEmpty(t, r.ErrorDescription)
					assert.Equal(t, "application/json; charset=utf-8", r.contentType)
					assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
				})
			}
		})
	}
}
