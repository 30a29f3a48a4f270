package oauthlink_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store"
)

// countingBody is a request body that counts what the handler reads.
type countingBody struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingBody) Close() error { return nil }

// zeros is an endless stream of 'a' bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

// assertStillConnected checks that nothing was revoked or forgotten.
func assertStillConnected(t *testing.T, e *env, provider, owner string, conn *oauthlink.Connection) {
	t.Helper()
	stored, err := e.load(provider, owner)
	require.NoError(t, err, "still connected")
	assert.Equal(t, store.StatusActive, stored.Status)
	assert.Equal(t, conn.Version, stored.Version)
	assert.Zero(t, e.fakes[provider].Revocations(), "nothing revoked")
}

// A disconnect request with a 100 MB body (a multipart form with a file, or
// an endless urlencoded form) is refused after at most the 64 KiB the start
// handler reads: nothing is spooled to disk, and nothing is disconnected.
func TestDisconnectHandlerBoundsBody(t *testing.T) {
	const size = 100 << 20
	for name, tc := range map[string]struct {
		contentType string
		body        func() io.Reader
	}{
		"multipart file": {"multipart/form-data; boundary=XYZ", func() io.Reader {
			head := "--XYZ\r\nContent-Disposition: form-data; name=\"return_to\"\r\n\r\n/settings\r\n" +
				"--XYZ\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"big.bin\"\r\n" +
				"Content-Type: application/octet-stream\r\n\r\n"
			return io.MultiReader(strings.NewReader(head), io.LimitReader(zeros{}, size), strings.NewReader("\r\n--XYZ--\r\n"))
		}},
		"urlencoded": {"application/x-www-form-urlencoded", func() io.Reader {
			return io.MultiReader(strings.NewReader("return_to=/settings&pad="), io.LimitReader(zeros{}, size))
		}},
	} {
		t.Run(name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp) // where a spooled multipart file would go
			e := newEnv(t)
			conn := e.connected("mollie", "shop-1")
			body := &countingBody{r: tc.body()}
			r := httptest.NewRequest(http.MethodPost, e.app.URL+"/connect/mollie/disconnect", nil)
			r.Body = body
			r.ContentLength = -1
			r.Header.Set("Content-Type", tc.contentType)
			r.Header.Set("Cookie", "user=shop-1")
			w := httptest.NewRecorder()
			e.mux.ServeHTTP(w, r)

			assert.Equal(t, http.StatusBadRequest, w.Code)
			assert.ErrorIs(t, e.lastErr(), oauthlink.ErrBadRequest)
			assert.Less(t, body.n.Load(), int64(128<<10), "read at most the 64 KiB cap (plus one buffer)")
			spooled, err := os.ReadDir(tmp)
			require.NoError(t, err)
			assert.Empty(t, spooled, "nothing written to disk")
			assertStillConnected(t, e, "mollie", "shop-1", conn)
		})
	}
}

// A small form, urlencoded or multipart, still carries return_to.
func TestDisconnectHandlerReadsSmallForms(t *testing.T) {
	for name, tc := range map[string]struct{ contentType, body string }{
		"urlencoded": {"application/x-www-form-urlencoded", "return_to=%2Fsettings"},
		"multipart":  {"multipart/form-data; boundary=XYZ", "--XYZ\r\nContent-Disposition: form-data; name=\"return_to\"\r\n\r\n/settings\r\n--XYZ--\r\n"},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.connected("qonto", "shop-1")
			h := postDisconnect(t, e, "qonto", tc.contentType, tc.body, nil)
			assert.Equal(t, http.StatusSeeOther, h.StatusCode)
			assert.Equal(t, "/settings", h.Header.Get("Location"))
			_, err := e.load("qonto", "shop-1")
			assert.ErrorIs(t, err, store.ErrNotFound)
		})
	}
}

