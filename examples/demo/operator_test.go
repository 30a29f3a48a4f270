package main

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/oauthlinktest"
)

// TestOperatorPage (issue 16 item 6): every user's connections with the
// status counts, the pending revocations, and what the keeper did last.
func TestOperatorPage(t *testing.T) {
	d := startDemo(t, nil)
	select { // the pass at start is over: it cannot take the pending revocation below
	case <-d.keepersStarted:
	case <-testContext(t).Done():
		t.Fatal("the keepers' first passes did not end")
	}
	alice, bob := newBrowser(t), newBrowser(t)
	alice.login(d, "alice")
	bob.login(d, "bob")
	alice.connect(d, "qonto")
	bob.connect(d, "qonto")
	bob.connect(d, "mollie")
	// Bob's Qonto disconnect is not confirmed by Qonto: pending.
	d.fakeQonto.Fault(oauthlinktest.EndpointRevoke, oauthlinktest.Fault{Status: http.StatusBadRequest,
		Body: `{"error":"invalid_request"}`, ContentType: "application/json"})
	p := bob.post(d.URL+"/connections/qonto/disconnect", nil, true)
	require.Equal(t, http.StatusBadGateway, p.Status)

	p = alice.get(d.URL + "/operator")
	require.Equal(t, http.StatusOK, p.Status)
	assert.Equal(t, "no-store", p.Header.Get("Cache-Control"))
	assert.Contains(t, p.Body, `<p class="badge operator">Operator view</p>`)
	assert.Contains(t, p.Body, `Logged in as <strong id="user">alice</strong>`)
	qonto := opSection(t, p.Body, "qonto")
	assert.Contains(t, qonto, `<dt>Active</dt><dd data-count="active">1</dd>`)
	assert.Contains(t, qonto, `<dt>Disconnected — revocation pending</dt><dd data-count="disconnected">1</dd>`)
	assert.Contains(t, opSection(t, p.Body, "mollie"), `<dt>Active</dt><dd data-count="active">1</dd>`)
	pending := regexp.MustCompile(`(?s)<table id="pending">.*?</table>`).FindString(p.Body)
	assert.Contains(t, pending, "<td>qonto</td><td>bob</td>")
	all := regexp.MustCompile(`(?s)<table id="connections">.*?</table>`).FindString(p.Body)
	assert.Contains(t, all, "<td>qonto</td><td>alice</td>")
	assert.Contains(t, all, "<td>mollie</td><td>bob</td>")

	// A keeper pass now completes the pending revocation (the fault was
	// used up), and the page says what it did.
	p = alice.post(d.URL+"/operator/keeper", nil, true)
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	assert.Equal(t, "/operator", p.URL.Path)
	assert.Equal(t, "Keeper pass done: 0 connections refreshed, 0 connections now needing a reconnect, 1 pending revocation completed, 0 failures.", noticeOf(p.Body))
	assert.Regexp(t, `<p class="keeper">Last pass \d{4}-\d\d-\d\d \d\d:\d\d UTC \(just now\): checked 1, refreshed 0, already fresh 0, now needing a reconnect 0, pending revocations completed 1\.</p>`, opSection(t, p.Body, "qonto"))
	assert.Contains(t, p.Body, `id="no-pending"`)
	_, err := d.store0().Load(t.Context(), "qonto", "bob")
	assert.Error(t, err, "the record is gone once revoked")

	// Logged out: the login form.
	p = newBrowser(t).getNoFollow(d.URL + "/operator")
	assert.Equal(t, http.StatusSeeOther, p.Status)
}

func opSection(t *testing.T, body, provider string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<section class="card" id="op-` + provider + `">.*?</section>`).FindString(body)
	require.NotEmpty(t, m, "no %s section", provider)
	return m
}
