package main

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/internal/testutil"
	"github.com/oauthlink/oauthlink/oauthlinktest"
)

// chromiumPath is the Chromium the browser test drives:
// OAUTHLINK_CHROMIUM, or Debian's, which .ci/run installs.
var chromiumPath = cmp.Or(os.Getenv("OAUTHLINK_CHROMIUM"), "/usr/bin/chromium")

// TestBrowser drives the demo with headless Chromium, as a newcomer would,
// and checks that each step says what happened (issue 16): a refused
// login name, connect, a reconnect that moves to another organization,
// Back then Approve, a flow left for 11 minutes, a client-link signup,
// Refresh now, the merchant revoking at the sandbox Qonto, the operator
// view, a restart (the sandbox remembers), and a restart that lost the
// sandbox's state. The demo is on 127.0.0.1 and the fakes' pages on
// localhost, so each return to the callback is a cross-site navigation:
// it lands on the dashboard only if the SameSite=Lax login and flow
// cookies survive it (a cookie jar ignores SameSite; a browser does not).
//
// Set DEMO_SCREENSHOT_DIR to keep the screenshots of every step; by
// default they go to a temporary directory.
func TestBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs Chromium at %s (.ci/run installs Debian's chromium package): %v", chromiumPath, err)
		}
		testutil.SkipUnavailable(t, fmt.Sprintf("no Chromium at %s (apt-get install chromium, or set OAUTHLINK_CHROMIUM to its path)", chromiumPath))
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	clock := oauthlinktest.NewClock(time.Now())
	cfg := config{
		Addr: addr, PublicURL: "http://" + addr, Store: "sqlite:" + filepath.Join(dir, "demo.db"),
		CookieKey:    []byte("browser-test cookie key, 32 bytes+"), // the login outlives restarts
		SandboxAddrs: map[string]string{"mollie": freeAddr(t), "qonto": freeAddr(t)},
		Now:          clock.Now,
	}
	d, stop := runDemoAt(t, cfg)
	b := startChromium(t)

	b.navigate("the login page", d.URL+"/")
	b.do("type a name with a space", chromedp.SendKeys(chromedp.CSS(`input#user`), "Ada Lovelace"))
	b.clickStatus("submit: refused, saying what is allowed", `form[action="/login"] button`, http.StatusUnprocessableEntity)
	assert.Contains(t, b.text(`#login-error`), "no spaces, e.g. ada.lovelace")
	b.screenshot("login-refused.png")
	b.do("use an allowed name",
		chromedp.Clear(chromedp.CSS(`input#user`)),
		chromedp.SendKeys(chromedp.CSS(`input#user`), "ada.lovelace"),
	)
	b.click("log in", `form[action="/login"] button`)
	assert.Equal(t, "ada.lovelace", b.text(`strong#user`))
	assert.Equal(t, d.URL+"/", b.location())

	b.click("connect Qonto", `#connect-qonto`)
	assert.Equal(t, "localhost", mustParse(t, b.location()).Hostname(), "the consent page is another site")
	b.click("approve at the sandbox Qonto", `button[value="approve"]`)
	assert.Equal(t, d.URL+"/", b.location(), "back on the dashboard")
	assert.Equal(t, "Active", b.text(`#qonto [data-status]`))
	q1, err := d.store0().Load(t.Context(), "qonto", "ada.lovelace")
	require.NoError(t, err)
	assert.Equal(t, "Connected to Sandbox Company 1 ("+q1.AccountID+") at Qonto.", b.text(`#notice`))
	assert.Equal(t, "Sandbox Company 1", b.text(`#qonto .account-name`))
	assert.Equal(t, q1.AccountID, b.text(`#qonto .account-id`))
	b.screenshot("connected.png")

	b.click("reconnect Qonto", `#connect-qonto`)
	consentPage := b.location()
	b.click("approve: the sandbox makes a new organization", `button[value="approve"]`)
	q2, err := d.store0().Load(t.Context(), "qonto", "ada.lovelace")
	require.NoError(t, err)
	assert.Equal(t, "Reconnected: now linked to Sandbox Company 2 ("+q2.AccountID+") instead of Sandbox Company 1 ("+q1.AccountID+") at Qonto.", b.text(`#notice`))
	b.screenshot("reconnected.png")

	// Back: the consent page again (no-store, so the browser asks the
	// sandbox for it again, as opening its address does).
	b.navigate("back to the consent page", consentPage)
	b.clickStatus("approve again: that answer was already used", `button[value="approve"]`, http.StatusBadRequest)
	assert.Equal(t, "You're already connected", b.text(`#error h1`))
	assert.Equal(t, "ada.lovelace", b.text(`strong#user`), "the header says who is logged in")
	b.screenshot("already-connected.png")
	b.click("back to the dashboard", `#error a[href="/"]`)

	b.click("connect Mollie", `#connect-mollie`)
	clock.Advance(11 * time.Minute)
	b.clickStatus("approve 11 minutes later", `button[value="approve"]`, http.StatusBadRequest)
	assert.Equal(t, "This connection attempt expired; start again", b.text(`#error h1`))
	b.screenshot("flow-expired.png")
	b.click("start again", `#error-action`)
	b.click("approve at once", `button[value="approve"]`)
	// The expired attempt's approval made Test Organization 1 at the
	// sandbox; this one is the second.
	assert.Equal(t, "Connected to Test Organization 2 (org_2) at Mollie.", b.text(`#notice`))

	b.do("fill the client-link form, with a country name instead of a code",
		chromedp.Click(chromedp.CSS(`#mollie details summary`)),
		chromedp.WaitVisible(chromedp.CSS(`#cl-email`)),
		chromedp.SendKeys(chromedp.CSS(`#cl-email`), "anna@bakkerij.example"),
		chromedp.SendKeys(chromedp.CSS(`#cl-given_name`), "Anna"),
		chromedp.SendKeys(chromedp.CSS(`#cl-family_name`), "Jansen"),
		chromedp.SendKeys(chromedp.CSS(`#cl-organization_name`), "Bakkerij Jansen"),
		chromedp.SendKeys(chromedp.CSS(`#cl-country`), "Netherlands"),
	)
	b.clickStatus("submit: the form comes back naming the field", `#signup button[type="submit"]`, http.StatusUnprocessableEntity)
	assert.Contains(t, b.text(`#signup-error`), "(country)")
	b.screenshot("signup-error.png")
	assert.Empty(t, d.fakeMollie.ClientLinks(), "nothing sent to Mollie")

	b.do("correct the country",
		chromedp.Clear(chromedp.CSS(`#cl-country`)),
		chromedp.SendKeys(chromedp.CSS(`#cl-country`), "NL"),
	)
	b.click("create the client link (the fake's link page approves at once)", `#signup button[type="submit"]`)
	assert.Equal(t, d.URL+"/", b.location())
	assert.Equal(t, "Active", b.text(`#mollie [data-status]`))
	links := d.fakeMollie.ClientLinks()
	require.Len(t, links, 1)
	assert.Equal(t, "Bakkerij Jansen", links[0].Name)
	assert.Equal(t, links[0].AccountID, b.text(`#mollie .account-id`))
	assert.Equal(t, "Signed up Bakkerij Jansen via a client link: its new Mollie organization ("+links[0].AccountID+") is connected.", b.text(`#notice`))
	b.screenshot("signed-up.png")

	b.click("refresh Qonto now", `#qonto button.refresh`)
	assert.Regexp(t, `^Token refreshed: Qonto's new token is valid until \d{4}-\d\d-\d\d \d\d:\d\d UTC \(in (59 min|1 h 0 min)\)\.$`, b.text(`#notice`))
	b.screenshot("refreshed.png")

	b.click("open the sandbox Qonto's connected applications", `#qonto-consents`)
	assert.Equal(t, "localhost", mustParse(t, b.location()).Hostname(), "the merchant's side is the provider's site")
	b.click("revoke the demo's access, as the merchant", `button.revoke`)
	assert.Contains(t, b.text(`#revoked`), "Access revoked for Sandbox Company 2")
	assert.Contains(t, b.text(`#revoked`), "/webhooks/qonto: answered 204", "the signed webhook reached the demo")
	b.screenshot("revoked-at-qonto.png")
	b.click("back to the demo", `a[href="`+d.URL+`/"]`)
	assert.Equal(t, "Revoked by the merchant", b.text(`#qonto [data-status]`))
	b.screenshot("revoked.png")

	b.click("the operator view", `header a[href="/operator"]`)
	assert.Equal(t, "The fleet: every user's connections", b.text(`main h1`))
	assert.Equal(t, "OPERATOR VIEW", b.text(`.badge.operator`), "labelled (upper-cased by its style)")
	assert.Equal(t, "1", b.text(`#op-qonto dd[data-count="revoked"]`))
	assert.Equal(t, "1", b.text(`#op-mollie dd[data-count="active"]`))
	assert.Contains(t, b.text(`#op-qonto .keeper`), "Last pass")
	b.screenshot("operator.png")

	// A restart on the same SQLite file: the sandbox is where it was and
	// remembers its grants.
	stop()
	d, stop = runDemoAt(t, cfg)
	b.navigate("the dashboard after a restart", d.URL+"/")
	assert.Equal(t, "Active", b.text(`#mollie [data-status]`))
	b.click("refresh Mollie after the restart", `#mollie button.refresh`)
	assert.True(t, strings.HasPrefix(b.text(`#notice`), "Token refreshed: Mollie's new token is valid until"), b.text(`#notice`))
	b.screenshot("after-restart.png")
	b.click("remove the revoked Qonto connection", `#qonto button.danger`)
	assert.Equal(t, "Removed the connection to "+q2.AccountID+": the merchant had already revoked it at Qonto.", b.text(`#notice`),
		"a new process has not read that organization's name")
	assert.Equal(t, "Not connected", b.text(`#qonto [data-status]`))

	// A restart that lost the sandbox's state: the dashboard says so, and
	// the connection needs a reconnect instead of claiming to be active.
	stop()
	for _, p := range []string{"mollie", "qonto"} {
		require.NoError(t, os.Remove(filepath.Join(dir, "demo.db.sandbox."+p+".json")))
	}
	d, _ = runDemoAt(t, cfg)
	b.navigate("the dashboard after losing the sandbox's state", d.URL+"/")
	assert.Contains(t, b.text(`#sandbox-lost`), "The sandbox Mollie started without its saved state")
	assert.Equal(t, "Needs reconnect", b.text(`#mollie [data-status]`))
	b.screenshot("sandbox-lost.png")
	b.click("reconnect Mollie", `#connect-mollie`)
	b.click("approve at the new sandbox Mollie", `button[value="approve"]`)
	assert.Equal(t, "Active", b.text(`#mollie [data-status]`))
	assert.True(t, strings.HasPrefix(b.text(`#notice`), "Reconnected: now linked to Test Organization 1 (org_1) instead of "+links[0].AccountID), b.text(`#notice`))
	b.screenshot("dashboard.png")

	list, err := d.store0().List(t.Context(), "ada.lovelace")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "mollie", list[0].Provider)
}

