package mollie

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/oauthlink/oauthlink/store"

	"github.com/oauthlink/oauthlink"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func merchantClient(t *testing.T, f *fakeMollie) *Client { return tokenClient(t, f, merchantToken) }

func TestOrganization(t *testing.T) {
	f := newFake(t)
	org, err := merchantClient(t, f).Organization(context.Background())
	require.NoError(t, err)
	assert.Equal(t, &Organization{
		ID: "org_12345678", Name: "Shop B.V.", Email: "owner@shop.example",
		Address:      Address{StreetAndNumber: "Keizersgracht 126", PostalCode: "1015 CW", City: "Amsterdam", Country: "NL"},
		DashboardURL: "https://my.mollie.com/dashboard/org_12345678",
	}, org)
	assert.Equal(t, "", f.lastQuery(), "organizations/me takes no testmode")
}

func TestOnboarding(t *testing.T) {
	f := newFake(t)
	c := merchantClient(t, f)
	c.TestMode = true // must not reach onboarding/me, which takes no parameters
	st, err := c.Onboarding(context.Background())
	require.NoError(t, err)
	assert.Equal(t, &Onboarding{
		Name: "Shop B.V.", Status: OnboardingNeedsData,
		CanReceivePayments: true, CanReceiveSettlements: false,
		SignedUpAt:   time.Date(2018, 12, 20, 10, 49, 8, 0, time.UTC),
		DashboardURL: "https://my.mollie.com/dashboard/onboarding",
	}, normalise(st))
	assert.Equal(t, "", f.lastQuery())
}

// normalise makes times comparable with assert.Equal.
func normalise(st *Onboarding) *Onboarding {
	cp := *st
	cp.SignedUpAt = cp.SignedUpAt.UTC()
	return &cp
}

func TestOnboardingAnswers(t *testing.T) {
	tests := []struct {
		name  string
		a     answer
		check func(t *testing.T, st *Onboarding, err error)
	}{
		{
			name: "payments-disabled, unparsable date, unsafe dashboard link",
			a:    answer{200, nil, `{"status":"payments-disabled","signedUpAt":"yesterday","_links":{"dashboard":{"href":"javascript:alert(1)"}}}`},
			check: func(t *testing.T, st *Onboarding, err error) {
				require.NoError(t, err)
				assert.Equal(t, OnboardingPaymentsDisabled, st.Status)
				assert.True(t, st.SignedUpAt.IsZero())
				assert.Empty(t, st.DashboardURL)
			},
		},
		{
			name: "no status",
			a:    answer{200, nil, `{"name":"x"}`},
			check: func(t *testing.T, st *Onboarding, err error) {
				assert.ErrorIs(t, err, ErrResponse)
			},
		},
		{
			name: "403 missing scope",
			a:    answer{403, nil, `{"status":403,"title":"Forbidden","detail":"Missing scope onboarding.read"}`},
			check: func(t *testing.T, st *Onboarding, err error) {
				var ae *APIError
				require.ErrorAs(t, err, &ae)
				assert.Equal(t, "Missing scope onboarding.read", ae.Detail)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.queue("GET /v2/onboarding/me", tt.a)
			st, err := merchantClient(t, f).Onboarding(context.Background())
			tt.check(t, st, err)
		})
	}
}

// TestDashboardURLPinned: a dashboard link is handed out only when it names
// an allowed host (Mollie's my.mollie.com by default; loopback too while the
// Client talks to a loopback fake); any other host, look-alikes included,
// leaves DashboardURL empty and the rest of the answer intact.
func TestDashboardURLPinned(t *testing.T) {
	tests := []struct {
		href string
		want string
	}{
		{"https://my.mollie.com/dashboard/org_1", "https://my.mollie.com/dashboard/org_1"},
		{"https://MY.MOLLIE.COM/dashboard/org_1", "https://MY.MOLLIE.COM/dashboard/org_1"},
		{"https://my.mollie.com:443/dashboard/org_1", "https://my.mollie.com:443/dashboard/org_1"},
		{"https://attacker.example/dashboard/org_1", ""},
		{"https://my.mollie.com.attacker.example/dashboard/org_1", ""},
		{"https://my.mollie.com:8443/dashboard/org_1", ""},
		{"https://mollie.com/dashboard/org_1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.href, func(t *testing.T) {
			f := newFake(t)
			link := `"_links":{"dashboard":{"href":"` + tt.href + `","type":"text/html"}}`
			f.queue("GET /v2/organizations/me", answer{200, nil, `{"id":"org_1",` + link + `}`})
			f.queue("GET /v2/onboarding/me", answer{200, nil, `{"status":"needs-data",` + link + `}`})
			org, err := merchantClient(t, f).Organization(context.Background())
			require.NoError(t, err)
			assert.Equal(t, "org_1", org.ID)
			assert.Equal(t, tt.want, org.DashboardURL)
			st, err := merchantClient(t, f).Onboarding(context.Background())
			require.NoError(t, err)
			assert.Equal(t, OnboardingNeedsData, st.Status)
			assert.Equal(t, tt.want, st.DashboardURL)
		})
	}
}

