package oauthlinktest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newClock() *Clock { return NewClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)) }

const (
	appCallback = "https://app.example.test/connect/callback"
	testState   = "state-0123456789abcdef"
)

func newTestMollie(t *testing.T, opts MollieOptions) *Mollie {
	t.Helper()
	if opts.RedirectURIs == nil {
		opts.RedirectURIs = []string{appCallback}
	}
	m := NewMollie(opts)
	t.Cleanup(m.Close)
	return m
}

func newTestQonto(t *testing.T, opts QontoOptions) *Qonto {
	t.Helper()
	if opts.RedirectURIs == nil {
		opts.RedirectURIs = []string{appCallback}
	}
	q := NewQonto(opts)
	t.Cleanup(q.Close)
	return q
}

func newTestStripe(t *testing.T, opts StripeOptions) *Stripe {
	t.Helper()
	if opts.RedirectURIs == nil {
		opts.RedirectURIs = []string{appCallback}
	}
	st := NewStripe(opts)
	t.Cleanup(st.Close)
	return st
}

func newTestGoCardless(t *testing.T, opts GoCardlessOptions) *GoCardless {
	t.Helper()
	if opts.RedirectURIs == nil {
		opts.RedirectURIs = []string{appCallback}
	}
	gc := NewGoCardless(opts)
	t.Cleanup(gc.Close)
	return gc
}

// authParams returns a valid authorization request for s.
func authParams(s *server, scopes string) url.Values {
	return url.Values{
		"client_id":     {s.ClientID()},
		"response_type": {"code"},
		"redirect_uri":  {appCallback},
		"state":         {testState},
		"scope":         {scopes},
	}
}

// authorize runs the browser step and returns the callback's query.
func authorize(t *testing.T, s *server, params url.Values) url.Values {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cb, err := s.Authorize(ctx, s.AuthURL()+"?"+params.Encode())
	require.NoError(t, err)
	return cb.Query()
}

// code returns an authorization code for params.
func code(t *testing.T, s *server, params url.Values) string {
	t.Helper()
	q := authorize(t, s, params)
	require.Empty(t, q.Get("error"), q.Get("error_description"))
	require.NotEmpty(t, q.Get("code"))
	return q.Get("code")
}

// request describes one call to a fake.
type request struct {
	method      string
	url         string
	form        url.Values        // form body
	json        map[string]string // JSON body, when form is nil
	contentType string            // overrides the body's type
	basic       []string          // {user, password}
	header      http.Header
}

// reply is a fake's answer, decoded.
type reply struct {
	status      int
	contentType string
	header      http.Header
	raw         []byte
	tokenJSON
}

type tokenJSON struct {
	AccessToken      string `json:"access_token"`
	RefreshToken     string `json:"refresh_token"`
	ExpiresIn        int64  `json:"expires_in"`
	TokenType        string `json:"token_type"`
	Scope            string `json:"scope"`
	IDToken          string `json:"id_token"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

func send(t *testing.T, s *server, rq request) reply {
	t.Helper()
	var body io.Reader
	ct := ""
	switch {
	case rq.form != nil:
		body, ct = strings.NewReader(rq.form.Encode()), "application/x-www-form-urlencoded"
	case rq.json != nil:
		b, err := json.Marshal(rq.json)
		require.NoError(t, err)
		body, ct = bytes.NewReader(b), "application/json"
	}
	if rq.contentType != "" {
		ct = rq.contentType
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, rq.method, rq.url, body)
	require.NoError(t, err)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if rq.basic != nil {
		req.SetBasicAuth(rq.basic[0], rq.basic[1])
	}
	for k, v := range rq.header {
		req.Header[k] = v
	}
	resp, err := s.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	r := reply{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), header: resp.Header, raw: raw}
	if len(raw) > 0 && raw[0] == '{' {
		require.NoError(t, json.Unmarshal(raw, &r.tokenJSON))
	}
	return r
}

func (s *server) basic() []string { return []string{s.ClientID(), s.ClientSecret()} }

// withCreds adds body client credentials to form.
func (s *server) withCreds(form url.Values) url.Values {
	form = cloneValues(form)
	form.Set("client_id", s.ClientID())
	form.Set("client_secret", s.ClientSecret())
	return form
}

func cloneValues(v url.Values) url.Values {
	c := url.Values{}
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// mollieToken posts form to Mollie's token endpoint with Basic credentials.
func mollieToken(t *testing.T, m *Mollie, form url.Values) reply {
	t.Helper()
	return send(t, m.server, request{method: http.MethodPost, url: m.TokenURL(), form: form, basic: m.basic()})
}

// qontoToken posts form to Qonto's token endpoint with body credentials
// (and the staging header when the fake wants one).
func qontoToken(t *testing.T, q *Qonto, form url.Values) reply {
	t.Helper()
	return send(t, q.server, request{method: http.MethodPost, url: q.TokenURL(), form: q.withCreds(form), header: q.stagingHeader()})
}

func (q *Qonto) stagingHeader() http.Header {
	if q.opts.StagingToken == "" {
		return nil
	}
	return http.Header{StagingHeader: {q.opts.StagingToken}}
}

func exchangeForm(code, redirect string) url.Values {
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}}
	if redirect != "" {
		f.Set("redirect_uri", redirect)
	}
	return f
}

func refreshForm(rt string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
}

// within fails the test if ch does not deliver within a generous bound.
func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		require.FailNow(t, "timed out waiting for "+what)
	}
	var zero T
	return zero
}
