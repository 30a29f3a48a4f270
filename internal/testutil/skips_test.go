package testutil

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSkipUnavailable: each skipped test is counted under its reason, and
// the summary names the package, the count and the reason, one line per
// reason.
func TestSkipUnavailable(t *testing.T) {
	for i := range 3 {
		t.Run(fmt.Sprint("needs-postgres-", i), func(t *testing.T) {
			SkipUnavailable(t, "PostgreSQL unreachable (set OAUTHLINK_TEST_POSTGRES)")
			t.Fatal("not skipped")
		})
	}
	t.Run("needs-chromium", func(t *testing.T) {
		SkipUnavailable(t, "no Chromium\n\t(apt-get install chromium)")
		t.Fatal("not skipped")
	})
	pkg := packageName()
	require.Equal(t, "github.com/oauthlink/oauthlink/internal/testutil", pkg)
	require.Equal(t, []string{
		"SKIPPED " + pkg + ": 1 test: no Chromium (apt-get install chromium)",
		"SKIPPED " + pkg + ": 3 tests: PostgreSQL unreachable (set OAUTHLINK_TEST_POSTGRES)",
	}, skipLines(pkg))
}

// TestFleetSize: the default without the variable, the value with it.
func TestFleetSize(t *testing.T) {
	t.Setenv(FleetEnv, "")
	require.Equal(t, 20_000, FleetSize(t, 20_000, 200))
	t.Setenv(FleetEnv, "100000")
	require.Equal(t, 100_000, FleetSize(t, 20_000, 200))
}
