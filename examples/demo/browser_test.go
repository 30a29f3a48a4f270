package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chromiumPath is Debian's Chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// TestBrowser drives the demo with headless Chromium, as a newcomer would:
// log in, connect Qonto through the sandbox consent page, sign a merchant
// up with a Mollie client link, disconnect, connect Mollie again through
// its consent page. The demo is on 127.0.0.1 and the fakes' consent pages
// on localhost, so each return to the callback is a cross-site navigation:
// it lands on the dashboard only if the SameSite=Lax login and flow cookies
// survive it (a cookie jar ignores SameSite; a browser does not).
//
// Set DEMO_SCREENSHOT_DIR to keep the dashboard screenshot; by default it
// goes to a temporary directory.
func TestBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs Chromium at %s (.ci/run installs Debian's chromium package): %v", chromiumPath, err)
		}
		t.Skipf("skipping the browser test: no Chromium at %s (apt-get install chromium)", chromiumPath)
	}
	d := startDemo(t, nil)
	b := startChromium(t)

	b.navigate("the login page", d.URL+"/")
	b.do("log in",
		chromedp.SendKeys(chromedp.CSS(`input#user`), "alice"),
	)
	b.click("submit the login form", `form[action="/login"] button`)
	assert.Equal(t, "alice", b.text(`strong#user`))
	assert.Equal(t, d.URL+"/", b.location())

	b.click("connect Qonto", `#connect-qonto`)
	assert.Equal(t, "localhost", mustParse(t, b.location()).Hostname(), "the consent page is another site")
	b.click("approve at the sandbox Qonto", `button[value="approve"]`)
	assert.Equal(t, d.URL+"/", b.location(), "back on the dashboard")
	assert.Equal(t, "Active", b.text(`#qonto [data-status]`))
	q, err := d.store0().Load(t.Context(), "qonto", "alice")
	require.NoError(t, err)
	assert.Equal(t, q.AccountID, b.text(`#qonto dl dd code`))

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
	assert.Equal(t, links[0].AccountID, b.text(`#mollie dl dd code`))

	b.screenshot("dashboard.png")

	b.click("disconnect Qonto", `#qonto button.danger`)
	assert.Equal(t, "Not connected", b.text(`#qonto [data-status]`))
	assert.False(t, d.fakeQonto.RefreshTokenValid(q.RefreshToken.Reveal()), "revoked at Qonto")

	b.click("disconnect Mollie", `#mollie button.danger`)
	assert.Equal(t, "Not connected", b.text(`#mollie [data-status]`))
	b.click("connect Mollie", `#mollie .actions a.button`)
	assert.Equal(t, "localhost", mustParse(t, b.location()).Hostname())
	b.click("approve at the sandbox Mollie", `button[value="approve"]`)
	assert.Equal(t, d.URL+"/", b.location())
	assert.Equal(t, "Active", b.text(`#mollie [data-status]`))

	list, err := d.store0().List(t.Context(), "alice")
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