func TestGetTestMode(t *testing.T) {
	f := newFake(t)
	c := merchantClient(t, f)
	var out struct {
		Count int `json:"count"`
	}
	require.NoError(t, c.Get(context.Background(), "/v2/profiles", map[string][]string{"limit": {"5"}}, &out))
	assert.Equal(t, "limit=5", f.lastQuery())
	c.TestMode = true
	q := map[string][]string{"limit": {"5"}}
	require.NoError(t, c.Get(context.Background(), "/v2/profiles", q, &out))
	assert.Equal(t, "limit=5&testmode=true", f.lastQuery())
	assert.Equal(t, map[string][]string{"limit": {"5"}}, q, "the caller's query is not changed")
	for _, bad := range []string{"profiles", "/v1/profiles", "/v2/profiles?testmode=false", "https://evil.example/v2/x", "/v2/../oauth2/tokens", "/v2/%2e%2e/x"} {
		assert.ErrorIs(t, c.Get(context.Background(), bad, nil, nil), ErrClientConfig, bad)
	}
}

func TestIdentify(t *testing.T) {
	tests := []struct {
		name    string
		scopes  []string
		token   store.Secret
		queue   *answer
		account string
		calls   int
		wantErr bool
	}{
		{"records the organization id", []string{"organizations.read", "onboarding.read"}, merchantToken, nil, "org_12345678", 1, false},
		{"without organizations.read leaves it empty", []string{"onboarding.read", "onboarding.write"}, merchantToken, nil, "", 0, false},
		{"401 fails the callback", []string{"organizations.read"}, "access_CANARYrevoked", nil, "", 1, true},
		{"answer without id fails", []string{"organizations.read"}, merchantToken, &answer{200, nil, `{"resource":"organization"}`}, "", 1, true},
		{"5xx fails", []string{"organizations.read"}, merchantToken, &answer{503, nil, ""}, "", 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			if tt.queue != nil {
				f.queue("GET /v2/organizations/me", *tt.queue)
			}
			identify := Identify(Client{BaseURL: f.URL(), AllowInsecureHTTP: true, HTTPClient: &http.Client{Timeout: 5 * time.Second}})
			conn := &oauthlink.Connection{Provider: "mollie", Owner: "u1", AccessToken: tt.token, Scopes: tt.scopes}
			err := identify(context.Background(), conn)
			if tt.wantErr {
				require.Error(t, err)
				noCanary(t, err.Error())
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tt.account, conn.AccountID)
			assert.Equal(t, tt.calls, f.count("GET /v2/organizations/me"))
		})
	}
}

// TestIdentifyRefusesCleartext: Identify sends the new token to an http
// API only on loopback and only with AllowInsecureHTTP; a refusal fails the
// callback without sending anything.
func TestIdentifyRefusesCleartext(t *testing.T) {
	f := newFake(t)
	for _, api := range []Client{{BaseURL: f.URL()}, {BaseURL: "http://api.mollie.com", AllowInsecureHTTP: true}} {
		conn := &oauthlink.Connection{Provider: "mollie", Owner: "u1", AccessToken: merchantToken, Scopes: []string{ScopeOrganizationsRead}}
		err := Identify(api)(context.Background(), conn)
		require.ErrorIs(t, err, ErrClientConfig, api.BaseURL)
		noCanary(t, err.Error())
		assert.Empty(t, conn.AccountID)
	}
	assert.Zero(t, f.count("GET /v2/organizations/me"))
}
