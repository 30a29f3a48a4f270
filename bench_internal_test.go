package oauthlink

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// benchTokenBody is what the in-memory token endpoint answers.
const benchTokenBody = `{"access_token":"access_bench","refresh_token":"refresh_bench","expires_in":3600,"token_type":"bearer","scope":"organizations.read"}`

// memoryTokenEndpoint answers token requests in memory, so the callback
// benchmarks measure oauthlink's own cost, not the network. The external
// benchmarks reach it as MemoryTokenEndpoint (export_test.go).
type memoryTokenEndpoint struct{}

func (memoryTokenEndpoint) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(benchTokenBody)), Request: r}, nil
}

// BenchmarkExchangeInMemory is the code exchange alone, exactly as the
// callback makes it (same provider, client, form and token endpoint as
// BenchmarkCallbackInMemory): build the form, POST it, read and parse the
// answer. BenchmarkCallbackInMemory minus this is the callback's own cost.
func BenchmarkExchangeInMemory(b *testing.B) {
	c, err := New(Config{
		Provider: Provider{Name: "bench", AuthURL: "https://provider.example/oauth2/authorize",
			TokenURL: "https://provider.example/oauth2/tokens", AuthStyle: AuthStyleBasic,
			DefaultScopes: []string{"organizations.read"}, PKCE: true},
		ClientID: "app_bench", ClientSecret: "secret_bench", RedirectURL: "https://app.example/connect/bench/callback",
		Store: &nopStore{}, Owner: func(*http.Request) (string, error) { return "shop-1", nil },
		CookieSecrets: [][]byte{make([]byte, 32)}, HTTPClient: &http.Client{Transport: memoryTokenEndpoint{}},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	verifier := strings.Repeat("v", 43)
	ctx := context.Background()
	b.ReportAllocs()
	cpu0, cpuOK := processCPU()
	for b.Loop() {
		form := c.e.newExchangeForm().Add("code", "auth_bench").Add("code_verifier", verifier)
		tok, err := c.e.tokenRequest(ctx, form)
		if err != nil || tok.AccessToken != "access_bench" {
			b.Fatalf("exchange: %v", err)
		}
	}
	if cpu1, ok := processCPU(); cpuOK && ok {
		b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
