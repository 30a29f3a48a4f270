package mollie

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tokenClient is a Client for the fake with a static token.
func tokenClient(t *testing.T, f *fakeMollie, token store.Secret) *Client {
	t.Helper()
	c, err := NewTokenClient(token, Client{BaseURL: f.URL(), AllowInsecureHTTP: true, Now: func() time.Time { return testNow }})
	require.NoError(t, err)
	return c
}

// orgClient is the partner's client: the organization token.
func orgClient(t *testing.T, f *fakeMollie) *Client { return tokenClient(t, f, orgToken) }

// noCanary fails when s carries a credential.
func noCanary(t *testing.T, s string) {
	t.Helper()
	assert.NotContains(t, s, orgToken)
	assert.NotContains(t, s, merchantToken)
	assert.NotContains(t, s, "CANARY")
}

func TestCreateClientLink(t *testing.T) {
	f := newFake(t)
	link, err := orgClient(t, f).CreateClientLink(context.Background(), validRequest())
	require.NoError(t, err)
	assert.Equal(t, "cl_fake1", link.ID)
	assert.Equal(t, "https://my.mollie.com/dashboard/client-link/cl_fake1?lang=nl&x=a%20b", link.Href)
	assert.Equal(t, testNow, link.CreatedAt)
	assert.Equal(t, testNow.Add(30*24*time.Hour), link.ExpiresAt)
	assert.False(t, link.Expired(testNow.Add(30*24*time.Hour-time.Second)))
	assert.True(t, link.Expired(testNow.Add(30*24*time.Hour)))

	// Mollie's camelCase names on the wire; empty optional fields omitted.
	body := f.lastBody()
	require.NotNil(t, body)
	assert.Equal(t, map[string]any{
		"owner":              map[string]any{"email": "owner@shop.example", "givenName": "Anna", "familyName": "de Vries", "locale": "nl_NL"},
		"name":               "Shop B.V.",
		"address":            map[string]any{"streetAndNumber": "Keizersgracht 126", "postalCode": "1015 CW", "city": "Amsterdam", "country": "NL"},
		"registrationNumber": "30204462",
		"vatNumber":          "NL815839091B01",
		"legalEntity":        "nl-bv",
		"incorporationDate":  "2018-12-20",
	}, body)
	assert.Equal(t, []string{"Bearer " + orgToken}, f.authsSeen())
}

func TestCreateClientLinkTrimsAndOmitsEmpty(t *testing.T) {
	f := newFake(t)
	req := ClientLinkRequest{OrganizationOwner: OrganizationOwner{Email: " a@b.nl ", GivenName: "A ", FamilyName: " B"}, Name: "N", Address: Address{Country: " DE"}}
	_, err := orgClient(t, f).CreateClientLink(context.Background(), req)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{
		"owner":   map[string]any{"email": "a@b.nl", "givenName": "A", "familyName": "B"},
		"name":    "N",
		"address": map[string]any{"country": "DE"},
	}, f.lastBody())
}

func TestCreateClientLinkInvalidSendsNothing(t *testing.T) {
	f := newFake(t)
	req := validRequest()
	req.Address.Country = "Netherlands"
	_, err := orgClient(t, f).CreateClientLink(context.Background(), req)
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "address.country", ve.Field)
	assert.Zero(t, f.count("POST /v2/client-links"))
}

type createClientLinkError struct {
	name   string
	answer answer
	token  store.Secret
	check  func(t *testing.T, err error)
}

