package integration_test

// # Errors that classify (issue "Reliability the tests can trust", item 4)
//
// Every error a public method of the root package returns matches a
// documented sentinel or type with errors.Is or errors.As, whatever store
// sits underneath and however it fails, and never carries a secret.
// TestErrorsClassify runs one table of cases, each a public method in one
// situation, on every store, each failing the way that store really fails
// when its server goes away:
//
//   - memstore, wrapped in downStore, which makes every call fail once
//     killed (memstore itself cannot fail);
//   - SQLite (modernc.org/sqlite), whose *sql.DB is closed;
//   - PostgreSQL, reached through a cutProxy that is closed, so pooled
//     connections break and new ones are refused;
//   - Redis, whose client is closed.
//
// The table lives here rather than in the root package because this
// package already opens PostgreSQL and Redis (newPostgres, newRedis, and
// unavailable: skipped with a message locally, fatal under CI). Each case
// gets a store, a fake Qonto and a Connector of its own, so cases run in
// parallel.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/encrypted"
	"github.com/oauthlink/oauthlink/store/memstore"
	"github.com/oauthlink/oauthlink/store/redisstore"
	"github.com/oauthlink/oauthlink/store/sqlstore"
)

// errStoreKinds are the stores TestErrorsClassify runs on. setup runs
// once per store (it may skip); the open it returns gives one case a store
// of its own and kill, after which every call of that store fails.
var errStoreKinds = []struct {
	name  string
	setup func(t *testing.T) func(t *testing.T, now func() time.Time) (store.TokenStore, func())
}{
	{"memstore", func(*testing.T) func(*testing.T, func() time.Time) (store.TokenStore, func()) {
		return func(*testing.T, func() time.Time) (store.TokenStore, func()) {
			s := &downStore{Store: memstore.New()}
			return s, func() { s.down.Store(true) }
		}
	}},
	{"sqlite", func(*testing.T) func(*testing.T, func() time.Time) (store.TokenStore, func()) {
		return func(t *testing.T, now func() time.Time) (store.TokenStore, func()) {
			path := filepath.Join(t.TempDir(), "oauthlink.db")
			db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
			require.NoError(t, err)
			t.Cleanup(func() { db.Close() })
			s, err := sqlstore.New(testContext(t), db, sqlstore.Options{Now: now})
			require.NoError(t, err)
			return s, func() { db.Close() }
		}
	}},
	{"postgres", func(t *testing.T) func(*testing.T, func() time.Time) (store.TokenStore, func()) {
		be := newPostgres(t)
		return func(t *testing.T, now func() time.Time) (store.TokenStore, func()) {
			px := newCutProxy(t, be.addr)
			return be.open(t, "oauthlink-itest-errors", px.Addr(), now), px.Close
		}
	}},
	{"redis", func(t *testing.T) func(*testing.T, func() time.Time) (store.TokenStore, func()) {
		be := newRedis(t)
		base, err := redisOptions()
		require.NoError(t, err)
		return func(t *testing.T, _ func() time.Time) (store.TokenStore, func()) {
			opts := *base
			opts.ContextTimeoutEnabled = true
			c := redis.NewClient(&opts)
			t.Cleanup(func() { c.Close() })
			// A prefix of the case's own, under the backend's (removed at
			// cleanup). The test Redis has no persistence, on purpose.
			s, err := redisstore.New(c, redisstore.Options{Prefix: be.spec.Prefix + strings.ToLower(rand.Text()[:8]) + ":", AllowVolatile: true})
			require.NoError(t, err)
			return s, func() { c.Close() }
		}
	}},
}

// errCase is one public method in one situation. run returns the error
// the method returned (or handed to Config.OnError); it must match every
// sentinel in is and every type in as.
type errCase struct {
	method, name string
	run          func(h *errHarness) error
	is           []error
	as           []errType
	// says is a cause the error must name, for one the package keeps
	// unexported.
	says string
}

// errType is an error type a case expects in the chain (errors.As).
type errType struct {
	name  string
	match func(error) bool
}

func asType[T error]() errType {
	var zero T
	return errType{fmt.Sprintf("%T", zero), func(err error) bool {
		var target T
		return errors.As(err, &target)
	}}
}

var (
	asTokenError    = asType[*oauthlink.ProviderError]()
	asProviderError = asType[*oauthlink.ProviderError]()
	asURLError      = asType[*url.Error]()
)

