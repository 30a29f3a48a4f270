package main

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/oauthlink/oauthlink/examples/internal/flowtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestFlows runs each provider's whole flow on the gorilla/mux router against the
// fakes: start, the fake's consent, callback, the Require-protected API
// route, disconnect.
func TestFlows(t *testing.T) { flowtest.RouterFlows(t, newRouter) }
