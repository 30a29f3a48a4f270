package main

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oauthlink/oauthlink/internal/testutil"

	"github.com/stretchr/testify/require"
)

// demo is one demo instance served on a loopback httptest server.
type demo struct {
	*app
	URL  string
	logs *syncBuffer
}

// startDemo serves the demo with a memory store and the sandbox fakes,
// unless edit changes cfg. The server is closed before the app (fakes,
// store) when the test ends.
func startDemo(t *testing.T, edit func(*config)) *demo {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	cfg := config{Addr: ts.Listener.Addr().String(), PublicURL: base, Store: "memory"}
	if edit != nil {
		edit(&cfg)
	}
	logs := &syncBuffer{}
	a, err := newApp(testContext(t), cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	require.NoError(t, err)
	t.Cleanup(a.close)
	ts.Config.Handler = a.routes()
	ts.Start()
	t.Cleanup(ts.Close)
	return &demo{app: a, URL: base, logs: logs}
}

// testContext is bounded, so a hang fails the test instead of the run.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// syncBuffer collects concurrent log output for the test.
type syncBuffer = testutil.SyncBuffer

// browser is a cookie-jar client that records the redirects it follows.
type browser struct {
	t      *testing.T
	client *http.Client
	hops   []hop
}

// hop is one redirect answer: who answered what.
type hop struct {
	URL      string
	Status   int
	Location string
}

// page is a final answer, body read.
type page struct {
	URL    *url.URL
	Status int
	Header http.Header
	Body   string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	b := &browser{t: t}
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	b.client = &http.Client{
		Jar:       jar,
		Transport: transport,
		Timeout:   30 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			r := req.Response
			b.hops = append(b.hops, hop{URL: r.Request.URL.String(), Status: r.StatusCode, Location: r.Header.Get("Location")})
			if len(via) >= 10 {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	return b
}

// noFollow returns a client sharing the jar that stops at redirects.
func (b *browser) noFollow() *http.Client {
	c := *b.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

func (b *browser) do(c *http.Client, req *http.Request) *page {
	b.t.Helper()
	resp, err := c.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return &page{URL: resp.Request.URL, Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
}

// get follows redirects.
func (b *browser) get(u string) *page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(b.t, err)
	return b.do(b.client, req)
}

// getNoFollow stops at the first answer.
func (b *browser) getNoFollow(u string) *page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(b.t, err)
	return b.do(b.noFollow(), req)
}

// post sends a form as the demo's own page would (Sec-Fetch-Site:
// same-origin), following redirects unless follow is false.
func (b *browser) post(u string, form url.Values, follow bool, header ...string) *page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c := b.client
	if !follow {
		c = b.noFollow()
	}
	return b.do(c, req)
}

func (b *browser) login(d *demo, user string) {
	b.t.Helper()
	p := b.post(d.URL+"/login", url.Values{"user": {user}}, true)
	require.Equal(b.t, http.StatusOK, p.Status)
	require.Contains(b.t, p.Body, "Connections of "+user)
}

var (
	formAction = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
	hiddenPair = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
)

// approve clicks Approve on a fake's consent page: it posts the hidden
// fields of the page's first form with decision=approve to the form's action, as a browser
// would, and follows the redirects back to the demo.
func (b *browser) approve(consent *page) *page {
	b.t.Helper()
	require.Equal(b.t, http.StatusOK, consent.Status)
	require.Contains(b.t, consent.Body, "Authorize application", "not a consent page: %s", consent.URL)
	loc := formAction.FindStringSubmatchIndex(consent.Body)
	require.NotNil(b.t, loc)
	action, err := consent.URL.Parse(html.UnescapeString(consent.Body[loc[2]:loc[3]]))
	require.NoError(b.t, err)
	// Only the first form's fields, as a browser sends them: the page may
	// hold other forms (the sandbox Qonto's Revoke access buttons).
	first := consent.Body[loc[1]:]
	if end := strings.Index(first, "</form>"); end >= 0 {
		first = first[:end]
	}
	form := url.Values{"decision": {"approve"}}
	for _, f := range hiddenPair.FindAllStringSubmatch(first, -1) {
		form.Add(html.UnescapeString(f[1]), html.UnescapeString(f[2]))
	}
	req, err := http.NewRequest(http.MethodPost, action.String(), strings.NewReader(form.Encode()))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(b.client, req)
}

// connect runs a whole flow for provider and returns the final page.
func (b *browser) connect(d *demo, provider string) *page {
	b.t.Helper()
	consent := b.get(d.URL + "/connect/" + provider)
	return b.approve(consent)
}

// getJSON GETs u and decodes the JSON answer into out.
func (b *browser) getJSON(u string, out any) *page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(b.t, err)
	req.Header.Set("Accept", "application/json")
	p := b.do(b.client, req)
	require.Equal(b.t, "application/json", p.Header.Get("Content-Type"), "body: %s", p.Body)
	require.NoError(b.t, json.Unmarshal([]byte(p.Body), out), p.Body)
	return p
}
