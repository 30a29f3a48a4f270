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

	"github.com/oauthlink/oauthlink/store"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func orgClient(f *fakeMollie) *Client {
	return &Client{BaseURL: f.URL(), Token: orgToken, Now: func() time.Time { return testNow }}
}

// noCanary fails when s carries a credential.
func noCanary(t *testing.T, s string) {
	t.Helper()
	assert.NotContains(t, s, orgToken)
	assert.NotContains(t, s, merchantToken)
	assert.NotContains(t, s, "CANARY")
}

func TestCreateClientLink(t *testing.T) {
	f := newFake(t)
	link, err := orgClient(f).CreateClientLink(context.Background(), validRequest())
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
	req := ClientLinkRequest{Owner: Owner{Email: " a@b.nl ", GivenName: "A ", FamilyName: " B"}, Name: "N", Address: Address{Country: " DE"}}
	_, err := orgClient(f).CreateClientLink(context.Background(), req)
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
	_, err := orgClient(f).CreateClientLink(context.Background(), req)
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "address.country", ve.Field)
	assert.Zero(t, f.count("POST /v2/client-links"))
}

func TestCreateClientLinkErrors(t *testing.T) {
	tests := []struct {
		name   string
		answer answer
		token  store.Secret
		check  func(t *testing.T, err error)
	}{
		{
			name:   "422 names the field",
			answer: answer{422, map[string]string{"Content-Type": "application/hal+json"}, `{"status":422,"title":"Unprocessable Entity","detail":"The VAT number is invalid","field":"vatNumber","_links":{"documentation":{"href":"https://docs.mollie.com/overview/handling-errors","type":"text/html"}}}`},
			check: func(t *testing.T, err error) {
				var ae *APIError
				require.ErrorAs(t, err, &ae)
				assert.Equal(t, APIError{StatusCode: 422, Title: "Unprocessable Entity", Detail: "The VAT number is invalid", Field: "vatNumber", DocumentationURL: "https://docs.mollie.com/overview/handling-errors"}, *ae)
				assert.Equal(t, http.StatusUnprocessableEntity, HTTPStatus(err))
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
				assert.Equal(t, http.StatusServiceUnavailable, HTTPStatus(err))
			},
		},
		{
			name:   "404 when client links are not enabled",
			answer: answer{404, map[string]string{"Content-Type": "application/hal+json"}, `{"status":404,"title":"Not Found","detail":"Not available"}`},
			check: func(t *testing.T, err error) {
				var ae *APIError
				require.ErrorAs(t, err, &ae)
				assert.Equal(t, 404, ae.StatusCode)
				assert.Equal(t, http.StatusBadGateway, HTTPStatus(err))
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
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			if tt.answer.status != 0 {
				f.queue("POST /v2/client-links", tt.answer)
			}
			c := orgClient(f)
			if tt.token != "" {
				c.Token = tt.token
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
	for _, status := range []int{301, 302, 303, 307, 308} {
		f.queue("POST /v2/client-links", answer{status, map[string]string{"Location": other.URL + "/v2/client-links"}, ""})
		c := orgClient(f)
		// Even an app client that follows redirects does not follow ours.
		c.HTTPClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
		_, err := c.CreateClientLink(context.Background(), validRequest())
		require.ErrorIs(t, err, ErrResponse, "status %d", status)
		assert.Contains(t, err.Error(), fmt.Sprint(status))
	}
	assert.Zero(t, elsewhere.Load())
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
	c := orgClient(f)
	c.Timeout = 50 * time.Millisecond
	_, err := c.CreateClientLink(context.Background(), validRequest())
	require.ErrorIs(t, err, ErrRequest)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, http.StatusBadGateway, HTTPStatus(err))
	noCanary(t, err.Error())
}

func TestCreateClientLinkCancelled(t *testing.T) {
	f := newFake(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := orgClient(f).CreateClientLink(ctx, validRequest())
	require.ErrorIs(t, err, ErrRequest)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestNetworkError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens there any more
	_, err := (&Client{BaseURL: base, Token: orgToken}).CreateClientLink(context.Background(), validRequest())
	require.ErrorIs(t, err, ErrRequest)
	assert.Equal(t, http.StatusBadGateway, HTTPStatus(err))
	noCanary(t, err.Error())
}

func TestClientConfig(t *testing.T) {
	tests := []struct {
		name  string
		base  string
		token store.Secret
	}{
		{"no token", "", ""},
		{"token with newline", "", "access_a\nInjected: 1"},
		{"token with space", "", "access_a b"},
		{"plain http off loopback", "http://api.mollie.com", orgToken},
		{"userinfo", "https://u:p@api.mollie.com", orgToken},
		{"query", "https://api.mollie.com?x=1", orgToken},
		{"relative", "/api", orgToken},
		{"ftp", "ftp://api.mollie.com", orgToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := (&Client{BaseURL: tt.base, Token: tt.token}).CreateClientLink(context.Background(), validRequest())
			require.ErrorIs(t, err, ErrClientConfig)
			noCanary(t, err.Error())
			assert.NotContains(t, err.Error(), "Injected")
		})
	}
	for _, ok := range []string{"https://api.mollie.com", "http://localhost:1", "http://127.0.0.1:1", "http://[::1]:1"} {
		_, err := (&Client{BaseURL: ok, Token: orgToken}).base()
		assert.NoError(t, err, ok)
	}
}

func TestClientRedactsToken(t *testing.T) {
	c := &Client{Token: orgToken}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", *c), fmt.Sprintf("%v", c.Token)} {
		noCanary(t, s)
	}
}

func TestErrorsAreDistinct(t *testing.T) {
	assert.False(t, errors.Is(ErrRequest, ErrResponse))
	assert.False(t, errors.Is(ErrResponse, ErrRequest))
}
