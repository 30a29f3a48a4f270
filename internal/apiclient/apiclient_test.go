package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/oauthlink/oauthlink/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBase(t *testing.T) {
	for raw, want := range map[string]string{
		"https://api.example/": "https://api.example", "https://api.example/v": "https://api.example/v",
		"http://127.0.0.1:8080": "http://127.0.0.1:8080", "http://localhost": "http://localhost", "http://[::1]:1": "http://[::1]:1",
	} {
		got, err := Base(raw, true)
		require.NoError(t, err, raw)
		assert.Equal(t, want, got)
	}
	for _, raw := range []string{"http://127.0.0.1:8080", "http://api.example", "ftp://api.example", "/api", "",
		"https://u:p@api.example", "https://api.example?x=1", "https://api.example?", "https://api.example#f"} {
		_, err := Base(raw, false)
		assert.Error(t, err, raw)
	}
	_, err := Base("http://api.example", true)
	assert.Error(t, err, "plain http only to loopback, even when allowed")
}

// TestTokenClient: the token goes to the base's origin only, with the
// extra header; any other origin is refused before anything is sent.
func TestTokenClient(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	defer srv.Close()
	hc, err := TokenClient(srv.URL, "tok_1", http.Header{"X-Extra": {"v"}}, nil)
	require.NoError(t, err)
	resp, err := hc.Get(srv.URL + "/x")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "Bearer tok_1", got.Get("Authorization"))
	assert.Equal(t, "v", got.Get("X-Extra"))

	got = nil
	for _, other := range []string{"http://localhost" + srv.URL[len("http://127.0.0.1"):], "https" + srv.URL[len("http"):], "http://127.0.0.1:1"} {
		_, err := hc.Get(other + "/x")
		assert.ErrorIs(t, err, ErrOtherOrigin, other)
		assert.NotContains(t, fmt.Sprint(err), "tok_1")
	}
	assert.Nil(t, got, "nothing sent")

	hc, err = TokenClient("https://api.example", "tok_1", nil, nil)
	require.NoError(t, err)
	assert.Equal(t, "443", hc.Transport.(*tokenTransport).port, "the default port")
	for _, bad := range []store.Secret{"", "tok 1", "tok\n1", "tök"} {
		_, err := TokenClient(srv.URL, bad, nil, nil)
		assert.Error(t, err, "%q", bad.Reveal())
	}
}

// TestDoRawBody: a *json.RawMessage receives the answer byte for byte,
// trailing newline included; invalid JSON is a Response error.
func TestDoRawBody(t *testing.T) {
	body := "{\"a\": 1}\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) }))
	defer srv.Close()
	errResponse := errors.New("response")
	c := &Caller{HTTPClient: srv.Client(), Base: srv.URL, Errors: Errors{Config: errors.New("config"), Request: errors.New("request"), Response: errResponse},
		APIError: func(status int, _ http.Header, _ []byte) error { return fmt.Errorf("api %d", status) }}
	var raw json.RawMessage
	require.NoError(t, c.Do(context.Background(), Call{Method: http.MethodGet, Path: "/x", Want: http.StatusOK, Out: &raw}))
	assert.Equal(t, body, string(raw))

	body = "{not json"
	assert.ErrorIs(t, c.Do(context.Background(), Call{Method: http.MethodGet, Path: "/x", Want: http.StatusOK, Out: &raw}), errResponse)
	assert.ErrorIs(t, c.Do(context.Background(), Call{Method: http.MethodGet, Path: "/x", Want: http.StatusCreated}), errResponse)
}

func TestBadGateway(t *testing.T) {
	err := BadGateway("p: failed")
	assert.Equal(t, "p: failed", err.Error())
	assert.Equal(t, http.StatusBadGateway, err.(interface{ HTTPStatus() int }).HTTPStatus())
	assert.NotErrorIs(t, err, BadGateway("p: failed"), "each sentinel is its own")
}
