package discovery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/discovery"
	"github.com/oauthlink/oauthlink/oauthlinktest"
)

// Connect any RFC 8414 server with one call. Here the server is an
// httptest one; in an app the issuer is the server's https URL and
// Options is usually empty.
func ExampleProvider() {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := "https://" + r.Host
		json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                         u,
			"authorization_endpoint":                         u + "/oauth2/authorize",
			"token_endpoint":                                 u + "/oauth2/token",
			"revocation_endpoint":                            u + "/oauth2/revoke",
			"token_endpoint_auth_methods_supported":          []string{"client_secret_post", "private_key_jwt"},
			"code_challenge_methods_supported":               []string{"S256"},
			"authorization_response_iss_parameter_supported": true,
		})
	}))
	defer srv.Close()

	p, err := discovery.Provider(context.Background(), "acme", srv.URL, discovery.Options{HTTPClient: srv.Client()})
	if err != nil {
		log.Fatal(err)
	}
	p.APIURL = srv.URL + "/api" // what the metadata cannot say
	fmt.Println("auth style body:", p.AuthStyle == oauthlink.AuthStyleBody)
	fmt.Println("PKCE:", p.PKCE, "issuer required:", p.IssuerRequired, "revocation:", p.RevokeURL != "")
	// Output:
	// auth style body: true
	// PKCE: true issuer required: true revocation: true
}

// A Cache keeps each issuer's document for an hour (or the server's
// shorter max-age) and serves a stale one for a day while the server is
// unreachable; use one per process when Connectors are built on demand.
func ExampleCache() {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := "https://" + r.Host
		w.Header().Set("Cache-Control", "max-age=300")
		json.NewEncoder(w).Encode(map[string]any{"issuer": u, "authorization_endpoint": u + "/a", "token_endpoint": u + "/t"})
	}))
	defer srv.Close()

	cache := discovery.NewCache(discovery.Options{HTTPClient: srv.Client(), MaxAge: time.Hour})
	for _, tenant := range []string{"shop-a", "shop-b"} {
		p, err := cache.Provider(context.Background(), tenant, srv.URL)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(p.Name, p.AuthStyle == oauthlink.AuthStyleBasic) // no methods listed: client_secret_basic
	}
	// Output:
	// shop-a true
	// shop-b true
}

// In tests, discover oauthlinktest's fake authorization server: its
// metadata follows its options, and it accepts exactly what the metadata
// lists, so the discovered Provider connects to it.
func ExampleProvider_oauthlinktest() {
	f := oauthlinktest.NewGeneric(oauthlinktest.GenericOptions{
		TLS:             true,
		IssuerPath:      "/tenants/acme",
		AuthMethods:     []string{oauthlinktest.AuthMethodPost},
		IssuerParameter: true,
		RedirectURIs:    []string{"https://app.example/callback"},
	})
	defer f.Close()

	p, err := discovery.Provider(context.Background(), "acme", f.Issuer(), discovery.Options{HTTPClient: f.Client()})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("metadata:", strings.TrimPrefix(f.MetadataURL(), f.URL()))
	fmt.Println("auth style body:", p.AuthStyle == oauthlink.AuthStyleBody)
	fmt.Println("PKCE:", p.PKCE, "issuer required:", p.IssuerRequired, "revocation:", p.RevokeURL == f.RevokeURL())
	// Output:
	// metadata: /.well-known/oauth-authorization-server/tenants/acme
	// auth style body: true
	// PKCE: true issuer required: true revocation: true
}