var createClientLinkErrors = []createClientLinkError{

	{
		name:   "422 names the field",
		answer: answer{422, map[string]string{"Content-Type": "application/hal+json"}, `{"status":422,"title":"Unprocessable Entity","detail":"The VAT number is invalid","field":"vatNumber","_links":{"documentation":{"href":"https://docs.mollie.com/overview/handling-errors","type":"text/html"}}}`},
		check: func(t *testing.T, err error) {
			var ae *APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, APIError{StatusCode: 422, Title: "Unprocessable Entity", Detail: "The VAT number is invalid", Field: "vatNumber", DocumentationURL: "https://docs.mollie.com/overview/handling-errors"}, *ae)
			assert.Equal(t, http.StatusUnprocessableEntity, oauthlink.HTTPStatus(err))
		},
	},
	{
		name:   "429 carries Retry-After",
		answer: answer{429, map[string]string{"Content-Type": "application/hal+json", "Retry-After": "12"}, `{"status":429,"title":"Too Many Requests","detail":"Rate limit exceeded"}`},
		check: func(t *testing.T, err error) {
			var ae *APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, 429, ae.StatusCode)
			assert.Equal(t, 12*time.Second, ae.RetryAfter)
			assert.True(t, ae.Temporary())
			assert.Equal(t, http.StatusServiceUnavailable, oauthlink.HTTPStatus(err))
		},
	},
	{
		name:   "404 when client links are not enabled",
		answer: answer{404, map[string]string{"Content-Type": "application/hal+json"}, `{"status":404,"title":"Not Found","detail":"Not available"}`},
		check: func(t *testing.T, err error) {
			var ae *APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, 404, ae.StatusCode)
			assert.Equal(t, http.StatusBadGateway, oauthlink.HTTPStatus(err))
		},
	},
	{
		name:  "401 for a wrong token, token not echoed",
		token: "access_CANARYwrongToken",
		check: func(t *testing.T, err error) {
			var ae *APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, 401, ae.StatusCode)
			assert.NotContains(t, err.Error(), "access_CANARYwrongToken")
		},
	},
	{
		name:   "502 HTML page",
		answer: answer{502, map[string]string{"Content-Type": "text/html"}, "<html><body>Bad gateway " + orgToken + "</body></html>"},
		check: func(t *testing.T, err error) {
			var ae *APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, APIError{StatusCode: 502, Title: "Bad Gateway"}, *ae)
		},
	},
	{
		name:   "200 instead of 201",
		answer: answer{200, nil, `{"id":"cl_1","_links":{"clientLink":{"href":"https://my.mollie.com/cl/1"}}}`},
		check:  func(t *testing.T, err error) { assert.ErrorIs(t, err, ErrResponse) },
	},
	{
		name:   "201 that is not JSON",
		answer: answer{201, map[string]string{"Content-Type": "text/html"}, "<html>created</html>"},
		check:  func(t *testing.T, err error) { assert.ErrorIs(t, err, ErrResponse) },
	},
	{
		name:   "201 without id",
		answer: answer{201, nil, `{"_links":{"clientLink":{"href":"https://my.mollie.com/cl/1"}}}`},
		check:  func(t *testing.T, err error) { assert.ErrorIs(t, err, ErrResponse) },
	},
	{
		name:   "201 with id carrying markup",
		answer: answer{201, nil, `{"id":"cl_\"><script>","_links":{"clientLink":{"href":"https://my.mollie.com/cl/1"}}}`},
		check:  func(t *testing.T, err error) { assert.ErrorIs(t, err, ErrResponse) },
	},
	{
		name:   "201 with javascript href",
		answer: answer{201, nil, `{"id":"cl_1","_links":{"clientLink":{"href":"javascript:alert(1)"}}}`},
		check:  func(t *testing.T, err error) { assert.ErrorIs(t, err, ErrResponse) },
	},
	{
		name:   "201 with plain http href off loopback",
		answer: answer{201, nil, `{"id":"cl_1","_links":{"clientLink":{"href":"http://my.mollie.com/cl/1"}}}`},
		check:  func(t *testing.T, err error) { assert.ErrorIs(t, err, ErrResponse) },
	},
	{
		// A spoofed or misconfigured answer must not choose where the
		// browser (and the flow's state) goes.
		name:   "201 with href on a foreign host",
		answer: answer{201, nil, `{"id":"cl_1","_links":{"clientLink":{"href":"https://attacker.example/dashboard/client-link/cl_1"}}}`},
		check: func(t *testing.T, err error) {
			assert.ErrorIs(t, err, ErrResponse)
			assert.ErrorIs(t, err, ErrHostNotAllowed)
		},
	},
	{
		name:   "201 with href on a look-alike host",
		answer: answer{201, nil, `{"id":"cl_1","_links":{"clientLink":{"href":"https://my.mollie.com.attacker.example/cl/1"}}}`},
		check:  func(t *testing.T, err error) { assert.ErrorIs(t, err, ErrHostNotAllowed) },
	},
	{
		name:   "201 with href on another port of Mollie's host",
		answer: answer{201, nil, `{"id":"cl_1","_links":{"clientLink":{"href":"https://my.mollie.com:8443/cl/1"}}}`},
		check:  func(t *testing.T, err error) { assert.ErrorIs(t, err, ErrHostNotAllowed) },
	},
	{
		name:   "201 body over 1 MiB",
		answer: answer{201, nil, `{"id":"cl_1","pad":"` + strings.Repeat("x", maxBody) + `"}`},
		check:  func(t *testing.T, err error) { assert.ErrorIs(t, err, ErrResponse) },
	},
	{
		name:   "redirect is not followed",
		answer: answer{307, map[string]string{"Location": "/v2/client-links-elsewhere"}, ""},
		check:  func(t *testing.T, err error) { assert.ErrorIs(t, err, ErrResponse) },
	},
}