// chromium is one headless Chromium tab with bounded steps.
type chromium struct {
	t   *testing.T
	ctx context.Context
}

// startChromium launches Chromium with a fresh profile; the browser, its
// profile and every context end with the test.
func startChromium(t *testing.T) *chromium {
	t.Helper()
	profile, err := os.MkdirTemp("", "demo-chromium-*")
	require.NoError(t, err)
	t.Cleanup(func() { removeProfile(t, profile) })

	// The whole browser's life is bounded; each step has its own bound.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 1000),
	)
	t.Cleanup(cancelAlloc) // waits for the browser process to exit
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	// Start the browser on the unbounded context: a step's timeout must
	// not become the browser's.
	require.NoError(t, chromedp.Do(browserCtx), "starting Chromium")
	return &chromium{t: t, ctx: browserCtx}
}

// removeProfile deletes the profile; Chromium's helper processes may still
// be writing to it for a moment after the browser exits, so it tries a
// bounded number of times.
func removeProfile(t *testing.T, dir string) {
	var err error
	for range 50 {
		if err = os.RemoveAll(dir); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("leaving the Chromium profile %s: %v", dir, err)
}

func (c *chromium) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.ctx, 30*time.Second)
}

// do runs actions that stay on the page.
func (c *chromium) do(name string, actions ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	ctx, cancel := c.step()
	defer cancel()
	require.NoError(c.t, chromedp.Do(ctx, actions...), "step %q", name)
}

