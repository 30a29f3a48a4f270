// Package compare benchmarks oauthlink against peer OAuth2 client-flow
// libraries on identical work: dghubble/gologin v2 (oauth2 package),
// zitadel/oidc v3 (pkg/client/rp, OAuth2-only relying party) and
// markbates/goth (gothic).
//
// It is its own Go module so that the oauthlink module never depends on its
// peers. Everything lives in compare_test.go; run.sh runs the benchmarks
// interleaved and rewrites the results section of ../BENCHMARKS.md.
package compare
