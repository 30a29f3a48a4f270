package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/oauthlink/oauthlink/store"
)

func (s suite) testPinger(t *testing.T) {
	p := capability[store.Pinger](t, s.store(t))
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	assert.NoError(t, p.Ping(ctx), "Ping of a live store")
}