// Faults the cases script at the fake.
var (
	invalidGrant   = oauthlinktest.Fault{Status: http.StatusBadRequest, Body: `{"error":"invalid_grant"}`, ContentType: "application/json"}
	invalidRequest = oauthlinktest.Fault{Status: http.StatusBadRequest, Body: `{"error":"invalid_request"}`, ContentType: "application/json"}
	unavailable503 = oauthlinktest.Fault{Status: http.StatusServiceUnavailable}
	notJSON        = oauthlinktest.Fault{Status: http.StatusOK, Body: "<html>login</html>", ContentType: "text/html"}
	dropped        = oauthlinktest.Fault{Drop: true}
)

// repeat returns n copies of f: one per attempt of a retried call.
func repeat(f oauthlinktest.Fault, n int) []oauthlinktest.Fault {
	out := make([]oauthlinktest.Fault, n)
	for i := range out {
		out[i] = f
	}
	return out
}

var errCases = []errCase{
	// Connector.Fresh
	{method: "Fresh", name: "store down", is: []error{oauthlink.ErrStore}, run: func(h *errHarness) error {
		h.connect(h.link)
		h.kill()
		_, err := h.link.Connection(h.ctx(), h.owner)
		return err
	}},
	{method: "Fresh", name: "store down, token due", is: []error{oauthlink.ErrStore}, run: func(h *errHarness) error {
		h.connect(h.link)
		h.clk.Advance(2 * time.Hour)
		h.kill()
		_, err := h.link.Connection(h.ctx(), h.owner)
		return err
	}},
	{method: "Fresh", name: "store dies during the refresh", is: []error{oauthlink.ErrStore}, run: func(h *errHarness) error {
		h.connect(h.link)
		h.clk.Advance(2 * time.Hour)
		h.killAfter("/oauth2/token")
		_, err := h.link.Connection(h.ctx(), h.owner)
		return err
	}},
	{method: "Fresh", name: "not connected", is: []error{store.ErrNotFound}, run: func(h *errHarness) error {
		_, err := h.link.Connection(h.ctx(), h.owner)
		return err
	}},
	{method: "Fresh", name: "invalid owner", is: []error{oauthlink.ErrInvalidOwner}, run: func(h *errHarness) error {
		_, err := h.link.Connection(h.ctx(), "a\x00b")
		return err
	}},
	{method: "Fresh", name: "cancelled", is: []error{context.Canceled}, run: func(h *errHarness) error {
		h.connect(h.link)
		ctx, cancel := context.WithCancel(h.ctx())
		cancel()
		_, err := h.link.Connection(ctx, h.owner)
		return err
	}},
	{method: "Fresh", name: "reauth required", is: []error{oauthlink.ErrReauthRequired}, run: func(h *errHarness) error {
		h.connect(h.link)
		h.edit(func(c *oauthlink.Connection) { c.Status = store.StatusReauthRequired })
		_, err := h.link.Connection(h.ctx(), h.owner)
		return err
	}},
	{method: "Fresh", name: "disconnected", is: []error{oauthlink.ErrDisconnected}, run: func(h *errHarness) error {
		h.connect(h.link)
		h.edit(func(c *oauthlink.Connection) { c.Status = store.StatusDisconnected })
		_, err := h.link.Connection(h.ctx(), h.owner)
		return err
	}},
	{method: "Fresh", name: "refresh refused", is: []error{oauthlink.ErrReauthRequired}, as: []errType{asTokenError}, run: func(h *errHarness) error {
		h.connect(h.link)
		h.clk.Advance(2 * time.Hour)
		h.qonto.Fault(oauthlinktest.EndpointToken, invalidGrant)
		_, err := h.link.Connection(h.ctx(), h.owner)
		return err
	}},
	{method: "Fresh", name: "provider keeps answering 503", is: []error{oauthlink.ErrRefresh}, as: []errType{asTokenError}, run: func(h *errHarness) error {
		h.connect(h.link)
		h.clk.Advance(2 * time.Hour)
		h.qonto.Fault(oauthlinktest.EndpointToken, repeat(unavailable503, 4)...)
		_, err := h.link.Connection(h.ctx(), h.owner)
		return err
	}},
	{method: "Fresh", name: "provider never answers", is: []error{oauthlink.ErrRefresh}, run: func(h *errHarness) error {
		h.connect(h.link)
		h.clk.Advance(2 * time.Hour)
		h.qonto.Fault(oauthlinktest.EndpointToken, repeat(dropped, 4)...)
		_, err := h.link.Connection(h.ctx(), h.owner)
		return err
	}},
	{method: "Fresh", name: "malformed token answer", is: []error{oauthlink.ErrRefresh}, says: "malformed token response", run: func(h *errHarness) error {
		h.connect(h.link)
		h.clk.Advance(2 * time.Hour)
		h.qonto.Fault(oauthlinktest.EndpointToken, notJSON)
		_, err := h.link.Connection(h.ctx(), h.owner)
		return err
	}},
	{method: "Fresh", name: "sealed with another key", is: []error{oauthlink.ErrStore, encrypted.ErrDecrypt}, run: func(h *errHarness) error {
		h.connect(h.newLink(func(c *oauthlink.Config) { c.Store = h.sealed(tokenKey("k1")) }))
		other := h.newLink(func(c *oauthlink.Config) { c.Store = h.sealed(tokenKey("k2")) })
		_, err := other.Connection(h.ctx(), h.owner)
		return err
	}},

	// Connector.Refresh
	{method: "Refresh", name: "store down", is: []error{oauthlink.ErrStore}, run: func(h *errHarness) error {
		h.connect(h.link)
		h.kill()
		_, err := h.link.ForceRefresh(h.ctx(), h.owner)
		return err
	}},
	{method: "Refresh", name: "store dies during the refresh", is: []error{oauthlink.ErrStore}, run: func(h *errHarness) error {
		h.connect(h.link)
		h.killAfter("/oauth2/token")
		_, err := h.link.ForceRefresh(h.ctx(), h.owner)
		return err
	}},
	{method: "Refresh", name: "not connected", is: []error{store.ErrNotFound}, run: func(h *errHarness) error {
		_, err := h.link.ForceRefresh(h.ctx(), h.owner)
		return err
	}},
	{method: "Refresh", name: "invalid owner", is: []error{oauthlink.ErrInvalidOwner}, run: func(h *errHarness) error {
		_, err := h.link.ForceRefresh(h.ctx(), "")
		return err
	}},
	{method: "Refresh", name: "no refresh token", is: []error{oauthlink.ErrRefresh}, says: "connection has no refresh token", run: func(h *errHarness) error {
		h.connect(h.link)
		h.edit(func(c *oauthlink.Connection) { c.RefreshToken = "" })
		_, err := h.link.ForceRefresh(h.ctx(), h.owner)
		return err
	}},
	{method: "Refresh", name: "refresh refused", is: []error{oauthlink.ErrReauthRequired}, as: []errType{asTokenError}, run: func(h *errHarness) error {
		h.connect(h.link)
		h.qonto.Fault(oauthlinktest.EndpointToken, invalidGrant)
		_, err := h.link.ForceRefresh(h.ctx(), h.owner)
		return err
	}},
	{method: "Refresh", name: "provider refuses the request", is: []error{oauthlink.ErrRefresh}, as: []errType{asTokenError}, run: func(h *errHarness) error {
		h.connect(h.link)
		h.qonto.Fault(oauthlinktest.EndpointToken, invalidRequest)
		_, err := h.link.ForceRefresh(h.ctx(), h.owner)
		return err
	}},
	{method: "Refresh", name: "provider never answers", is: []error{oauthlink.ErrRefresh}, run: func(h *errHarness) error {
		h.connect(h.link)
		h.qonto.Fault(oauthlinktest.EndpointToken, repeat(dropped, 4)...)
		_, err := h.link.ForceRefresh(h.ctx(), h.owner)
		return err
	}},

	// Connector.Disconnect
	{method: "Disconnect", name: "store down", is: []error{oauthlink.ErrStore}, run: func(h *errHarness) error {
		h.connect(h.link)
		h.kill()
		return h.link.Disconnect(h.ctx(), h.owner)
	}},
	{method: "Disconnect", name: "store dies during the revocation", is: []error{oauthlink.ErrStore}, run: func(h *errHarness) error {
		h.connect(h.link)
		h.killAfter("/oauth2/revoke")
		return h.link.Disconnect(h.ctx(), h.owner)
	}},
	{method: "Disconnect", name: "invalid owner", is: []error{oauthlink.ErrInvalidOwner}, run: func(h *errHarness) error {
		return h.link.Disconnect(h.ctx(), strings.Repeat("o", 1025) /* over the 1024-byte owner limit */)
	}},
	{method: "Disconnect", name: "cancelled", is: []error{context.Canceled}, run: func(h *errHarness) error {
		h.connect(h.link)
		ctx, cancel := context.WithCancel(h.ctx())
		cancel()
		return h.link.Disconnect(ctx, h.owner)
	}},
	{method: "Disconnect", name: "revocation refused", is: []error{oauthlink.ErrRevoke}, as: []errType{asTokenError}, run: func(h *errHarness) error {
		h.connect(h.link)
		h.qonto.Fault(oauthlinktest.EndpointRevoke, invalidRequest)
		return h.link.Disconnect(h.ctx(), h.owner)
	}},
	{method: "Disconnect", name: "revocation endpoint keeps answering 503", is: []error{oauthlink.ErrRevoke}, as: []errType{asTokenError}, run: func(h *errHarness) error {
		h.connect(h.link)
		h.qonto.Fault(oauthlinktest.EndpointRevoke, repeat(unavailable503, 4)...)
		return h.link.Disconnect(h.ctx(), h.owner)
	}},
	{method: "Disconnect", name: "revocation endpoint never answers", is: []error{oauthlink.ErrRevoke}, run: func(h *errHarness) error {
		h.connect(h.link)
		h.qonto.Fault(oauthlinktest.EndpointRevoke, repeat(dropped, 4)...)
		return h.link.Disconnect(h.ctx(), h.owner)
	}},

	// Connector.Begin
	{method: "Begin", name: "no owner", is: []error{oauthlink.ErrNoOwner}, run: func(h *errHarness) error {
		_, err := h.link.Begin(httptest.NewRecorder(), h.request(http.MethodGet, "/connect/qonto", ""), oauthlink.BeginOptions{})
		return err
	}},
	{method: "Begin", name: "invalid owner", is: []error{oauthlink.ErrInvalidOwner}, run: func(h *errHarness) error {
		_, err := h.link.Begin(httptest.NewRecorder(), h.request(http.MethodGet, "/connect/qonto", "\xff"), oauthlink.BeginOptions{})
		return err
	}},
	{method: "Begin", name: "absolute return-to", is: []error{oauthlink.ErrBadRequest}, run: func(h *errHarness) error {
		_, err := h.link.Begin(httptest.NewRecorder(), h.request(http.MethodGet, "/connect/qonto", h.owner), oauthlink.BeginOptions{ReturnTo: "https://evil.example/"})
		return err
	}},
	{method: "Begin", name: "parameter not allowed", is: []error{oauthlink.ErrBadRequest}, run: func(h *errHarness) error {
		_, err := h.link.Begin(httptest.NewRecorder(), h.request(http.MethodGet, "/connect/qonto", h.owner), oauthlink.BeginOptions{Params: url.Values{"prompt": {"none"}}})
		return err
	}},

	// The http.Client of Connector.Client: errors arrive in *url.Error.
	{method: "Client", name: "store down", is: []error{oauthlink.ErrStore}, as: []errType{asURLError}, run: func(h *errHarness) error {
		h.connect(h.link)
		h.kill()
		return h.apiCall(h.qonto.APIURL() + "/v2/organization")
	}},
	{method: "Client", name: "not connected", is: []error{store.ErrNotFound}, as: []errType{asURLError}, run: func(h *errHarness) error {
		return h.apiCall(h.qonto.APIURL() + "/v2/organization")
	}},
	{method: "Client", name: "another host", is: []error{oauthlink.ErrBadRequest}, as: []errType{asURLError}, run: func(h *errHarness) error {
		h.connect(h.link)
		return h.apiCall("https://elsewhere.example/v2/organization")
	}},
	{method: "Client", name: "401, then the refresh is refused", is: []error{oauthlink.ErrReauthRequired}, as: []errType{asURLError, asTokenError}, run: func(h *errHarness) error {
		h.connect(h.link)
		h.qonto.Fault(oauthlinktest.EndpointAPI, oauthlinktest.Fault{Status: http.StatusUnauthorized})
		h.qonto.Fault(oauthlinktest.EndpointToken, invalidGrant)
		return h.apiCall(h.qonto.APIURL() + "/v2/organization")
	}},

	// ConnectionFromContext
	{method: "FromContext", name: "ConnectionFromContext, no Load middleware", is: []error{oauthlink.ErrConfig}, run: func(h *errHarness) error {
		_, err := oauthlink.ConnectionFromContext(h.ctx(), "qonto")
		return err
	}},
	{method: "FromContext", name: "ConnectionFromContext, store down", is: []error{oauthlink.ErrStore}, run: func(h *errHarness) error {
		h.connect(h.link)
		h.kill()
		return h.throughLoad(h.owner, func(ctx context.Context) error {
			_, err := oauthlink.ConnectionFromContext(ctx, "qonto")
			return err
		})
	}},

	// New, and package encrypted's store (its constructor's errors wrap no
	// root sentinel: the package does not depend on the root)
	{method: "New", name: "no client secret", is: []error{oauthlink.ErrConfig}, run: func(h *errHarness) error {
		_, err := oauthlink.New(h.config(func(c *oauthlink.Config) { c.ClientSecret = "" }))
		return err
	}},
	{method: "New", name: "short cookie secret", is: []error{oauthlink.ErrConfig}, run: func(h *errHarness) error {
		_, err := oauthlink.New(h.config(func(c *oauthlink.Config) { c.CookieSecrets = [][]byte{[]byte("short")} }))
		return err
	}},
	{method: "encrypted.New", name: "bad token key", run: func(h *errHarness) error {
		_, err := encrypted.New(h.store, encrypted.Options{Keys: []encrypted.Key{{ID: "k1", Key: []byte("short")}}})
		return err
	}},
	{method: "New", name: "bad provider", is: []error{oauthlink.ErrConfig}, run: func(h *errHarness) error {
		_, err := oauthlink.New(h.config(func(c *oauthlink.Config) { c.Provider.TokenURL = "ftp://x" }))
		return err
	}},
	{method: "encrypted.New", name: "no keys", run: func(h *errHarness) error {
		_, err := encrypted.New(h.store, encrypted.Options{})
		return err
	}},
	{method: "encrypted.Store", name: "Load, sealed with another key", is: []error{encrypted.ErrDecrypt}, run: func(h *errHarness) error {
		h.connect(h.newLink(func(c *oauthlink.Config) { c.Store = h.sealed(tokenKey("k1")) }))
		_, err := h.sealed(tokenKey("k2")).Load(h.ctx(), "qonto", h.owner)
		return err
	}},
	{method: "encrypted.Store", name: "List, tampered", is: []error{encrypted.ErrDecrypt}, run: func(h *errHarness) error {
		k1 := tokenKey("k1")
		h.connect(h.newLink(func(c *oauthlink.Config) { c.Store = h.sealed(k1) }))
		// The same key id with other bytes: the ciphertexts fail
		// authentication.
		k1.Key = []byte(strings.Repeat("z", 32))
		_, err := h.sealed(k1).List(h.ctx(), h.owner)
		return err
	}},

	// StartHandler (errors handed to Config.OnError)
	{method: "StartHandler", name: "no owner", is: []error{oauthlink.ErrNoOwner}, run: func(h *errHarness) error {
		return h.serve(h.link.StartHandler(), h.request(http.MethodGet, "/connect/qonto", ""))
	}},
	{method: "StartHandler", name: "method", is: []error{oauthlink.ErrBadRequest}, run: func(h *errHarness) error {
		return h.serve(h.link.StartHandler(), h.request(http.MethodPut, "/connect/qonto", h.owner))
	}},
	{method: "StartHandler", name: "absolute return-to", is: []error{oauthlink.ErrBadRequest}, run: func(h *errHarness) error {
		return h.serve(h.link.StartHandler(), h.request(http.MethodGet, "/connect/qonto?return_to=https%3A%2F%2Fevil.example", h.owner))
	}},

	// CallbackHandler (errors handed to Config.OnError)
	{method: "CallbackHandler", name: "store down before the exchange", is: []error{oauthlink.ErrStoreUnavailable}, run: func(h *errHarness) error {
		cb, cookie := h.authorize(h.link, h.owner)
		h.kill()
		return h.callback(h.link, cb, cookie, h.owner)
	}},
	{method: "CallbackHandler", name: "store dies during the exchange", is: []error{oauthlink.ErrStore}, run: func(h *errHarness) error {
		cb, cookie := h.authorize(h.link, h.owner)
		h.killAfter("/oauth2/token")
		return h.callback(h.link, cb, cookie, h.owner)
	}},
	{method: "CallbackHandler", name: "no state", is: []error{oauthlink.ErrInvalidState}, run: func(h *errHarness) error {
		return h.serve(h.link.CallbackHandler(), h.request(http.MethodGet, "/connect/qonto/callback?code=x", h.owner))
	}},
	{method: "CallbackHandler", name: "repeated parameter", is: []error{oauthlink.ErrBadRequest}, run: func(h *errHarness) error {
		cb, cookie := h.authorize(h.link, h.owner)
		cb.RawQuery += "&code=again"
		return h.callback(h.link, cb, cookie, h.owner)
	}},
	{method: "CallbackHandler", name: "replayed", is: []error{oauthlink.ErrStateReplayed}, run: func(h *errHarness) error {
		cb, cookie := h.authorize(h.link, h.owner)
		require.NoError(h.t, h.callback(h.link, cb, cookie, h.owner))
		return h.callback(h.link, cb, cookie, h.owner)
	}},
	{method: "CallbackHandler", name: "expired", is: []error{oauthlink.ErrStateExpired}, run: func(h *errHarness) error {
		cb, cookie := h.authorize(h.link, h.owner)
		h.clk.Advance(11 * time.Minute)
		return h.callback(h.link, cb, cookie, h.owner)
	}},
	{method: "CallbackHandler", name: "another owner", is: []error{oauthlink.ErrOwnerMismatch}, run: func(h *errHarness) error {
		cb, cookie := h.authorize(h.link, h.owner)
		return h.callback(h.link, cb, cookie, "mallory")
	}},
	{method: "CallbackHandler", name: "no owner", is: []error{oauthlink.ErrNoOwner}, run: func(h *errHarness) error {
		cb, cookie := h.authorize(h.link, h.owner)
		return h.callback(h.link, cb, cookie, "")
	}},
	{method: "CallbackHandler", name: "user declined", as: []errType{asProviderError}, run: func(h *errHarness) error {
		h.qonto.DenyNext("access_denied", "The resource owner denied the request.")
		cb, cookie := h.authorize(h.link, h.owner)
		return h.callback(h.link, cb, cookie, h.owner)
	}},
	{method: "CallbackHandler", name: "exchange refused", is: []error{oauthlink.ErrExchange}, as: []errType{asTokenError}, run: func(h *errHarness) error {
		cb, cookie := h.authorize(h.link, h.owner)
		h.qonto.Fault(oauthlinktest.EndpointToken, invalidGrant)
		return h.callback(h.link, cb, cookie, h.owner)
	}},
	{method: "CallbackHandler", name: "exchange never answered", is: []error{oauthlink.ErrExchange}, run: func(h *errHarness) error {
		cb, cookie := h.authorize(h.link, h.owner)
		h.qonto.Fault(oauthlinktest.EndpointToken, dropped)
		return h.callback(h.link, cb, cookie, h.owner)
	}},

	// DisconnectHandler (errors handed to Config.OnError)
	{method: "DisconnectHandler", name: "GET", is: []error{oauthlink.ErrBadRequest}, run: func(h *errHarness) error {
		return h.serve(h.link.DisconnectHandler(), h.request(http.MethodGet, "/connect/qonto/disconnect", h.owner))
	}},
	{method: "DisconnectHandler", name: "no owner", is: []error{oauthlink.ErrNoOwner}, run: func(h *errHarness) error {
		return h.serve(h.link.DisconnectHandler(), h.request(http.MethodPost, "/connect/qonto/disconnect", ""))
	}},
	{method: "DisconnectHandler", name: "store down", is: []error{oauthlink.ErrStore}, run: func(h *errHarness) error {
		h.connect(h.link)
		h.kill()
		return h.serve(h.link.DisconnectHandler(), h.request(http.MethodPost, "/connect/qonto/disconnect", h.owner))
	}},
	{method: "DisconnectHandler", name: "revocation refused", is: []error{oauthlink.ErrRevoke}, as: []errType{asTokenError}, run: func(h *errHarness) error {
		h.connect(h.link)
		h.qonto.Fault(oauthlinktest.EndpointRevoke, invalidRequest)
		return h.serve(h.link.DisconnectHandler(), h.request(http.MethodPost, "/connect/qonto/disconnect", h.owner))
	}},
}

