package oauthlink_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// An owner who keeps sending callbacks that reach the exchange (here with
// made-up codes) is refused once it has MaxFlowsPerOwner states recorded,
// before its state is recorded or a code is sent; other owners are
// unaffected, and the owner can connect again once its states expired.
// Replays, which record nothing, do not count.
func TestFlowBudgetPerOwner(t *testing.T) {
	e := newEnv(t)
	p := newInProcess(t, e, "mollie")

	state, cookie := p.flow("mallory")
	status, _ := p.call("code=made_up&state="+state, cookie)
	require.Equal(t, http.StatusBadGateway, status, "%v", e.lastErr())
	for range oauthlink.MaxFlowsPerOwner + 5 {
		status, _ := p.call("code=made_up&state="+state, cookie)
		require.Equal(t, http.StatusBadRequest, status)
		require.ErrorIs(t, e.lastErr(), oauthlink.ErrStateReplayed)
	}
	for i := 1; i < oauthlink.MaxFlowsPerOwner; i++ {
		state, cookie := p.flow("mallory")
		status, _ := p.call("code=made_up&state="+state, cookie)
		require.Equal(t, http.StatusBadGateway, status, "flow %d: %v", i, e.lastErr())
	}
	exchanges := e.mollie.Exchanges()
	require.Equal(t, oauthlink.MaxFlowsPerOwner, exchanges)

	state, cookie = p.flow("mallory")
	status, cleared := p.call("code=made_up&state="+state, cookie)
	assert.Equal(t, http.StatusTooManyRequests, status)
	assert.True(t, cleared, "the flow cookie is cleared")
	assert.ErrorIs(t, e.lastErr(), oauthlink.ErrTooManyFlows)
	assert.Equal(t, http.StatusTooManyRequests, oauthlink.HTTPStatus(e.lastErr()))
	assert.Equal(t, exchanges, e.mollie.Exchanges(), "no code sent")

	h := e.browser("shop-2").connect("mollie", "")
	assert.Equal(t, http.StatusSeeOther, h.Status, "another owner is unaffected")

	// Inside the flow's lifetime, the budget has not come back yet ...
	e.clk.Advance(9 * time.Minute)
	state, cookie = p.flow("mallory")
	status, _ = p.call("code=made_up&state="+state, cookie)
	assert.Equal(t, http.StatusTooManyRequests, status)
	// ... once every recorded state expired it has.
	e.clk.Advance(2*time.Minute + time.Second)
	h = e.browser("mallory").connect("mollie", "")
	assert.Equal(t, http.StatusSeeOther, h.Status, "%v", e.lastErr())
}

// The Connector enforces the budget before it calls the guard, so it holds
// whatever guard the store offers (here one of the app's own).
func TestFlowBudgetAppliesToEveryGuard(t *testing.T) {
	g := &countingGuard{ReplayGuard: memstore.New()}
	e := newEnv(t, withStore(struct {
		store.TokenStore
		*countingGuard
	}{memstore.New(), g}))
	p := newInProcess(t, e, "qonto")
	for range oauthlink.MaxFlowsPerOwner {
		state, cookie := p.flow("mallory")
		status, _ := p.call("code=made_up&state="+state, cookie)
		require.Equal(t, http.StatusBadGateway, status)
	}
	state, cookie := p.flow("mallory")
	status, _ := p.call("code=made_up&state="+state, cookie)
	assert.Equal(t, http.StatusTooManyRequests, status)
	assert.ErrorIs(t, e.lastErr(), oauthlink.ErrTooManyFlows)
	assert.Equal(t, int64(oauthlink.MaxFlowsPerOwner), g.calls.Load(), "the refused callback never reached the guard")
}
