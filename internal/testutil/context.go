package testutil

import (
	"context"
	"testing"
	"time"
)

// ContextTimeout bounds the contexts Context returns.
const ContextTimeout = 30 * time.Second

// Context returns t's context bounded by ContextTimeout, so that a hung
// store call fails the test instead of the run. It is cancelled at
// cleanup.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), ContextTimeout)
	t.Cleanup(cancel)
	return ctx
}

// Canceled returns a context derived from ctx that is already cancelled.
func Canceled(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	cancel()
	return ctx
}