// TestErrorsClassify runs errCases on every store: the error must match
// the case's sentinels and types, and carry none of the secrets the case
// saw (tokens, codes, states, the client secret).
func TestErrorsClassify(t *testing.T) {
	for _, kind := range errStoreKinds {
		t.Run(kind.name, func(t *testing.T) {
			open := kind.setup(t)
			for i, tc := range errCases {
				t.Run(tc.method+"/"+tc.name, func(t *testing.T) {
					t.Parallel()
					h := newErrHarness(t, open, fmt.Sprintf("shop-%d", i))
					err := tc.run(h)
					require.Error(t, err)
					t.Logf("error: %v", err)
					for _, want := range tc.is {
						assert.ErrorIs(t, err, want)
					}
					for _, want := range tc.as {
						assert.True(t, want.match(err), "%v is not a %s", err, want.name)
					}
					if tc.says != "" {
						assert.Contains(t, err.Error(), tc.says)
					}
					for _, s := range h.secrets() {
						assert.NotContains(t, err.Error(), s, "a secret in the error")
					}
				})
			}
		})
	}
}

// errHarness is one case's app: a store of its own, a fake Qonto and a
// Connector, with the secrets the case saw.
type errHarness struct {
	t     *testing.T
	clk   *clock
	qonto *oauthlinktest.Qonto
	store store.TokenStore
	kill  func()
	owner string
	link  *oauthlink.Connector
	seen  *tokenLog
	logs  *syncBuffer
	// after runs once after the fake answered a request on that path
	// (see killAfter).
	after sync.Map // path → func()

	mu      sync.Mutex
	lastErr error
	others  []string // codes and states
}

