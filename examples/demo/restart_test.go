package main

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/store"
)

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// runDemoAt serves a demo with cfg on cfg.Addr and returns it with the
// function that stops it (the server, then the app); the test's end
// stops it too.
func runDemoAt(t *testing.T, cfg config) (*demo, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", cfg.Addr)
	require.NoError(t, err)
	logs := &syncBuffer{}
	a, err := newApp(testContext(t), cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		ln.Close()
		require.NoError(t, err)
	}
	ts := httptest.NewUnstartedServer(a.routes())
	ts.Listener.Close()
	ts.Listener = ln
	ts.Start()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			ts.Close()
			a.close()
		}
	}
	t.Cleanup(stop)
	return &demo{app: a, URL: "http://" + cfg.Addr, logs: logs}, stop
}

// TestSandboxSurvivesRestart (issue 16 item 1): a demo restarted on its
// SQLite file finds the sandbox where it was, and the sandbox remembers
// its grants: connections made before keep working, refresh and
// disconnect; a flow started before the restart finishes after it. When
// the sandbox's state file is gone, the dashboard says so and marks the
// connections as needing a reconnect.
func TestSandboxSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := config{
		Addr: addr, PublicURL: "http://" + addr, Store: "sqlite:" + filepath.Join(dir, "demo.db"),
		CookieKey:    []byte("0123456789abcdef0123456789abcdef"), // logins and flows outlive the restart
		SandboxAddrs: map[string]string{"mollie": freeAddr(t), "qonto": freeAddr(t)},
	}
	d, stop := runDemoAt(t, cfg)
	b := newBrowser(t)
	b.login(d, "alice")
	b.connect(d, "mollie")
	b.connect(d, "qonto")
	b.login(d, "bob")
	pending := b.get(d.URL + "/connect/qonto") // bob's flow: the consent page, not yet approved
	require.Contains(t, pending.Body, "Authorize application")
	qontoBefore, err := d.store0().Load(t.Context(), "qonto", "alice")
	require.NoError(t, err)
	stop()
	for _, p := range []string{"mollie", "qonto"} {
		info, err := os.Stat(filepath.Join(dir, "demo.db.sandbox."+p+".json"))
		require.NoError(t, err, "the sandbox's state beside the database")
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	}

	d, stop = runDemoAt(t, cfg)
	assert.Contains(t, d.logs.String(), "sandbox qonto: grants restored")
	// Bob's flow, started before the restart, finishes after it.
	p := b.approve(pending)
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	assert.Contains(t, noticeOf(p.Body), "Connected to Sandbox Company 2")

	b.login(d, "alice")
	p = b.get(d.URL + "/")
	assert.NotContains(t, p.Body, `id="sandbox-lost"`)
	for _, provider := range []string{"mollie", "qonto"} {
		assert.Contains(t, section(t, p.Body, provider), `data-status="active">Active</span>`, provider)
		var org map[string]any
		raw := b.getJSON(d.URL+"/api/"+provider+"/organization", &org)
		assert.Equal(t, http.StatusOK, raw.Status, "%s: %s", provider, raw.Body)
	}
	p = b.post(d.URL+"/connections/qonto/refresh", nil, true)
	assert.Contains(t, noticeOf(p.Body), "Token refreshed")
	qontoAfter, err := d.store0().Load(t.Context(), "qonto", "alice")
	require.NoError(t, err)
	assert.NotEqual(t, qontoBefore.RefreshToken.Reveal(), qontoAfter.RefreshToken.Reveal(), "rotated by the restored grant")
	p = b.post(d.URL+"/connections/qonto/disconnect", nil, true)
	assert.Contains(t, noticeOf(p.Body), "and revoked the demo's access at Qonto")
	assert.False(t, d.fakeQonto.RefreshTokenValid(qontoAfter.RefreshToken.Reveal()), "revoked at the restarted sandbox")
	stop()

	// The sandbox's state is lost: the connections made with it cannot
	// work, and the dashboard says so instead of claiming they are active.
	for _, p := range []string{"mollie", "qonto"} {
		require.NoError(t, os.Remove(filepath.Join(dir, "demo.db.sandbox."+p+".json")))
	}
	d, _ = runDemoAt(t, cfg)
	p = b.get(d.URL + "/")
	assert.Contains(t, p.Body, `id="sandbox-lost"`)
	assert.Contains(t, p.Body, "The sandbox Mollie started without its saved state")
	assert.Contains(t, p.Body, "1 connection to it now needs a reconnect")
	assert.Contains(t, p.Body, "The sandbox Qonto started without its saved state")
	card := section(t, p.Body, "mollie")
	assert.Contains(t, card, `data-status="reauth_required">Needs reconnect</span>`)
	assert.NotContains(t, card, "Refresh now")
	c, err := d.store0().Load(t.Context(), "qonto", "bob")
	require.NoError(t, err)
	assert.Equal(t, store.StatusReauthRequired, c.Status, "bob's connection too")
	assert.Contains(t, d.logs.String(), "started without its state file")
	// Reconnecting works at once.
	p = b.connect(d, "mollie")
	assert.Contains(t, section(t, p.Body, "mollie"), `data-status="active"`)
}
