package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/internal/testutil"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/encrypted"
)

// TestBinaryDefaults builds the demo, runs it as `go run ./examples/demo`
// would (no configuration but the address) and drives its HTTP contract
// through a cookie jar: both providers, a forced refresh, a client link,
// the organization API; then restarts it on the same SQLite file, which
// keeps the connections (the token key is kept beside it).
func TestBinaryDefaults(t *testing.T) {
	bin := buildDemo(t)
	work := t.TempDir()
	first := runDemo(t, bin, work)
	assert.Contains(t, first.log(), "generated a token key and saved it in oauthlink-demo.db.token-key")
	assert.Contains(t, first.log(), "store: SQLite file oauthlink-demo.db")
	assert.Equal(t, 1, strings.Count(first.log(), "cookies drop Secure and the __Host- prefix"), "said once")
	assert.NotContains(t, first.log(), "AllowInsecureHTTP")

	b := newBrowser(t)
	d := &demo{URL: first.url}
	b.login(d, "alice")
	for _, provider := range []string{"mollie", "qonto"} {
		p := b.connect(d, provider)
		require.Equal(t, http.StatusOK, p.Status, p.Body)
		require.Equal(t, "/", p.URL.Path)
	}
	// A token past expiry, written into the demo's SQLite file by another
	// process (this test, with the key from the key file), is refreshed on
	// its next use.
	st := openDemoStore(t, work)
	conn, err := st.Load(t.Context(), "mollie", "alice")
	require.NoError(t, err)
	conn.Expiry = time.Now().Add(-time.Minute)
	require.NoError(t, st.Save(t.Context(), conn))
	var org map[string]any
	p := b.getJSON(first.url+"/api/mollie/organization", &org)
	assert.Equal(t, http.StatusOK, p.Status, p.Body)
	refreshed, err := st.Load(t.Context(), "mollie", "alice")
	require.NoError(t, err)
	assert.NotEqual(t, conn.AccessToken.Reveal(), refreshed.AccessToken.Reveal(), "a new access token")
	assert.True(t, refreshed.Expiry.After(time.Now().Add(30*time.Minute)), "a new expiry")

	p = b.post(first.url+"/connections/qonto/refresh", nil, false)
	assert.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	p = b.getJSON(first.url+"/api/qonto/organization", &org)
	assert.Equal(t, http.StatusOK, p.Status, p.Body)
	assert.Contains(t, org, "organization")

	b2 := newBrowser(t)
	b2.login(d, "bob")
	p = b2.post(first.url+"/connect/mollie/client-link", signupForm0(), true)
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	assert.Contains(t, p.Body, `data-status="active"`)

	var before []connectionJSON
	b.getJSON(first.url+"/api/connections", &before)
	require.Len(t, before, 2)
	first.stop(t)
	assertNoSecretsLogged(t, first.log())

	second := runDemo(t, bin, work)
	assert.Contains(t, second.log(), "using the token key kept in oauthlink-demo.db.token-key")
	b = newBrowser(t)
	d = &demo{URL: second.url}
	b.login(d, "alice") // a new cookie key this run: log in again
	var after []connectionJSON
	b.getJSON(second.url+"/api/connections", &after)
	assert.Equal(t, before, after, "the SQLite file kept both connections")
	p = b.get(second.url + "/")
	assert.Equal(t, 2, strings.Count(p.Body, `data-status="active"`))
	second.stop(t)
}

// freeAddrWithSandbox returns a loopback address whose port and the two
// after it (where the demo's sandbox listens by default) are free now.
func freeAddrWithSandbox(t *testing.T) string {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		port := ln.Addr().(*net.TCPAddr).Port
		held := []net.Listener{ln}
		for i := 1; i <= 2 && port+i <= 65535; i++ {
			if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+i))); err == nil {
				held = append(held, l)
			}
		}
		for _, l := range held {
			l.Close()
		}
		if len(held) == 3 {
			return ln.Addr().String()
		}
	}
	t.Fatal("no free loopback port with two free successors")
	return ""
}

// buildDemo builds the demo binary into a temporary directory.
func buildDemo(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		testutil.SkipUnavailable(t, "no go tool on PATH to build the demo with")
	}
	bin := filepath.Join(t.TempDir(), "demo")
	// Bounded generously: on a cold cache the build compiles SQLite.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goTool, "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// TestBinaryRestart (issue 16 item 1) runs the built demo with its
