package integration_test

import (
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store"
)

const (
	stormInstances = 4
	stormCallers   = 50 // concurrent Fresh calls per instance and expiry
	stormRounds    = 5  // expiries
	tokenLifetime  = 5 * time.Minute
)

// instanceName is a name unique to this run, so that killing an instance's
// connections never touches another test's.
func instanceName(role string) string {
	return "oauthlink-itest-" + role + "-" + strings.ToLower(rand.Text()[:8])
}

// TestManyInstances (issue 5 item 6; security.md H28): four instances, each
// with its own pool or client and its own Connector, share one PostgreSQL
// schema or one Redis prefix and one connection at Qonto with Hydra's rules
// and no grace window, so a refresh token presented twice revokes the whole
// grant. For each of several expiries, 4 × 50 concurrent Fresh calls must
// cost exactly one refresh, all succeed with the one new token, never
// trigger reuse detection, and leave every instance on the stored token.
// The encrypted variants run the same on an encrypting store and check the
// store holds only ciphertext.
func TestManyInstances(t *testing.T) {
	for _, k := range backendKinds {
		for _, encrypt := range []bool{false, true} {
			name := k.name
			if encrypt {
				name += "+encrypted"
			}
			t.Run(name, func(t *testing.T) { testStorm(t, k.new(t), encrypt) })
		}
	}
}

func testStorm(t *testing.T, be *backend, encrypt bool) {
	c := newCluster(t, be, clusterOptions{
		qonto:   oauthlinktest.QontoOptions{Grace: oauthlinktest.NoGrace, AccessTokenLifetime: tokenLifetime},
		encrypt: encrypt,
	})
	insts := make([]*instance, stormInstances)
	for i := range insts {
		insts[i] = c.instance(instanceName(fmt.Sprintf("storm%d", i)), "")
	}
	prev := c.connect(insts[0])
	began := time.Now()
	for round := 1; round <= stormRounds; round++ {
		c.clk.Advance(tokenLifetime) // the stored token has just expired
		gate := make(chan struct{})
		tokens := make([]string, stormInstances*stormCallers)
		errs := make([]error, len(tokens))
		var wg sync.WaitGroup
		for i, inst := range insts {
			for j := range stormCallers {
				n := i*stormCallers + j
				wg.Go(func() {
					<-gate
					conn, err := fresh(inst)
					errs[n] = err
					if err == nil {
						tokens[n] = conn.AccessToken.Reveal()
					}
				})
			}
		}
		close(gate)
		wg.Wait()

		stored, err := c.stored(insts[0])
		require.NoError(t, err)
		for n := range tokens {
			require.NoError(t, errs[n], "round %d, instance %d, caller %d", round, n/stormCallers, n%stormCallers)
			require.Equal(t, stored.AccessToken.Reveal(), tokens[n], "round %d: every caller gets the stored token", round)
		}
		require.NotEqual(t, prev.AccessToken, stored.AccessToken, "round %d rotated", round)
		require.Equal(t, round, c.qonto.Refreshes(), "exactly one refresh per rotation")
		require.Zero(t, c.qonto.ReuseDetections(), "round %d", round)
		require.Equal(t, prev.Version+1, stored.Version, "one write per rotation")
		require.Equal(t, store.StatusActive, stored.Status)
		assert.True(t, c.qonto.AccessTokenValid(stored.AccessToken.Reveal()))
		assert.True(t, c.qonto.RefreshTokenValid(stored.RefreshToken.Reveal()))
		assert.False(t, c.qonto.RefreshTokenValid(prev.RefreshToken.Reveal()), "grace 0: the rotated token is dead")
		assert.Equal(t, 1, c.qonto.Presented(prev.RefreshToken.Reveal()), "each refresh token spent once")
		prev = stored
	}
	elapsed := time.Since(began)

	// Every instance ends on the stored token, without another refresh.
	for _, inst := range insts {
		conn, err := fresh(inst)
		require.NoError(t, err)
		assert.Equal(t, prev.AccessToken, conn.AccessToken, "instance %s", inst.name)
		assert.Equal(t, prev.RefreshToken, conn.RefreshToken, "instance %s", inst.name)
	}
	assert.Equal(t, stormRounds, c.qonto.Refreshes())
	assert.Zero(t, c.qonto.ReuseDetections())
	assert.Equal(t, 1, c.qonto.Exchanges())

	raw, err := be.inspect.Load(testContext(t), provider, owner)
	require.NoError(t, err)
	if encrypt {
		for field, v := range map[string]store.Secret{"access": raw.AccessToken, "refresh": raw.RefreshToken} {
			assert.True(t, strings.HasPrefix(v.Reveal(), "olk2:k1:"), "%s token is stored encrypted", field)
		}
		assert.NotContains(t, raw.AccessToken.Reveal(), prev.AccessToken.Reveal())
	} else {
		assert.Equal(t, prev.RefreshToken, raw.RefreshToken)
	}
	t.Logf("%s encrypt=%v: %d rounds × %d instances × %d callers in %v; refreshes=%d reuse=%d exchanges=%d version=%d",
		be.name, encrypt, stormRounds, stormInstances, stormCallers, elapsed.Round(time.Millisecond),
		c.qonto.Refreshes(), c.qonto.ReuseDetections(), c.qonto.Exchanges(), prev.Version)
}