func newErrHarness(t *testing.T, open func(*testing.T, func() time.Time) (store.TokenStore, func()), owner string) *errHarness {
	h := &errHarness{t: t, clk: newClock(), owner: owner, seen: &tokenLog{}, logs: &syncBuffer{}}
	h.qonto = oauthlinktest.NewQonto(oauthlinktest.QontoOptions{TLS: true, Now: h.clk.Now})
	t.Cleanup(h.qonto.Close)
	h.store, h.kill = open(t, h.clk.Now)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("library logs:\n%s", h.logs.String())
		}
	})
	h.link = h.newLink(nil)
	return h
}

// config is the case's Config, adjusted by f.
func (h *errHarness) config(f func(*oauthlink.Config)) oauthlink.Config {
	client := *h.qonto.Client()
	rec := &recordingTransport{base: client.Transport, log: h.seen}
	client.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := rec.RoundTrip(r)
		if f, ok := h.after.LoadAndDelete(r.URL.Path); ok {
			f.(func())()
		}
		return resp, err
	})
	cfg := oauthlink.Config{
		Provider:     h.qonto.Provider(),
		ClientID:     h.qonto.ClientID(),
		ClientSecret: h.qonto.ClientSecret(),
		RedirectURL:  "https://app.example/connect/qonto/callback",
		Store:        h.store,
		Owner: func(r *http.Request) (string, error) {
			if o := r.Header.Get("X-Owner"); o != "" {
				return o, nil
			}
			return "", errors.New("not logged in")
		},
		CookieSecrets: [][]byte{[]byte(strings.Repeat("c", 32))},
		HTTPClient:    &client,
		Logger:        slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:           h.clk.Now,
		Tokens:        oauthlink.TokenOptions{ExchangeTimeout: 2 * time.Second, LockTTL: time.Second, RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond},
		Hooks: oauthlink.Hooks{
			OnError: func(w http.ResponseWriter, r *http.Request, err error) {
				h.mu.Lock()
				h.lastErr = err
				h.mu.Unlock()
				oauthlink.DefaultErrorHandler(w, r, err)
			},
		},
	}
	if f != nil {
		f(&cfg)
	}
	return cfg
}

