package main

import (
	"crypto/rand"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/oauthlink/oauthlink/oauthlinktest"
)

// The sandbox: a provider without a client id runs against the fake from
// oauthlinktest, on a loopback port of its own, with its consent page, so
// a newcomer clicks Approve as they would at Mollie or Qonto.
//
// The browser reaches the fake as "localhost" while the demo is on
// 127.0.0.1 (or the other way round), so going to the provider and coming
// back are cross-site navigations, as they are with the real providers:
// the demo's SameSite=Lax cookies are exercised for real. Server-side calls
// (token, revocation, API) go to the fake's own 127.0.0.1 address.

// sandboxHost is the host name browsers use for the fakes: a different
// site from the demo's public host.
func sandboxHost(publicURL string) string {
	if u, err := url.Parse(publicURL); err == nil && u.Hostname() == "localhost" {
		return "127.0.0.1"
	}
	return "localhost"
}

// browserURL rewrites a fake's URL (http://127.0.0.1:port/...) to the
// sandbox host, keeping port, path and query.
func browserURL(raw, host string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Host = net.JoinHostPort(host, u.Port())
	return u.String()
}

// newSandboxMollie starts the fake Mollie. The callback is registered, as a
// real Mollie app registers its redirect URL: client links carry no
// redirect_uri.
// The fake serves client links too (POST /v2/client-links, and the link's
// page, which creates the organization and authorizes the demo for it
// without a consent page); the links it hands out name browserHost, so
// that step is cross-site too.
func newSandboxMollie(callback, orgToken, browserHost string, ln net.Listener, now func() time.Time) *oauthlinktest.Mollie {
	return oauthlinktest.NewMollie(oauthlinktest.MollieOptions{
		ConsentPage: true, RedirectURIs: []string{callback}, OrganizationToken: orgToken,
		BrowserHost: browserHost, Listener: ln, Now: now,
	})
}

// newSandboxQonto starts the fake Qonto. It delivers its webhooks (a
// consent revocation, for one) to the subscriptions' callback URLs, the
// demo's POST /webhooks/qonto, without keeping connections open.
func newSandboxQonto(callback string, ln net.Listener, now func() time.Time) *oauthlinktest.Qonto {
	return oauthlinktest.NewQonto(oauthlinktest.QontoOptions{
		ConsentPage: true, RedirectURIs: []string{callback}, Listener: ln, Now: now,
		WebhookClient: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second},
	})
}

// sandboxConsentsPath is where the sandbox Qonto serves its "connected
// applications" page (oauthlinktest.Qonto.ConsentsHandler): a merchant
// revokes the demo's access there, and the fake sends the signed
// consent-revocation webhook to POST /webhooks/qonto.
const sandboxConsentsPath = "/sandbox/consents"

// sandboxWebhookSecret signs the fake Qonto's webhook deliveries
// (QONTO_WEBHOOK_SECRET's stand-in), random per run: 40 characters, within
// Qonto's 32 to 128.
func sandboxWebhookSecret() string { return "whsec_sandbox" + rand.Text() }

// sandboxOrgToken is the fake partner's organization token for client
// links (MOLLIE_ORG_TOKEN's stand-in), random per run.
func sandboxOrgToken() string { return "access_sandbox" + rand.Text() }