func TestCreateClientLinkErrors(t *testing.T) {
	for _, tt := range createClientLinkErrors {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			if tt.answer.status != 0 {
				f.queue("POST /v2/client-links", tt.answer)
			}
			c := orgClient(t, f)
			if tt.token != "" {
				c = tokenClient(t, f, tt.token)
			}
			link, err := c.CreateClientLink(context.Background(), validRequest())
			require.Error(t, err)
			assert.Nil(t, link)
			noCanary(t, err.Error())
			noCanary(t, fmt.Sprintf("%+v %#v", err, c))
			tt.check(t, err)
			assert.Equal(t, 1, f.count("POST /v2/client-links"), "never retried")
		})
	}
}

func TestRedirectNeverForwardsToken(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.WriteHeader(http.StatusCreated)
	}))
	defer other.Close()
	f := newFake(t)
	follow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
	for _, status := range []int{301, 302, 303, 307, 308} {
		// Even an app client that follows redirects does not follow ours:
		// neither underneath a token client nor as the Client's own.
		partner, err := NewTokenClient(orgToken, Client{BaseURL: f.URL(), AllowInsecureHTTP: true, HTTPClient: follow})
		require.NoError(t, err)
		own := &Client{BaseURL: f.URL(), AllowInsecureHTTP: true, HTTPClient: follow}
		for _, c := range []*Client{partner, own} {
			f.queue("POST /v2/client-links", answer{status, map[string]string{"Location": other.URL + "/v2/client-links"}, ""})
			_, err := c.CreateClientLink(context.Background(), validRequest())
			require.ErrorIs(t, err, ErrResponse, "status %d", status)
			assert.Contains(t, err.Error(), fmt.Sprint(status))
		}
	}
	assert.Zero(t, elsewhere.Load())
}

// TestTokenClientPinsOrigin: NewTokenClient's HTTPClient sends the token
// only to BaseURL's origin; a request anywhere else is refused unsent.
func TestTokenClientPinsOrigin(t *testing.T) {
	var seen atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen.Add(1) }))
	defer other.Close()
	f := newFake(t)
	c := orgClient(t, f)
	for _, target := range []string{other.URL + "/v2/client-links", "https" + strings.TrimPrefix(f.URL(), "http") + "/v2/x"} {
		resp, err := c.HTTPClient.Get(target)
		if resp != nil {
			resp.Body.Close()
		}
		require.Error(t, err, target)
		noCanary(t, err.Error())
	}
	assert.Zero(t, seen.Load())
	assert.Zero(t, f.count("GET /v2/x"))
}

func TestCreateClientLinkTimeout(t *testing.T) {
	f := newFake(t)
	release := make(chan struct{})
	defer close(release)
	// The handler holds the request until the client gives up (or the test
	// ends): the call must return by its own deadline.
	f.hook = func(r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}
	c := orgClient(t, f)
	c.Timeout = 50 * time.Millisecond
	_, err := c.CreateClientLink(context.Background(), validRequest())
	require.ErrorIs(t, err, ErrRequest)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, http.StatusBadGateway, oauthlink.HTTPStatus(err))
	noCanary(t, err.Error())
}