// newLink is a Connector on the case's store and fake, its Config
// adjusted by f.
func (h *errHarness) newLink(f func(*oauthlink.Config)) *oauthlink.Connector {
	link, err := oauthlink.New(h.config(f))
	require.NoError(h.t, err)
	return link
}

func (h *errHarness) ctx() context.Context { return testContext(h.t) }

// killAfter kills the store once the fake has answered the next request
// on path: the provider has acted (a code spent, a token rotated or
// revoked), and the store is gone before the library can record it.
func (h *errHarness) killAfter(path string) { h.after.Store(path, h.kill) }

// secrets are the values no error may contain.
func (h *errHarness) secrets() []string {
	out := []string{h.qonto.ClientSecret()}
	for _, p := range h.seen.all() {
		out = append(out, p.Access)
		if p.Refresh != "" {
			out = append(out, p.Refresh)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return append(out, h.others...)
}

func (h *errHarness) secret(s string) {
	if s == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.others = append(h.others, s)
}

// request is a request to the app as owner ("" for nobody logged in).
func (h *errHarness) request(method, target, owner string) *http.Request {
	r := httptest.NewRequestWithContext(h.ctx(), method, "https://app.example"+target, nil)
	if owner != "" {
		r.Header.Set("X-Owner", owner)
	}
	return r
}

// serve runs handler on r and returns the error it handed to OnError, or
// nil.
func (h *errHarness) serve(handler http.Handler, r *http.Request) error {
	h.mu.Lock()
	h.lastErr = nil
	h.mu.Unlock()
	handler.ServeHTTP(httptest.NewRecorder(), r)
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastErr
}

// authorize starts a flow for owner on link and plays the user at the
// fake: it returns the callback URL and the browser's Cookie header.
func (h *errHarness) authorize(link *oauthlink.Connector, owner string) (*url.URL, string) {
	h.t.Helper()
	rec := httptest.NewRecorder()
	flow, err := link.Begin(rec, h.request(http.MethodGet, "/connect/qonto", owner), oauthlink.BeginOptions{})
	require.NoError(h.t, err)
	h.secret(flow.State.Reveal())
	var cookies []string
	for _, c := range rec.Result().Cookies() {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	cb, err := h.qonto.Authorize(h.ctx(), flow.AuthURL.Reveal())
	require.NoError(h.t, err)
	h.secret(cb.Query().Get("code"))
	return cb, strings.Join(cookies, "; ")
}

// callback delivers cb to link's callback handler as owner.
func (h *errHarness) callback(link *oauthlink.Connector, cb *url.URL, cookie, owner string) error {
	r := h.request(http.MethodGet, cb.RequestURI(), owner)
	r.Header.Set("Cookie", cookie)
	return h.serve(link.CallbackHandler(), r)
}

// connect runs a whole flow for the case's owner on link.
func (h *errHarness) connect(link *oauthlink.Connector) {
	h.t.Helper()
	cb, cookie := h.authorize(link, h.owner)
	require.NoError(h.t, h.callback(link, cb, cookie, h.owner))
}

// edit changes the stored connection.
func (h *errHarness) edit(f func(*oauthlink.Connection)) {
	h.t.Helper()
	c, err := h.store.Load(h.ctx(), "qonto", h.owner)
	require.NoError(h.t, err)
	f(c)
	require.NoError(h.t, h.store.Save(h.ctx(), c))
}

// apiCall calls the provider's API through Connector.Client.
func (h *errHarness) apiCall(target string) error {
	req, err := http.NewRequestWithContext(h.ctx(), http.MethodGet, target, nil)
	require.NoError(h.t, err)
	resp, err := h.link.Client(h.owner).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	h.t.Fatalf("the API call succeeded with %d", resp.StatusCode)
	return nil
}

// throughLoad runs f inside the Load middleware for owner and returns its
// error.
func (h *errHarness) throughLoad(owner string, f func(context.Context) error) error {
	var err error
	h.link.LoadConnection(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		err = f(r.Context())
	})).ServeHTTP(httptest.NewRecorder(), h.request(http.MethodGet, "/orders", owner))
	return err
}

func tokenKey(id string) encrypted.Key {
	return encrypted.Key{ID: id, Key: []byte(strings.Repeat(id[len(id)-1:], 32))}
}

// downStore is a memstore whose every call fails once down is set, as a
// store whose server went away: memstore itself cannot fail. It has the
// capabilities memstore has.
type downStore struct {
	*memstore.Store
	down atomic.Bool
}

var errStoreGone = errors.New("downstore: connection refused")

func (s *downStore) err() error {
	if s.down.Load() {
		return errStoreGone
	}
	return nil
}

func (s *downStore) Load(ctx context.Context, p, o string) (*oauthlink.Connection, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Store.Load(ctx, p, o)
}

func (s *downStore) List(ctx context.Context, o string) ([]*oauthlink.Connection, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Store.List(ctx, o)
}

func (s *downStore) Save(ctx context.Context, c *oauthlink.Connection) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.Save(ctx, c)
}

