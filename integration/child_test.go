package integration_test

// An instance of the app in a process of its own, so a test can SIGKILL it
// in the middle of a refresh: no deferred release, no goroutine that
// finishes the work, no clean close of its store connections.
//
// The parent re-executes the test binary with childEnv set to the path of
// a JSON childConfig; TestMain then runs childMain instead of the tests.
// The child builds a Connector on the same backend (its own pool or
// client, straight to the server) and the parent's fake Qonto over
// loopback TLS (the fake's certificate is in a file), and serves commands
// from its stdin, one JSON object a line, each answered on stdout. Every
// command carries the parent's injected clock, which the child's clock
// follows, so tokens expire for the child exactly when they do for the
// parent. Its logs go to stderr, which the parent adds to the library log
// it prints when a test fails.

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
)

// childEnv, when set, makes the test binary a child instance; its value
// is the path of the childConfig.
const childEnv = "OAUTHLINK_ITEST_CHILD"

// childConfig is everything a child instance needs.
type childConfig struct {
	Name            string
	Backend         backendSpec
	Provider        oauthlink.Provider
	ClientID        string
	ClientSecret    string
	RedirectURL     string
	CAFile          string // PEM certificate of the fake
	Now             time.Time
	LockTTL         time.Duration
	ExchangeTimeout time.Duration
	RetryBase       time.Duration
	RetryMax        time.Duration
	RefreshAttempts int
}

// childCommand is one line on the child's stdin.
type childCommand struct {
	ID    int64
	Op    string // "fresh" or "api"
	Owner string
	Now   time.Time // the parent's clock when the command was sent
}

// childReply is one line on the child's stdout: Ready once, then one
// reply per command.
type childReply struct {
	ID     int64
	Ready  bool
	Access string // fresh: the access token
	Status int    // api: the HTTP status
	Err    string
	Reauth bool // Err wraps oauthlink.ErrReauthRequired
}

// childMain runs a child instance until its stdin ends, and returns the
// process's exit code.
func childMain() int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	raw, err := os.ReadFile(os.Getenv(childEnv))
	if err != nil {
		return fail(err)
	}
	var cfg childConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return fail(err)
	}
	pemCA, err := os.ReadFile(cfg.CAFile)
	if err != nil {
		return fail(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemCA) {
		return fail(errors.New("no certificate in " + cfg.CAFile))
	}
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer transport.CloseIdleConnections()
	clk := oauthlinktest.NewClock(cfg.Now)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	st, closeStore, err := openSpec(ctx, cfg.Backend, cfg.Name, clk.Now)
	cancel()
	if err != nil {
		return fail(err)
	}
	defer closeStore()
	link, err := oauthlink.New(oauthlink.Config{
		Provider:      cfg.Provider,
		ClientID:      cfg.ClientID,
		ClientSecret:  cfg.ClientSecret,
		RedirectURL:   cfg.RedirectURL,
		Store:         st,
		Owner:         ownerFromCookie,
		CookieSecrets: [][]byte{make([]byte, 32)},
		HTTPClient:    &http.Client{Transport: transport},
		Logger:        slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("instance", cfg.Name),
		Now:           clk.Now,
		Tokens:        oauthlink.TokenOptions{LockTTL: cfg.LockTTL, ExchangeTimeout: cfg.ExchangeTimeout, RetryBase: cfg.RetryBase, RetryMax: cfg.RetryMax, RefreshAttempts: cfg.RefreshAttempts},
	})
	if err != nil {
		return fail(err)
	}

	var outMu sync.Mutex
	out := json.NewEncoder(os.Stdout)
	reply := func(r childReply) {
		outMu.Lock()
		defer outMu.Unlock()
		out.Encode(r)
	}
	reply(childReply{Ready: true})
	var wg sync.WaitGroup
	in := json.NewDecoder(bufio.NewReader(os.Stdin))
	for {
		var cmd childCommand
		if err := in.Decode(&cmd); err != nil {
			break // the parent closed stdin (or died)
		}
		if cmd.Now.After(clk.Now()) {
			clk.Set(cmd.Now)
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			r := childReply{ID: cmd.ID}
			var err error
			switch cmd.Op {
			case "fresh":
				var conn *oauthlink.Connection
				if conn, err = link.Connection(ctx, cmd.Owner); err == nil {
					r.Access = conn.AccessToken.Reveal()
				}
			case "api":
				r.Status, err = apiCall(ctx, link, cfg.Provider.APIURL, cmd.Owner)
			default:
				err = fmt.Errorf("unknown op %q", cmd.Op)
			}
			if err != nil {
				r.Err = err.Error()
				r.Reauth = errors.Is(err, oauthlink.ErrReauthRequired)
			}
			reply(r)
		})
	}
	wg.Wait()
	return 0
}

// apiCall reads the owner's organization at the fake through the
// connector's API client and returns the HTTP status.
func apiCall(ctx context.Context, link *oauthlink.Connector, apiURL, owner string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, apiURL+"/v2/organization", nil)
	if err != nil {
		return 0, err
	}
	resp, err := link.Client(owner).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, nil
}

// child is the parent's handle on a child instance.
type child struct {
	t    testing.TB
	name string
	clk  *clock
	cmd  *exec.Cmd

	mu      sync.Mutex
	stdin   io.WriteCloser
	enc     *json.Encoder
	next    int64
	waiting map[int64]chan childReply
	exited  bool

	read chan struct{} // closed when stdout ends
	done chan struct{} // closed when the process was waited for
	err  error         // the process's exit, once done
}

