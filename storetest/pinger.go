package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/oauthlink/oauthlink/store"
)

func (s suite) testPinger(t *testing.T) {
	p, ok := s.store(t).(store.Pinger)
	if !ok {
		t.Skip("store does not implement store.Pinger")
	}
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	assert.NoError(t, p.Ping(ctx), "Ping of a live store")
}
