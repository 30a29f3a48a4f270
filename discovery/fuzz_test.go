package discovery_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/discovery"
)

// FuzzDocument feeds any body to discovery as the server's metadata: it
// must never panic, and what it accepts must be a Provider for the issuer
// asked for, on https endpoints, with a pinned style.
func FuzzDocument(f *testing.F) {
	f.Add(`{"issuer":"https://as.example","authorization_endpoint":"https://as.example/a","token_endpoint":"https://as.example/t"}`)
	f.Add(`{"issuer":"https://as.example","authorization_endpoint":"https://as.example/a","token_endpoint":"https://as.example/t","revocation_endpoint":"https://as.example/r","token_endpoint_auth_methods_supported":["client_secret_post"],"revocation_endpoint_auth_methods_supported":["client_secret_basic","client_secret_post"],"code_challenge_methods_supported":["plain","S256"],"authorization_response_iss_parameter_supported":true}`)
	f.Add(`{"issuer":"https://as.example","token_endpoint_auth_methods_supported":["none"]}`)
	f.Add(`{"issuer":"https://as.example/"} {}`)
	f.Add(`<html></html>`)
	f.Add(`{"issuer":"https://as.example","authorization_endpoint":"http://as.example/a","token_endpoint":"https://as.example/t#x"}`)
	f.Fuzz(func(t *testing.T, body string) {
		client := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
		})}
		p, err := discovery.Provider(t.Context(), "acme", "https://as.example", discovery.Options{HTTPClient: client})
		if err != nil {
			return
		}
		if p.Issuer != "https://as.example" || p.Name != "acme" {
			t.Fatalf("accepted a document for another issuer: %q", p.Issuer)
		}
		endpoints := []string{p.AuthURL, p.TokenURL}
		if p.RevokeURL != "" {
			endpoints = append(endpoints, p.RevokeURL)
		}
		for _, e := range endpoints {
			u, err := url.Parse(e)
			if err != nil || u.Scheme != "https" || u.Host == "" || u.Fragment != "" || u.User != nil {
				t.Fatalf("accepted endpoint %q", e)
			}
		}
		if p.AuthStyle != oauthlink.AuthStyleBasic && p.AuthStyle != oauthlink.AuthStyleBody {
			t.Fatalf("style %d not pinned", p.AuthStyle)
		}
	})
}
