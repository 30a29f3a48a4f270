package oauthlink_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store"
)

func withMollie(o oauthlinktest.MollieOptions) envOption { return func(c *envConfig) { c.mollie = o } }

// I34: the browser goes away while the provider answers the code exchange
// (the fake cancels the callback's request after issuing the tokens, before
// answering). The grant the provider issued is saved all the same: never
// issued and then neither saved nor revoked.
func TestCallbackCancelledDuringExchange(t *testing.T) {
	for _, provider := range []string{"mollie", "qonto"} {
		t.Run(provider, func(t *testing.T) {
			var cancel atomic.Pointer[context.CancelFunc]
			hook := func(_ *http.Request, grant string) {
				if c := cancel.Load(); c != nil && grant == "authorization_code" {
					(*c)()
				}
			}
			e := newEnv(t, withMollie(oauthlinktest.MollieOptions{BeforeTokenResponse: hook}),
				withQonto(oauthlinktest.QontoOptions{BeforeTokenResponse: hook}))
			f := e.fakes[provider]
			b := e.browser("shop-1")
			cb := b.authorize(provider, "")

			ctx, c := context.WithCancel(context.Background())
			defer c()
			cancel.Store(&c)
			r := httptest.NewRequestWithContext(ctx, http.MethodGet, cb, nil)
			r.Header.Set("Cookie", b.cookieHeader())
			w := httptest.NewRecorder()
			e.mux.ServeHTTP(w, r)
			require.Error(t, ctx.Err(), "the request was cancelled during the exchange")

			assert.Equal(t, 1, f.Exchanges())
			conn, err := e.load(provider, "shop-1")
			require.NoError(t, err, "the issued grant is saved")
			assert.Equal(t, store.StatusActive, conn.Status)
			assert.True(t, f.AccessTokenValid(conn.AccessToken.Reveal()))
			assert.True(t, f.RefreshTokenValid(conn.RefreshToken.Reveal()))
			assert.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
			assert.Zero(t, f.Revocations())
		})
	}
}
