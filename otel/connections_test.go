package oauthlinkotel_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	oauthlinkotel "github.com/oauthlink/oauthlink/otel"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// countingScanner counts Scan calls.
type countingScanner struct {
	store.Scanner
	scans atomic.Int64
}

func (c *countingScanner) Scan(ctx context.Context, q store.Query) (store.Page, error) {
	c.scans.Add(1)
	return c.Scanner.Scan(ctx, q)
}

func seed(t *testing.T, st *memstore.Store, provider string, n int, status store.Status) {
	t.Helper()
	for i := range n {
		require.NoError(t, st.Save(context.Background(), &store.Connection{
			Provider: provider, Owner: fmt.Sprintf("%s-%s-%d", provider, status, i), Status: status,
			AccessToken: "at", TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}))
	}
}

func gauge(t *testing.T, s *sink) map[attribute.Distinct]int64 {
	t.Helper()
	m, ok := s.collect()[oauthlinkotel.MetricConnections]
	if !ok {
		return nil
	}
	g, ok := m.Data.(metricdata.Gauge[int64])
	require.True(t, ok, "%T", m.Data)
	out := map[attribute.Distinct]int64{}
	for _, dp := range g.DataPoints {
		out[dp.Attributes.Equivalent()] = dp.Value
	}
	return out
}

func TestObserveConnections(t *testing.T) {
	st := memstore.New()
	seed(t, st, "acme", 5, store.StatusActive)
	seed(t, st, "acme", 2, store.StatusReauthRequired)
	seed(t, st, "acme", 1, store.StatusRevoked)
	seed(t, st, "other", 3, store.StatusActive)
	sc := &countingScanner{Scanner: st}
	s := newSink(t, testProvider)
	reg, err := s.tel.ObserveConnections(sc, oauthlinkotel.ConnectionsOptions{MaxConnections: 20})
	require.NoError(t, err)

	acme := oauthlinkotel.AttrProvider.String("acme")
	status := func(st store.Status) attribute.Distinct {
		return set(acme, oauthlinkotel.AttrStatus.String(string(st)))
	}
	want := map[attribute.Distinct]int64{
		status(store.StatusActive): 5, status(store.StatusReauthRequired): 2,
		status(store.StatusDisconnected): 0, status(store.StatusRevoked): 1,
	}
	require.Equal(t, want, gauge(t, s))
	scans := sc.scans.Load()
	require.Equal(t, want, gauge(t, s), "the count is reused within the interval")
	require.Equal(t, scans, sc.scans.Load())
	require.NoError(t, reg.Unregister())
}

func TestObserveConnectionsBudget(t *testing.T) {
	st := memstore.New()
	seed(t, st, "acme", 12, store.StatusActive)
	sc := &countingScanner{Scanner: st}
	s := newSink(t, testProvider)
	_, err := s.tel.ObserveConnections(sc, oauthlinkotel.ConnectionsOptions{MaxConnections: 5})
	require.NoError(t, err)
	s.tolerateErrors = true
	require.Empty(t, gauge(t, s), "no partial count")
	require.ErrorContains(t, s.collectErr, "more than 5 connections")
	require.Equal(t, int64(1), sc.scans.Load(), "one page of 5, then the budget is spent")
}
