package interop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/discovery"
	"github.com/oauthlink/oauthlink/store/memstore"
)

const (
	clientID     = "oauthlink-web"
	clientSecret = "a-secret-the-op-compares-as-is"
	owner        = "shop-1"
)

// zitadelOP is ZITADEL's OpenID Provider with its example storage and
// login page on an httptest TLS server, recording the requests it gets.
type zitadelOP struct {
	srv *httptest.Server

	mu       sync.Mutex
	requests []*url.URL
}

func newZitadelOP(t *testing.T, redirectURI string) *zitadelOP {
	t.Helper()
	op := &zitadelOP{}
	// The OP needs its issuer (the server's URL) before it serves, so the
	// handler is set once the server listens.
	var handler atomic.Pointer[http.Handler]
	op.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op.mu.Lock()
		op.requests = append(op.requests, r.URL)
		op.mu.Unlock()
		(*handler.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(op.srv.Close)
	st := storage.NewStorageWithClients(storage.NewUserStore(op.srv.URL), map[string]*storage.Client{
		clientID: storage.WebClient(clientID, clientSecret, redirectURI),
	})
	// A logger makes SetupServer replace slog's default: a discarding one
	// keeps the test's output to the test.
	var h http.Handler = exampleop.SetupServer(op.srv.URL, st, slog.New(slog.DiscardHandler), false)
	handler.Store(&h)
	return op
}

// requested returns the requests to path, in order.
func (op *zitadelOP) requested(path string) []*url.URL {
	op.mu.Lock()
	defer op.mu.Unlock()
	var out []*url.URL
	for _, u := range op.requests {
		if u.Path == path {
			out = append(out, u)
		}
	}
	return out
}

// refreshStatus presents a refresh token at the OP's token endpoint
// directly, as a check of what the OP thinks of it.
func (op *zitadelOP) refreshStatus(t *testing.T, tokenURL, refreshToken string) int {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, clientSecret)
	resp, err := op.srv.Client().Do(req)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestZitadelOP connects a provider discovered from ZITADEL's OP and runs
// its whole lifecycle against it.
func TestZitadelOP(t *testing.T) {
	mux := http.NewServeMux()
	app := httptest.NewTLSServer(mux)
	t.Cleanup(app.Close)
	op := newZitadelOP(t, app.URL+"/callback")

	// One call: the OP serves only the OpenID location, so discovery
	// falls back to it after the RFC 8414 location's 404.
	p, err := discovery.Provider(t.Context(), "zitadel", op.srv.URL, discovery.Options{HTTPClient: op.srv.Client()})
	require.NoError(t, err)
	require.Len(t, op.requested("/.well-known/oauth-authorization-server"), 1)
	require.Len(t, op.requested("/.well-known/openid-configuration"), 1)
	assert.Equal(t, oauthlink.AuthStyleBasic, p.AuthStyle, "client_secret_basic, the client's registered method, comes first")
	assert.True(t, p.PKCE, "the OP offers S256")
	assert.Equal(t, op.srv.URL, p.Issuer)
	assert.False(t, p.IssuerRequired, "the OP does not advertise RFC 9207")
	require.NotEmpty(t, p.RevokeURL)
	// What the metadata cannot say: the API (here the OP's userinfo
	// endpoint), the scope without which no refresh token is issued, and
	// that refresh tokens rotate.
	p.APIURL = op.srv.URL
	p.RequiredScopes = []string{"openid", "offline_access"}
	p.RotatesRefreshTokens = true

	var failed atomic.Pointer[error] // set by the server, read by the test
	link, err := oauthlink.New(oauthlink.Config{
		Provider: p, ClientID: clientID, ClientSecret: clientSecret,
		RedirectURL:   app.URL + "/callback",
		Store:         memstore.New(),
		CookieSecrets: [][]byte{bytes.Repeat([]byte{9}, 32)},
		Owner:         func(*http.Request) (string, error) { return owner, nil },
		HTTPClient:    op.srv.Client(),
		Logger:        slog.New(slog.DiscardHandler),
		Hooks: oauthlink.Hooks{OnError: func(w http.ResponseWriter, r *http.Request, err error) {
			failed.Store(&err)
			oauthlink.DefaultErrorHandler(w, r, err)
		}},
	})
	require.NoError(t, err)
	mux.Handle("/start", link.StartHandler())
	mux.Handle("/callback", link.CallbackHandler())
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "connected") })

	// start → authorize → sign in on the OP's login page → callback →
	// exchange.
	landed := signIn(t, op, app.URL+"/start")
	if e := failed.Load(); e != nil {
		t.Fatalf("a handler failed: %v", *e)
	}
	require.Equal(t, app.URL+"/", landed)
	auth := op.requested("/auth")
	require.NotEmpty(t, auth)
	assert.Equal(t, "S256", auth[0].Query().Get("code_challenge_method"))

	conn, err := link.Connection(t.Context(), owner)
	require.NoError(t, err)
	require.NotEmpty(t, conn.RefreshToken.Reveal(), "offline_access gave a refresh token")

	// The API, with the bearer token: per owner, and per request context.
	assert.Equal(t, "id1", userinfoSub(t, t.Context(), link.Client(owner), op.srv.URL))
	shared := link.ContextClient(func(ctx context.Context) (string, error) { return owner, nil })
	assert.Equal(t, "id1", userinfoSub(t, t.Context(), shared, op.srv.URL))

	// Refresh: the OP rotates, and refuses the spent refresh token.
	refreshed, err := link.ForceRefresh(t.Context(), owner)
	require.NoError(t, err)
	assert.NotEqual(t, conn.AccessToken, refreshed.AccessToken)
	assert.NotEqual(t, conn.RefreshToken, refreshed.RefreshToken)
	assert.Equal(t, http.StatusBadRequest, op.refreshStatus(t, p.TokenURL, conn.RefreshToken.Reveal()))
	assert.Equal(t, "id1", userinfoSub(t, t.Context(), link.Client(owner), op.srv.URL))

	// Disconnect revokes at the OP (RFC 7009), which then refuses the
	// refresh token.
	require.NoError(t, link.Disconnect(t.Context(), owner))
	assert.Len(t, op.requested(mustPath(t, p.RevokeURL)), 1)
	assert.Equal(t, http.StatusBadRequest, op.refreshStatus(t, p.TokenURL, refreshed.RefreshToken.Reveal()))
	_, err = link.Connection(t.Context(), owner)
	assert.Error(t, err, "the connection is gone")
}

