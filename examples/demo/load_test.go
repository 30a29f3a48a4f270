package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store"
)

// Load shape of BenchmarkAPIConnections: loadClients logged-in users, each
// with one connection, ask GET /api/connections at once, loadRequests
// times each, per benchmark iteration.
const (
	loadClients  = 64
	loadRequests = 16
)

// BenchmarkAPIConnections serves the demo on loopback with each store and
// has 64 concurrent clients (one user and one keep-alive connection each)
// ask GET /api/connections in a closed loop: 64 × 16 requests per
// iteration, every answer checked. It reports the latency's mean, p50
// and p99 in milliseconds over all requests, and the requests per second;
// timings are reported, never asserted. PostgreSQL and Redis are the test servers (skipped when
// unreachable, failed when CI is set); SQLite is a temp file.
//
//	go test -run '^$' -bench APIConnections -benchtime 10x ./examples/demo
func BenchmarkAPIConnections(b *testing.B) {
	stores := []struct {
		name string
		url  func(testing.TB) string
	}{
		{"postgres", postgresStore},
		{"sqlite", func(tb testing.TB) string { return "sqlite:" + filepath.Join(tb.TempDir(), "demo.db") }},
		{"redis", redisStore},
	}
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			benchAPIConnections(b, st.url(b))
		})
	}
}

func benchAPIConnections(b *testing.B, storeURL string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	tokenKey := make([]byte, 32)
	rand.Read(tokenKey)
	a, err := newApp(ctx, config{Addr: ts.Listener.Addr().String(), PublicURL: base, Store: storeURL, TokenKey: tokenKey},
		slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer a.close()
	ts.Config.Handler = a.routes()
	ts.Start()
	defer ts.Close()

	transport := &http.Transport{MaxIdleConnsPerHost: loadClients}
	defer transport.CloseIdleConnections()
	run := strings.ToLower(rand.Text()[:8])
	clients := make([]*http.Client, loadClients)
	for i := range clients {
		user := fmt.Sprintf("load-%s-%d", run, i)
		if err := a.store0().Save(ctx, &oauthlink.Connection{
			Provider: "qonto", Owner: user, AccessToken: store.Secret("access-" + user), RefreshToken: store.Secret("refresh-" + user),
			TokenType: "Bearer", Expiry: time.Now().Add(time.Hour), Scopes: []string{"organization.read", "offline_access"},
			Status: store.StatusActive, AccountID: "org-" + user,
		}); err != nil {
			b.Fatal(err)
		}
		jar, err := cookiejar.New(nil)
		if err != nil {
			b.Fatal(err)
		}
		clients[i] = &http.Client{Jar: jar, Transport: transport, Timeout: time.Minute,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/login", strings.NewReader(url.Values{"user": {user}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := clients[i].Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			b.Fatalf("login: %d", resp.StatusCode)
		}
	}

	var all []time.Duration
	for b.Loop() {
		lat := make([][]time.Duration, loadClients)
		errs := make(chan error, loadClients)
		var wg sync.WaitGroup
		for i, c := range clients {
			wg.Go(func() {
				for range loadRequests {
					start := time.Now()
					if err := getConnections(ctx, c, base); err != nil {
						errs <- err
						return
					}
					lat[i] = append(lat[i], time.Since(start))
				}
			})
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
		all = append(all, slices.Concat(lat...)...)
	}
	slices.Sort(all)
	ms := func(q float64) float64 {
		return float64(all[min(int(q*float64(len(all))), len(all)-1)]) / float64(time.Millisecond)
	}
	var sum time.Duration
	for _, d := range all {
		sum += d
	}
	b.ReportMetric(float64(sum)/float64(len(all))/float64(time.Millisecond), "mean-ms")
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
	b.ReportMetric(float64(len(all))/b.Elapsed().Seconds(), "req/s")
}

// getConnections asks GET /api/connections and checks the answer: the
// user's one connection.
func getConnections(ctx context.Context, c *http.Client, base string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/connections", nil)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var list []connectionJSON
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &list) != nil || len(list) != 1 || list[0].Status != "active" {
		return fmt.Errorf("GET /api/connections: %d %s", resp.StatusCode, body)
	}
	return nil
}