func TestCreateClientLinkCancelled(t *testing.T) {
	f := newFake(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := orgClient(t, f).CreateClientLink(ctx, validRequest())
	require.ErrorIs(t, err, ErrRequest)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestNetworkError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens there any more
	c, err := NewTokenClient(orgToken, Client{BaseURL: base, AllowInsecureHTTP: true})
	require.NoError(t, err)
	_, err = c.CreateClientLink(context.Background(), validRequest())
	require.ErrorIs(t, err, ErrRequest)
	assert.Equal(t, http.StatusBadGateway, oauthlink.HTTPStatus(err))
	noCanary(t, err.Error())
}

func TestNewTokenClientConfig(t *testing.T) {
	tests := []struct {
		name     string
		base     string
		insecure bool
		token    store.Secret
	}{
		{"no token", "", false, ""},
		{"token with newline", "", false, "access_a\nInjected: 1"},
		{"token with space", "", false, "access_a b"},
		{"plain http off loopback", "http://api.mollie.com", false, orgToken},
		{"plain http off loopback, even allowed", "http://api.mollie.com", true, orgToken},
		{"plain http to loopback without AllowInsecureHTTP", "http://127.0.0.1:1", false, orgToken},
		{"userinfo", "https://u:p@api.mollie.com", false, orgToken},
		{"query", "https://api.mollie.com?x=1", false, orgToken},
		{"empty query", "https://api.mollie.com?", false, orgToken},
		{"relative", "/api", false, orgToken},
		{"ftp", "ftp://api.mollie.com", false, orgToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewTokenClient(tt.token, Client{BaseURL: tt.base, AllowInsecureHTTP: tt.insecure})
			require.ErrorIs(t, err, ErrClientConfig)
			assert.Nil(t, c)
			noCanary(t, err.Error())
			assert.NotContains(t, err.Error(), "Injected")
		})
	}
	for _, ok := range []struct {
		base     string
		insecure bool
	}{{"", false}, {"https://api.mollie.com", false}, {"http://localhost:1", true}, {"http://127.0.0.1:1", true}, {"http://[::1]:1", true}} {
		_, err := NewTokenClient(orgToken, Client{BaseURL: ok.base, AllowInsecureHTTP: ok.insecure})
		assert.NoError(t, err, ok.base)
	}
}

// TestClientConfig: a Client without HTTPClient, or with a BaseURL that
// could carry a token in clear, sends nothing.
func TestClientConfig(t *testing.T) {
	f := newFake(t)
	for name, c := range map[string]*Client{
		"no HTTPClient":      {BaseURL: f.URL(), AllowInsecureHTTP: true},
		"plain http":         {BaseURL: f.URL(), HTTPClient: http.DefaultClient},
		"plain http, remote": {BaseURL: "http://api.mollie.com", AllowInsecureHTTP: true, HTTPClient: http.DefaultClient},
	} {
		_, err := c.Organization(context.Background())
		assert.ErrorIs(t, err, ErrClientConfig, name)
	}
	assert.Zero(t, f.count("GET /v2/organizations/me"))
}

func TestClientRedactsToken(t *testing.T) {
	f := newFake(t)
	c := orgClient(t, f)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", *c), fmt.Sprintf("%+v", *c.HTTPClient)} {
		noCanary(t, s)
	}
}

func TestErrorsAreDistinct(t *testing.T) {
	assert.False(t, errors.Is(ErrRequest, ErrResponse))
	assert.False(t, errors.Is(ErrResponse, ErrRequest))
	assert.Equal(t, http.StatusBadGateway, oauthlink.HTTPStatus(ErrRequest))
	assert.Equal(t, http.StatusBadGateway, oauthlink.HTTPStatus(fmt.Errorf("x: %w", ErrResponse)))
	assert.Equal(t, http.StatusInternalServerError, oauthlink.HTTPStatus(ErrClientConfig))
}
