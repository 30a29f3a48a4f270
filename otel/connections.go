package oauthlinkotel

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/oauthlink/oauthlink/store"
)

// ConnectionsOptions bounds the scans of ObserveConnections.
type ConnectionsOptions struct {
	// MaxConnections is the most connections one count may page through.
	// A store holding more is not counted (the gauge reports nothing
	// rather than a partial count). Default 10000.
	MaxConnections int
	// Timeout bounds one count. Default 5 seconds.
	Timeout time.Duration
	// Interval is how long a count is reused before the store is scanned
	// again, whatever the reader's collection interval. Default 5 minutes.
	Interval time.Duration
}

// counter pages through a Scanner and remembers the last count.
type counter struct {
	scanner  store.Scanner
	provider string
	opts     ConnectionsOptions
	now      func() time.Time

	mu     sync.Mutex
	at     time.Time
	counts map[store.Status]int64
}

// ObserveConnections registers oauthlink.connections, an observable gauge
// of the provider's stored connections by status (oauthlink.status: active,
// reauth_required, disconnected, revoked), counted by paging through s's
// Scan within opts' budget. A count that fails or exceeds the budget is
// not reported. Unregister the returned Registration to stop.
func (t *Telemetry) ObserveConnections(s store.Scanner, opts ConnectionsOptions) (metric.Registration, error) {
	if s == nil {
		return nil, fmt.Errorf("oauthlinkotel: ObserveConnections needs a store.Scanner")
	}
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = 10000
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Interval <= 0 {
		opts.Interval = 5 * time.Minute
	}
	c := &counter{scanner: s, provider: t.provider, opts: opts, now: time.Now}
	gauge, err := t.meter.Int64ObservableGauge(MetricConnections,
		metric.WithDescription("Stored connections of the provider, by status."),
		metric.WithUnit("{connection}"))
	if err != nil {
		return nil, fmt.Errorf("oauthlinkotel: %s: %w", MetricConnections, err)
	}
	return t.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		counts, err := c.get(ctx)
		if err != nil {
			return err
		}
		for _, st := range statuses {
			o.ObserveInt64(gauge, counts[st], metric.WithAttributes(t.provAttr, AttrStatus.String(string(st))))
		}
		return nil
	}, gauge)
}

var statuses = []store.Status{store.StatusActive, store.StatusReauthRequired, store.StatusDisconnected, store.StatusRevoked}

// get returns the last count if it is recent, else counts again.
func (c *counter) get(ctx context.Context) (map[store.Status]int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts != nil && c.now().Sub(c.at) < c.opts.Interval {
		return c.counts, nil
	}
	counts, err := c.count(ctx)
	if err != nil {
		return nil, err
	}
	c.counts, c.at = counts, c.now()
	return counts, nil
}

// count pages through the provider's connections, at most
// MaxConnections of them, within Timeout.
func (c *counter) count(ctx context.Context) (map[store.Status]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	counts := make(map[store.Status]int64, len(statuses))
	q := store.Query{Provider: c.provider, Limit: min(c.opts.MaxConnections, 1000)}
	seen := 0
	for {
		page, err := c.scanner.Scan(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("oauthlinkotel: counting connections: %s", ErrorClass(err))
		}
		for _, conn := range page.Connections {
			counts[conn.Status]++
		}
		seen += len(page.Connections)
		if page.Next == "" {
			return counts, nil
		}
		if seen >= c.opts.MaxConnections {
			return nil, fmt.Errorf("oauthlinkotel: more than %d connections to count", c.opts.MaxConnections)
		}
		q.Cursor = page.Next
	}
}