// defaults (the sandbox on the two ports after the demo's, its state
// beside the SQLite file), connects both providers, stops it and starts it
// again in the same directory: the connections still work, refresh and
// disconnect. Then the sandbox's state files are deleted and the demo
// restarted: the dashboard says the sandbox lost its state and marks the
// connection as needing a reconnect.
func TestBinaryRestart(t *testing.T) {
	bin := buildDemo(t)
	work := t.TempDir()
	env := []string{"OAUTHLINK_ADDR=" + freeAddrWithSandbox(t),
		"OAUTHLINK_COOKIE_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="} // the login outlives the restart
	first := runDemo(t, bin, work, env...)
	d := &demo{URL: first.url}
	b := newBrowser(t)
	b.login(d, "alice")
	for _, provider := range []string{"mollie", "qonto"} {
		p := b.connect(d, provider)
		require.Equal(t, http.StatusOK, p.Status, p.Body)
		assert.Contains(t, noticeOf(p.Body), "Connected to ")
	}
	consent := b.get(first.url + "/connect/qonto") // a reconnect started before the restart
	require.Contains(t, consent.Body, "Authorize application")
	first.stop(t)
	assert.Contains(t, first.log(), "sandbox qonto: new state file")

	second := runDemo(t, bin, work, env...)
	assert.Contains(t, second.log(), "sandbox mollie: grants restored")
	assert.Contains(t, second.log(), "sandbox qonto: grants restored")
	p := b.approve(consent)
	require.Equal(t, http.StatusOK, p.Status, "the flow started before the restart finishes: %s", p.Body)
	assert.Contains(t, noticeOf(p.Body), "Reconnected: now linked to Sandbox Company 2")
	p = b.get(second.url + "/")
	assert.Equal(t, 2, strings.Count(p.Body, `data-status="active">Active</span>`), p.Body)
	for _, provider := range []string{"mollie", "qonto"} {
		var org map[string]any
		raw := b.getJSON(second.url+"/api/"+provider+"/organization", &org)
		assert.Equal(t, http.StatusOK, raw.Status, "%s after the restart: %s", provider, raw.Body)
		p = b.post(second.url+"/connections/"+provider+"/refresh", nil, true)
		assert.Contains(t, noticeOf(p.Body), "Token refreshed", provider)
	}
	p = b.post(second.url+"/connections/qonto/disconnect", nil, true)
	assert.Contains(t, noticeOf(p.Body), "and revoked the demo's access at Qonto")
	second.stop(t)
	assertNoSecretsLogged(t, second.log())

	for _, provider := range []string{"mollie", "qonto"} {
		require.NoError(t, os.Remove(filepath.Join(work, "oauthlink-demo.db.sandbox."+provider+".json")))
	}
	third := runDemo(t, bin, work, env...)
	p = b.get(third.url + "/")
	assert.Contains(t, p.Body, "The sandbox Mollie started without its saved state")
	assert.Contains(t, section(t, p.Body, "mollie"), `data-status="reauth_required">Needs reconnect</span>`)
	var list []connectionJSON
	b.getJSON(third.url+"/api/connections", &list)
	require.Len(t, list, 1)
	assert.Equal(t, "reauth_required", list[0].Status)
	third.stop(t)
}

// openDemoStore opens the demo's default SQLite store in dir as the demo
// does, decrypting with the key kept beside it.
func openDemoStore(t *testing.T, dir string) store.TokenStore {
	t.Helper()
	spec := storeSpec{Kind: "sqlite", Path: filepath.Join(dir, "oauthlink-demo.db")}
	k, err := resolveKeys(config{}, spec)
	require.NoError(t, err)
	raw, closeStore, err := openStore(t.Context(), spec, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { closeStore() })
	st, err := encrypted.New(raw, encrypted.Options{Keys: []encrypted.Key{k.token}})
	require.NoError(t, err)
	return st
}

// demoProcess is a running demo binary.
type demoProcess struct {
	cmd  *exec.Cmd
	url  string
	out  *lineWatch
	done chan struct{}
}

// runDemo starts the binary in dir with env added to the test's (on a
// free loopback port whose two successors, the sandbox's default ports,
// are free too, unless env sets OAUTHLINK_ADDR) and returns once it says
// it is listening.
func runDemo(t *testing.T, bin, dir string, env ...string) *demoProcess {
	t.Helper()
	addr := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "OAUTHLINK_ADDR="); ok {
			addr = v
		}
	}
	if addr == "" {
		addr = freeAddrWithSandbox(t)
		env = append(env, "OAUTHLINK_ADDR="+addr)
	}

	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), env...)
	watch := newLineWatch("oauthlink demo ready")
	cmd.Stdout, cmd.Stderr = watch, watch
	require.NoError(t, cmd.Start())
	p := &demoProcess{cmd: cmd, url: "http://" + addr, out: watch, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case <-watch.seen:
	case <-p.done:
		t.Fatalf("the demo exited before it was ready:\n%s", watch)
	case <-time.After(30 * time.Second):
		t.Fatalf("the demo did not get ready in 30 s:\n%s", watch)
	}
	return p
}

// stop interrupts the demo, as Ctrl-C does, and requires a clean exit.
func (p *demoProcess) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGINT))
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the demo did not stop in 30 s:\n%s", p.out)
	}
	assert.Equal(t, 0, p.cmd.ProcessState.ExitCode(), p.out.String())
}

func (p *demoProcess) log() string { return p.out.String() }

// cleanEnv is the test's environment without the demo's variables, so the
// binary runs with its defaults whatever the developer has set.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OAUTHLINK_") && !strings.HasPrefix(kv, "MOLLIE_") && !strings.HasPrefix(kv, "QONTO_") {
			env = append(env, kv)
		}
	}
	return env
}

// lineWatch collects output and closes seen when a line containing want
// has been written.
type lineWatch struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
	once sync.Once
}

func newLineWatch(want string) *lineWatch {
	return &lineWatch{want: want, seen: make(chan struct{})}
}

func (w *lineWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *lineWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