// startChild starts a child instance called name on c's backend and fake,
// configured like the parent's instances (cfg), and waits until it is
// ready. The fake must serve TLS.
func (c *cluster) startChild(name string, cfg oauthlink.Config) *child {
	t := c.t
	t.Helper()
	cert := c.qonto.Certificate()
	require.NotNil(t, cert, "the child reaches the fake over TLS")
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600))
	cc := childConfig{
		Name: name, Backend: c.be.spec, Provider: c.qonto.Provider(),
		ClientID: c.qonto.ClientID(), ClientSecret: c.qonto.ClientSecret(),
		RedirectURL: c.app.URL + "/connect/qonto/callback", CAFile: caFile, Now: c.clk.Now(),
		LockTTL: cfg.Tokens.LockTTL, ExchangeTimeout: cfg.Tokens.ExchangeTimeout, RetryBase: cfg.Tokens.RetryBase,
		RetryMax: cfg.Tokens.RetryMax, RefreshAttempts: cfg.Tokens.RefreshAttempts,
	}
	raw, err := json.Marshal(cc)
	require.NoError(t, err)
	cfgFile := filepath.Join(dir, "child.json")
	require.NoError(t, os.WriteFile(cfgFile, raw, 0o600))

	ch := &child{t: t, name: name, clk: c.clk, waiting: map[int64]chan childReply{},
		read: make(chan struct{}), done: make(chan struct{})}
	ch.cmd = exec.Command(os.Args[0])
	ch.cmd.Env = append(os.Environ(), childEnv+"="+cfgFile)
	ch.cmd.Stderr = c.logs
	stdin, err := ch.cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := ch.cmd.StdoutPipe()
	require.NoError(t, err)
	ch.stdin, ch.enc = stdin, json.NewEncoder(stdin)
	require.NoError(t, ch.cmd.Start())
	ready := make(chan struct{})
	go ch.readReplies(stdout, ready)
	go func() {
		<-ch.read // Wait closes stdout: read it all first
		ch.err = ch.cmd.Wait()
		close(ch.done)
	}()
	t.Cleanup(ch.stop)
	select {
	case <-ready:
	case <-ch.read:
		t.Fatalf("child %s exited before it was ready", name)
	case <-time.After(60 * time.Second):
		ch.kill()
		t.Fatalf("child %s not ready after 60 s", name)
	}
	return ch
}

func (ch *child) readReplies(stdout io.Reader, ready chan struct{}) {
	defer close(ch.read)
	defer func() {
		ch.mu.Lock()
		defer ch.mu.Unlock()
		ch.exited = true
		for id, w := range ch.waiting {
			w <- childReply{ID: id, Err: "child exited"}
			delete(ch.waiting, id)
		}
	}()
	dec := json.NewDecoder(stdout)
	for {
		var r childReply
		if err := dec.Decode(&r); err != nil {
			return
		}
		if r.Ready {
			close(ready)
			continue
		}
		ch.mu.Lock()
		w := ch.waiting[r.ID]
		delete(ch.waiting, r.ID)
		ch.mu.Unlock()
		if w != nil {
			w <- r
		}
	}
}

// call sends a command and waits for its reply or ctx.
func (ch *child) call(ctx context.Context, op, owner string) childReply {
	w := make(chan childReply, 1)
	ch.mu.Lock()
	if ch.exited {
		ch.mu.Unlock()
		return childReply{Err: "child exited"}
	}
	ch.next++
	id := ch.next
	ch.waiting[id] = w
	err := ch.enc.Encode(childCommand{ID: id, Op: op, Owner: owner, Now: ch.clk.Now()})
	ch.mu.Unlock()
	if err != nil {
		ch.mu.Lock()
		delete(ch.waiting, id)
		ch.mu.Unlock()
		return childReply{ID: id, Err: "child unreachable: " + err.Error()}
	}
	select {
	case r := <-w:
		return r
	case <-ctx.Done():
		ch.mu.Lock()
		delete(ch.waiting, id)
		ch.mu.Unlock()
		return childReply{ID: id, Err: ctx.Err().Error()}
	}
}

func (r childReply) error() error {
	switch {
	case r.Err == "":
		return nil
	case r.Reauth:
		return fmt.Errorf("%w (child: %s)", oauthlink.ErrReauthRequired, r.Err)
	}
	return errors.New("child: " + r.Err)
}

func (ch *child) Name() string { return ch.name }

func (ch *child) Fresh(ctx context.Context, owner string) (string, error) {
	r := ch.call(ctx, "fresh", owner)
	return r.Access, r.error()
}

func (ch *child) API(ctx context.Context, owner string) (int, error) {
	r := ch.call(ctx, "api", owner)
	return r.Status, r.error()
}

// kill sends SIGKILL and waits for the process to be gone.
func (ch *child) kill() {
	ch.cmd.Process.Signal(syscall.SIGKILL)
	<-ch.done
}

// stop closes the child's stdin, so it exits once its commands are
// answered, and kills it if it has not after 30 s. A child that was not
// killed must exit 0 (a race the detector found in it exits 66).
func (ch *child) stop() {
	ch.mu.Lock()
	ch.stdin.Close()
	ch.mu.Unlock()
	select {
	case <-ch.done:
		var exit *exec.ExitError
		if errors.As(ch.err, &exit) && !exit.Exited() {
			return // killed
		}
		if ch.err != nil {
			ch.t.Errorf("child %s: %v", ch.name, ch.err)
		}
	case <-time.After(30 * time.Second):
		ch.t.Errorf("child %s did not exit", ch.name)
		ch.kill()
	}
}
