// Package interop holds oauthlink's tests against real authorization
// servers run in-process: the generic Provider, built by package
// discovery from the server's own metadata, runs a whole connect flow
// against each. It has no code of its own and is a module of its own, so
// the servers' dependencies never reach the library's users. Run it with
//
//	go test -race ./interop/
//
// The servers:
//
//   - zitadel_test.go: ZITADEL's OpenID Provider (github.com/zitadel/oidc/v3
//     pkg/op) with its example storage and login page, over TLS. Discovery
//     falls back from the RFC 8414 location to the OpenID one, pins
//     client_secret_basic and turns PKCE S256 on; the test then starts a
//     flow, signs in on the server's login page, takes the callback,
//     exchanges the code (with the PKCE verifier), calls the userinfo
//     endpoint through Connector.Client and Connector.ContextClient,
//     refreshes (ZITADEL rotates refresh tokens), and disconnects, after
//     which the server refuses the revoked refresh token.
package interop