// postDisconnect posts body to the disconnect route over the test server,
// signed in as shop-1, with extra headers.
func postDisconnect(t *testing.T, e *env, provider, contentType, body string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.app.URL+"/connect/"+provider+"/disconnect", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Cookie", "user=shop-1")
	for k, vs := range header {
		req.Header[k] = vs
	}
	c := &http.Client{Transport: e.app.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// A cross-site POST (a form on another site, submitted by the user's
// browser with the user's cookies) disconnects nothing; a same-origin one
// and a server-side client without browser headers do.
func TestDisconnectHandlerRefusesCrossSite(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header http.Header
		ok     bool
	}{
		{"Sec-Fetch-Site cross-site", http.Header{"Sec-Fetch-Site": {"cross-site"}}, false},
		{"Sec-Fetch-Site same-site", http.Header{"Sec-Fetch-Site": {"same-site"}}, false},
		{"foreign Origin", http.Header{"Origin": {"https://evil.example"}}, false},
		{"Sec-Fetch-Site same-origin", http.Header{"Sec-Fetch-Site": {"same-origin"}}, true},
		{"own Origin", nil, true}, // Origin set below, to the test server's
		{"no browser headers", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			conn := e.connected("mollie", "shop-1")
			header := tc.header
			if tc.name == "own Origin" {
				header = http.Header{"Origin": {e.app.URL}}
			}
			resp := postDisconnect(t, e, "mollie", "application/x-www-form-urlencoded", "return_to=%2Fdone", header)
			if tc.ok {
				assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
				assert.Equal(t, "/done", resp.Header.Get("Location"))
				_, err := e.load("mollie", "shop-1")
				assert.ErrorIs(t, err, store.ErrNotFound)
				return
			}
			assert.Equal(t, http.StatusForbidden, resp.StatusCode)
			assert.ErrorIs(t, e.lastErr(), oauthlink.ErrCrossOrigin)
			assert.Contains(t, readBody(t, resp), "sent from another site")
			assertStillConnected(t, e, "mollie", "shop-1", conn)
		})
	}
}

// Apps with CSRF protection of their own can pass their
// CrossOriginProtection (with its trusted origins) or turn the check off.
func TestDisconnectHandlerCrossOriginOptions(t *testing.T) {
	e := newEnv(t)
	cop := http.NewCrossOriginProtection()
	require.NoError(t, cop.AddTrustedOrigin("https://shop.example"))
	trusting := e.cfgs["qonto"]
	trusting.Flow.CrossOrigin = cop
	// An app whose own CSRF protection covers the route turns the check
	// off for it.
	bypass := http.NewCrossOriginProtection()
	bypass.AddInsecureBypassPattern("/unchecked/qonto/disconnect")
	unchecked := e.cfgs["qonto"]
	unchecked.Flow.CrossOrigin = bypass
	for path, cfg := range map[string]oauthlink.Config{"/trusting/qonto/disconnect": trusting, "/unchecked/qonto/disconnect": unchecked} {
		c, err := oauthlink.New(cfg)
		require.NoError(t, err)
		e.mux.Handle(path, c.DisconnectHandler())
	}
	post := func(path string, header http.Header) int {
		req := httptest.NewRequest(http.MethodPost, e.app.URL+path, strings.NewReader(""))
		req.Header.Set("Cookie", "user=shop-1")
		for k, vs := range header {
			req.Header[k] = vs
		}
		w := httptest.NewRecorder()
		e.mux.ServeHTTP(w, req)
		return w.Code
	}

	conn := e.connected("qonto", "shop-1")
	assert.Equal(t, http.StatusForbidden, post("/trusting/qonto/disconnect", http.Header{"Origin": {"https://evil.example"}}))
	assertStillConnected(t, e, "qonto", "shop-1", conn)
	assert.Equal(t, http.StatusSeeOther, post("/trusting/qonto/disconnect", http.Header{"Origin": {"https://shop.example"}}))
	_, err := e.load("qonto", "shop-1")
	assert.ErrorIs(t, err, store.ErrNotFound)

	e.connected("qonto", "shop-1")
	assert.Equal(t, http.StatusSeeOther, post("/unchecked/qonto/disconnect", http.Header{"Sec-Fetch-Site": {"cross-site"}}))
	_, err = e.load("qonto", "shop-1")
	assert.ErrorIs(t, err, store.ErrNotFound)
}