func (s *downStore) Delete(ctx context.Context, p, o string) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.Delete(ctx, p, o)
}

func (s *downStore) DeleteVersion(ctx context.Context, p, o string, v int64) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.DeleteVersion(ctx, p, o, v)
}

func (s *downStore) Lock(ctx context.Context, p, o string, ttl time.Duration) (store.Lease, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Store.Lock(ctx, p, o, ttl)
}

func (s *downStore) Consume(ctx context.Context, key string, expires time.Time) (bool, error) {
	if err := s.err(); err != nil {
		return false, err
	}
	return s.Store.Consume(ctx, key, expires)
}

func (s *downStore) Ping(ctx context.Context) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.Ping(ctx)
}

// cutProxy forwards TCP connections to a server until Close, which cuts
// every connection and closes the listener: from then on the client's
// pooled connections are broken and new ones are refused, as when the
// server goes away.
type cutProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.serve)
	t.Cleanup(p.Close)
	return p
}

func (p *cutProxy) Addr() string { return p.ln.Addr().String() }

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			c.Close()
			continue
		}
		p.wg.Go(func() {
			defer c.Close()
			up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
			if err != nil || !p.track(up) {
				return
			}
			defer up.Close()
			done := make(chan struct{})
			go func() {
				io.Copy(up, c)
				up.Close()
				close(done)
			}()
			io.Copy(c, up)
			c.Close()
			<-done
		})
	}
}

// track registers c to be cut by Close; false once closed.
func (p *cutProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

// Close cuts every connection, refuses new ones and waits for the
// proxy's goroutines. Safe to call more than once.
func (p *cutProxy) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		p.ln.Close()
		for c := range p.conns {
			c.Close()
		}
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// sealed is the case's store behind the encrypting wrapper with keys.
func (h *errHarness) sealed(keys ...encrypted.Key) store.TokenStore {
	h.t.Helper()
	s, err := encrypted.New(h.store, encrypted.Options{Keys: keys})
	require.NoError(h.t, err)
	return s
}
