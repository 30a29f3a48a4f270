package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Behind a proxy that rewrites Host, an older browser's same-origin form
// (Origin is the public URL, no Sec-Fetch-Site) still disconnects: the
// connector's disconnect handler applies the demo's own cross-origin
// policy, which trusts OAUTHLINK_PUBLIC_URL. A foreign Origin is still
// refused.
func TestDisconnectBehindHostRewritingProxy(t *testing.T) {
	d := startDemo(t, nil)
	b := newBrowser(t)
	b.login(d, "hana")
	b.connect(d, "qonto")
	target := d.URL + "/connections/qonto/disconnect"
	u, err := url.Parse(target)
	require.NoError(t, err)
	var cookies []string
	for _, c := range b.client.Jar.Cookies(u) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	// The client would look the jar up under the rewritten Host: the
	// login cookie is sent by hand, as the browser sent it to the proxy.
	direct := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(origin string) *page {
		req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(url.Values{"return_to": {"/"}}.Encode()))
		require.NoError(t, err)
		req.Host = "demo.internal:8080" // as the proxy forwards it
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Cookie", strings.Join(cookies, "; "))
		req.Header.Set("Origin", origin)
		return b.do(direct, req)
	}

	p := post("https://evil.example")
	assert.Equal(t, http.StatusForbidden, p.Status)
	_, err = d.store0().Load(t.Context(), "qonto", "hana")
	require.NoError(t, err, "still connected")

	p = post(d.URL)
	assert.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	list, err := d.store0().List(t.Context(), "hana")
	require.NoError(t, err)
	assert.Empty(t, list, "disconnected")
}
