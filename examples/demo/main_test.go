package main

import (
	"testing"

	"github.com/oauthlink/oauthlink/internal/testutil"
	"go.uber.org/goleak"
)

// TestMain fails the run if a goroutine outlives the tests: servers,
// fakes, stores, clients and the browser must all be shut down.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(testutil.ReportingM{M: m})
}
