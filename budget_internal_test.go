package oauthlink

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFlowBudgetCounts(t *testing.T) {
	var b flowBudget
	t0 := time.Unix(1_700_000_000, 0)
	life := 11 * time.Minute
	for i := range 3 {
		require.True(t, b.take("a", t0.Add(time.Duration(i)*time.Minute), t0.Add(time.Duration(i)*time.Minute+life), 3), "take %d", i)
	}
	assert.False(t, b.take("a", t0.Add(3*time.Minute), t0.Add(3*time.Minute+life), 3), "over the limit")
	assert.True(t, b.take("b", t0.Add(3*time.Minute), t0.Add(3*time.Minute+life), 3), "another owner is unaffected")

	b.give("a") // the guard kept nothing for the last one
	assert.True(t, b.take("a", t0.Add(4*time.Minute), t0.Add(4*time.Minute+life), 3))
	assert.False(t, b.take("a", t0.Add(4*time.Minute), t0.Add(4*time.Minute+life), 3))

	// The count starts again only once every counted record expired: the
	// last one taken at +4 min expires at +15 min.
	assert.False(t, b.take("a", t0.Add(15*time.Minute-time.Nanosecond), t0.Add(26*time.Minute), 3))
	assert.True(t, b.take("a", t0.Add(15*time.Minute), t0.Add(26*time.Minute), 3))
	b.give("nobody") // harmless
}

// The bookkeeping stays bounded: owners whose records all expired are
// swept as new owners arrive, so the map holds about the owners with a
// live record, not every owner ever seen.
func TestFlowBudgetSweepsExpiredOwners(t *testing.T) {
	var b flowBudget
	t0 := time.Unix(1_700_000_000, 0)
	life := 11 * time.Minute
	const n = 10_000
	for i := range n {
		require.True(t, b.take("old-"+strconv.Itoa(i), t0, t0.Add(life), 1))
	}
	assert.Equal(t, n, b.size())
	t1 := t0.Add(life)
	for i := range n {
		require.True(t, b.take("new-"+strconv.Itoa(i), t1, t1.Add(life), 1))
		require.LessOrEqual(t, b.size(), 2*n+minBudgetSweep)
	}
	assert.Equal(t, n, b.size(), "only the live owners are left")
	for k := range b.owners {
		require.Contains(t, k, "new-")
	}
}
