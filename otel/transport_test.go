package oauthlinkotel_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/trace"

	"github.com/oauthlink/oauthlink"
	oauthlinkotel "github.com/oauthlink/oauthlink/otel"
)

// spyBody is a request or response body that records reads and closes.
type spyBody struct {
	io.Reader
	reads, closes int
}

func (b *spyBody) Read(p []byte) (int, error) { b.reads++; return b.Reader.Read(p) }
func (b *spyBody) Close() error               { b.closes++; return nil }

// spyBase is a base RoundTripper that checks it gets the caller's request
// untouched and answers with a canned response.
type spyBase struct {
	t      *testing.T
	want   *http.Request
	status int
	body   *spyBody
	err    error
}

func (b *spyBase) RoundTrip(req *http.Request) (*http.Response, error) {
	require.Same(b.t, b.want, req, "the request reaches base as it came")
	if b.err != nil {
		return nil, b.err
	}
	return &http.Response{StatusCode: b.status, Body: b.body, Header: http.Header{}, Request: req}, nil
}

func TestTransportPassesRequestAndResponseThrough(t *testing.T) {
	s := newSink(t, testProvider)
	reqBody := &spyBody{Reader: strings.NewReader("grant_type=refresh_token&refresh_token=rt-secret")}
	req, err := http.NewRequest(http.MethodPost, testProvider.TokenURL+"?client_secret=cs-secret", reqBody)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Basic Y2xpZW50OmNzLXNlY3JldA==")
	header := req.Header.Clone()

	respBody := &spyBody{Reader: strings.NewReader(`{"access_token":"at-secret"}`)}
	base := &spyBase{t: t, want: req, status: 200, body: respBody}
	resp, err := s.tel.Transport(base).RoundTrip(req)
	require.NoError(t, err)
	require.Same(t, respBody, resp.Body, "the response body is base's, unwrapped")
	require.Zero(t, reqBody.reads+reqBody.closes, "the request body is neither read nor closed")
	require.Zero(t, respBody.reads+respBody.closes, "the response body is neither read nor closed")
	require.Equal(t, header, req.Header, "no header added or changed")
	require.Same(t, reqBody, req.Body)

	spans := s.spans.Ended()
	require.Len(t, spans, 1)
	sp := spans[0]
	require.Equal(t, oauthlinkotel.SpanToken, sp.Name())
	require.Equal(t, trace.SpanKindClient, sp.SpanKind())
	require.ElementsMatch(t, []attribute.KeyValue{
		oauthlinkotel.AttrProvider.String("acme"),
		oauthlinkotel.AttrOperation.String("token"),
		oauthlinkotel.AttrMethod.String("POST"),
		oauthlinkotel.AttrServerAddr.String("auth.acme.test"),
		oauthlinkotel.AttrStatusCode.Int(200),
	}, sp.Attributes())
	requireNoSecret(t, s, "rt-secret", "cs-secret", "at-secret", "Y2xpZW50", "refresh_token", "/oauth2")
}

func TestTransportNamesSpansByEndpoint(t *testing.T) {
	s := newSink(t, testProvider)
	do := func(method, url string, status int) {
		req, err := http.NewRequest(method, url, nil)
		require.NoError(t, err)
		resp, err := s.tel.Transport(&spyBase{t: t, want: req, status: status, body: &spyBody{Reader: strings.NewReader("")}}).RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
	}
	do(http.MethodPost, testProvider.TokenURL, 400)
	do(http.MethodPost, testProvider.RevokeURL, 503)
	do(http.MethodGet, testProvider.APIURL+"/v2/organization?iban=FR76", 200)
	do(http.MethodGet, "https://auth.acme.test/oauth2/token/other", 200)

	var names []string
	for _, sp := range s.spans.Ended() {
		names = append(names, sp.Name())
	}
	require.Equal(t, []string{"oauthlink.token", "oauthlink.revoke", "oauthlink.api", "oauthlink.api"}, names)
	revoke := s.spans.Ended()[1]
	require.Equal(t, codes.Error, revoke.Status().Code)
	require.Contains(t, revoke.Attributes(), oauthlinkotel.AttrErrorType.String("503"))

	got := histogram(t, s)
	acme := oauthlinkotel.AttrProvider.String("acme")
	require.Equal(t, map[attribute.Distinct]uint64{
		set(acme, oauthlinkotel.AttrOperation.String("token"), oauthlinkotel.AttrStatusClass.String("4xx")):  1,
		set(acme, oauthlinkotel.AttrOperation.String("revoke"), oauthlinkotel.AttrStatusClass.String("5xx")): 1,
		set(acme, oauthlinkotel.AttrOperation.String("api"), oauthlinkotel.AttrStatusClass.String("2xx")):    2,
	}, got)
	requireNoSecret(t, s, "FR76", "/v2", "organization")
}