// signIn plays the browser from target: it follows redirects across the
// app and the OP and, on the OP's login page, signs in as the example
// storage's user. It returns the URL it lands on.
func signIn(t *testing.T, op *zitadelOP, target string) string {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	browser := &http.Client{Jar: jar, Transport: op.srv.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	next, err := url.Parse(target)
	require.NoError(t, err)
	for range 10 {
		resp, err := browser.Get(next.String())
		require.NoError(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && next.Path == "/login/username" {
			// The login form posts the auth request id with the
			// credentials; the OP then redirects to its callback.
			form := url.Values{"id": {next.Query().Get("authRequestID")},
				"username": {"test-user@" + next.Hostname()}, "password": {"verysecure"}}
			resp, err = browser.PostForm(next.String(), form)
			require.NoError(t, err)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if resp.StatusCode < 300 || resp.StatusCode > 399 {
			require.Equal(t, http.StatusOK, resp.StatusCode, "at %s", next.Path)
			return next.String()
		}
		loc, err := resp.Location()
		require.NoError(t, err)
		next = loc
	}
	t.Fatal("too many redirects")
	return ""
}

// userinfoSub calls the OP's userinfo endpoint through client and returns
// the subject.
func userinfoSub(t *testing.T, ctx context.Context, client *http.Client, issuer string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, issuer+"/userinfo", nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var info struct {
		Sub string `json:"sub"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&info))
	return info.Sub
}

func mustPath(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u.Path
}