// navigate opens u and requires a 200 page.
func (c *chromium) navigate(name, u string) {
	c.t.Helper()
	ctx, cancel := c.step()
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(u))
	require.NoError(c.t, err, "step %q", name)
	require.EqualValues(c.t, http.StatusOK, resp.Status, "step %q", name)
}

// click clicks the element that sel matches, waits for the page it leads
// to (after any redirects) and requires it to answer 200.
func (c *chromium) click(name, sel string) {
	c.t.Helper()
	c.clickStatus(name, sel, http.StatusOK)
}

// clickStatus is click for a page answering status.
func (c *chromium) clickStatus(name, sel string, status int) {
	c.t.Helper()
	ctx, cancel := c.step()
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	require.NoError(c.t, err, "step %q", name)
	require.EqualValues(c.t, status, resp.Status, "step %q answered %d at %s", name, resp.Status, resp.URL)
}

// text returns the visible text of the first element sel matches.
func (c *chromium) text(sel string) string {
	c.t.Helper()
	ctx, cancel := c.step()
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(c.t, err, "text of %s", sel)
	return s
}

func (c *chromium) location() string {
	c.t.Helper()
	ctx, cancel := c.step()
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(c.t, err)
	return s
}

// screenshot writes the whole page to DEMO_SCREENSHOT_DIR or a temporary
// directory.
func (c *chromium) screenshot(name string) {
	c.t.Helper()
	ctx, cancel := c.step()
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(c.t, err)
	dir := os.Getenv("DEMO_SCREENSHOT_DIR")
	if dir == "" {
		dir = c.t.TempDir()
	}
	path := filepath.Join(dir, name)
	require.NoError(c.t, os.WriteFile(path, png, 0o644))
	c.t.Logf("screenshot: %s", path)
}
