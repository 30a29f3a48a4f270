package oauthlinkotel_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	oauthlinkotel "github.com/oauthlink/oauthlink/otel"
	"github.com/oauthlink/oauthlink/store/memstore"
)

const owner = "owner-7f3a9c"

// A whole connect, refresh, API call and disconnect against the fake
// Qonto, with the Telemetry wired as the docs say: every provider call is
// a span and a latency point, every event is counted, and nothing recorded
// holds a token, code, state, client secret or the owner.
func TestQontoConnectRefreshDisconnect(t *testing.T) {
	mux := http.NewServeMux()
	app := httptest.NewTLSServer(mux)
	defer app.Close()
	callback := app.URL + "/connect/qonto/callback"
	q := oauthlinktest.NewQonto(oauthlinktest.QontoOptions{TLS: true, RedirectURIs: []string{callback}})
	defer q.Close()

	s := newSink(t, q.Provider())
	var appEvents []oauthlink.EventKind
	st := memstore.New()
	c, err := oauthlink.New(oauthlink.Config{
		Provider:      q.Provider(),
		ClientID:      q.ClientID(),
		ClientSecret:  q.ClientSecret(),
		RedirectURL:   callback,
		Store:         st,
		Logger:        slog.New(slog.DiscardHandler),
		Owner:         func(*http.Request) (string, error) { return owner, nil },
		CookieSecrets: [][]byte{bytes.Repeat([]byte{0x42}, 32)},
		HTTPClient:    &http.Client{Transport: s.tel.Transport(q.Client().Transport)},
		Hooks: oauthlink.Hooks{OnEvent: oauthlinkotel.Chain(s.tel.OnEvent,
			func(_ context.Context, e oauthlink.Event) { appEvents = append(appEvents, e.Kind) })},
	})
	require.NoError(t, err)
	mux.Handle("/connect/qonto", c.StartHandler())
	mux.Handle("/connect/qonto/callback", c.CallbackHandler())

	cb := connect(t, app, q)
	secrets := []string{cb.Query().Get("code"), cb.Query().Get("state"), q.ClientSecret(), owner}
	ctx := context.Background()
	conn, err := st.Load(ctx, "qonto", owner)
	require.NoError(t, err)
	secrets = append(secrets, conn.AccessToken.Reveal(), conn.RefreshToken.Reveal())

	conn, err = c.ForceRefresh(ctx, owner)
	require.NoError(t, err)
	secrets = append(secrets, conn.AccessToken.Reveal(), conn.RefreshToken.Reveal())
	resp, err := c.Client(owner).Get(q.APIURL() + "/v2/organization")
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, c.Disconnect(ctx, owner))
	for _, v := range secrets {
		require.NotEmpty(t, v)
	}

	var names []string
	for _, sp := range s.spans.Ended() {
		names = append(names, sp.Name())
		require.Contains(t, sp.Attributes(), oauthlinkotel.AttrProvider.String("qonto"))
	}
	require.Equal(t, []string{"oauthlink.token", "oauthlink.token", "oauthlink.api", "oauthlink.revoke"}, names)

	qonto := oauthlinkotel.AttrProvider.String("qonto")
	ok2xx := oauthlinkotel.AttrStatusClass.String("2xx")
	require.Equal(t, map[attribute.Distinct]uint64{
		set(qonto, oauthlinkotel.AttrOperation.String("token"), ok2xx):  2,
		set(qonto, oauthlinkotel.AttrOperation.String("api"), ok2xx):    1,
		set(qonto, oauthlinkotel.AttrOperation.String("revoke"), ok2xx): 1,
	}, histogram(t, s))

	ok := oauthlinkotel.AttrOutcome.String("ok")
	events := s.counts()
	for _, kind := range []string{"flow_started", "connected", "refreshed", "disconnected"} {
		require.Equal(t, int64(1), events[set(oauthlinkotel.AttrEvent.String(kind), qonto, ok)], kind)
	}
	var total int64
	for _, n := range events {
		total += n
	}
	require.Equal(t, int64(4), total, "%v", appEvents)
	require.Equal(t, []oauthlink.EventKind{oauthlink.EventFlowStarted, oauthlink.EventConnected,
		oauthlink.EventRefreshed, oauthlink.EventDisconnected}, appEvents, "the app's own hook ran too")
	requireNoSecret(t, s, secrets...)
}

// connect plays the browser: start at the app, approve at the fake, come
// back to the callback. It returns the callback URL.
func connect(t *testing.T, app *httptest.Server, q *oauthlinktest.Qonto) *url.URL {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	browser := &http.Client{Jar: jar, Transport: app.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer browser.CloseIdleConnections()
	resp, err := browser.Get(app.URL + "/connect/qonto")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	cb, err := q.Authorize(context.Background(), resp.Header.Get("Location"))
	require.NoError(t, err)
	resp, err = browser.Get(cb.String())
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	return cb
}
