package discovery_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// as is an authorization server that publishes metadata on an httptest
// TLS server. Its handler serves doc (with the server's URL as issuer
// unless doc sets one) at the RFC 8414 location of issuer path, and
// counts the requests for each path.
type as struct {
	srv *httptest.Server

	mu      sync.Mutex
	hits    map[string]int
	handler http.HandlerFunc // replaces the default answer when set
	doc     map[string]any
	header  http.Header
	path    string // the issuer's path, "" for the host alone
}

func newAS(t *testing.T) *as {
	t.Helper()
	a := &as{hits: map[string]int{}}
	a.srv = httptest.NewTLSServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	a.doc = a.standard()
	return a
}

// standard is a typical document: code flow, Basic and post, PKCE S256,
// revocation.
func (a *as) standard() map[string]any {
	u := a.srv.URL
	return map[string]any{
		"issuer":                                u + a.path,
		"authorization_endpoint":                u + "/authorize",
		"token_endpoint":                        u + "/token",
		"revocation_endpoint":                   u + "/revoke",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"code_challenge_methods_supported":      []string{"S256"},
	}
}

func (a *as) issuer() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.srv.URL + a.path
}

func (a *as) set(f func(a *as)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f(a)
}

func (a *as) count(path string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.hits[path]
}

func (a *as) total() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, v := range a.hits {
		n += v
	}
	return n
}

func (a *as) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.hits[r.URL.Path]++
	h, doc, header, path := a.handler, a.doc, a.header, a.path
	a.mu.Unlock()
	if h != nil {
		h(w, r)
		return
	}
	if r.URL.Path != "/.well-known/oauth-authorization-server"+path {
		http.NotFound(w, r)
		return
	}
	for k, v := range header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(doc)
}