func TestTransportError(t *testing.T) {
	s := newSink(t, testProvider)
	req, err := http.NewRequest(http.MethodPost, testProvider.TokenURL, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req = req.WithContext(ctx)
	_, err = s.tel.Transport(&spyBase{t: t, want: req, err: errors.New("dial https://auth.acme.test/x?code=c-secret: refused")}).RoundTrip(req)
	require.Error(t, err)
	_, err = s.tel.Transport(&spyBase{t: t, want: req, err: context.Canceled}).RoundTrip(req)
	require.ErrorIs(t, err, context.Canceled)

	spans := s.spans.Ended()
	require.Len(t, spans, 2)
	require.Equal(t, codes.Error, spans[0].Status().Code)
	require.Contains(t, spans[0].Attributes(), oauthlinkotel.AttrErrorType.String("transport"))
	require.Contains(t, spans[1].Attributes(), oauthlinkotel.AttrErrorType.String("canceled"))
	require.Equal(t, map[attribute.Distinct]uint64{set(oauthlinkotel.AttrProvider.String("acme"),
		oauthlinkotel.AttrOperation.String("token"), oauthlinkotel.AttrStatusClass.String("error")): 2}, histogram(t, s))
	requireNoSecret(t, s, "c-secret", "refused")
}

// A real round trip over TLS: the body arrives intact.
func TestTransportRealServer(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	defer srv.Close()
	p := oauthlink.Provider{Name: "acme", TokenURL: srv.URL + "/token"}
	s := newSink(t, p)
	client := &http.Client{Transport: s.tel.Transport(srv.Client().Transport)}
	defer client.CloseIdleConnections()
	resp, err := client.Post(srv.URL+"/token", "text/plain", strings.NewReader("payload-123"))
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "payload-123", string(b))
	require.Len(t, s.spans.Ended(), 1)
	require.Equal(t, "oauthlink.token", s.spans.Ended()[0].Name())
	require.Contains(t, s.spans.Ended()[0].Attributes(), oauthlinkotel.AttrServerAddr.String("127.0.0.1"))
}

// histogram returns the duration histogram's counts by attribute set.
func histogram(t *testing.T, s *sink) map[attribute.Distinct]uint64 {
	t.Helper()
	m, ok := s.collect()[oauthlinkotel.MetricProviderDuration]
	require.True(t, ok, "no %s", oauthlinkotel.MetricProviderDuration)
	require.Equal(t, "s", m.Unit)
	h, ok := m.Data.(metricdata.Histogram[float64])
	require.True(t, ok, "%T", m.Data)
	out := map[attribute.Distinct]uint64{}
	for _, dp := range h.DataPoints {
		out[dp.Attributes.Equivalent()] = dp.Count
	}
	return out
}

// requireNoSecret fails if any attribute, span name or status description
// recorded contains one of secrets.
func requireNoSecret(t *testing.T, s *sink, secrets ...string) {
	t.Helper()
	all := s.allAttributes()
	require.NotEmpty(t, all)
	for _, v := range all {
		for _, secret := range secrets {
			require.NotContains(t, v, secret)
		}
	}
}
