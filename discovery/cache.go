package discovery

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/oauthlink/oauthlink"
)

// A Cache fetches issuers' metadata and keeps each document for the time
// the refresh policy allows (see the package documentation: fresh for at
// most Options.MaxAge, served stale for Options.StaleIfError when a
// refresh fails, never caching a failure). Create it with NewCache; it is
// safe for concurrent use.
type Cache struct {
	opts    Options
	flights singleflight.Group
	mu      sync.Mutex
	entries map[string]*entry
}

// entry is one issuer's last good document.
type entry struct {
	md      *Metadata
	expires time.Time // fresh until
	retryAt time.Time // after a failed refresh: no new fetch before
}

// NewCache returns an empty Cache with opts.
func NewCache(opts Options) *Cache {
	return &Cache{opts: opts.withDefaults(), entries: map[string]*entry{}}
}

// Provider returns the oauthlink.Provider the issuer's metadata describes,
// named name, from the cache or a fetch. Errors: those of the package's
// Provider, and ctx's.
func (c *Cache) Provider(ctx context.Context, name, issuer string) (oauthlink.Provider, error) {
	m, err := c.metadata(ctx, issuer)
	if err != nil {
		return oauthlink.Provider{}, err
	}
	return m.provider(name, c.opts.AuthStyle)
}

// Metadata returns a copy of the issuer's metadata, from the cache or a
// fetch. Errors: those of Fetch, and ctx's.
func (c *Cache) Metadata(ctx context.Context, issuer string) (*Metadata, error) {
	m, err := c.metadata(ctx, issuer)
	if err != nil {
		return nil, err
	}
	return m.clone(), nil
}

// metadata returns the cached document (shared: never modified) or
// fetches it.
func (c *Cache) metadata(ctx context.Context, issuer string) (*Metadata, error) {
	now := c.opts.Now()
	c.mu.Lock()
	e := c.entries[issuer]
	// Fresh, or stale within StaleIfError and a refresh failed less than
	// a minute ago (retryAt is set only then).
	usable := e != nil && (now.Before(e.expires) || now.Before(e.retryAt))
	c.mu.Unlock()
	if usable {
		return e.md, nil
	}
	// One fetch per issuer at a time. It runs without the caller's
	// cancellation (bounded by Options.Timeout), so one caller giving up
	// does not fail the others that wait for it.
	ch := c.flights.DoChan(issuer, func() (any, error) {
		return c.refresh(context.WithoutCancel(ctx), issuer)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*Metadata), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// refresh fetches the issuer's document and records the outcome.
func (c *Cache) refresh(ctx context.Context, issuer string) (*Metadata, error) {
	m, age, err := fetch(ctx, issuer, c.opts)
	now := c.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		if _, ok := c.entries[issuer]; !ok && len(c.entries) >= maxEntries {
			c.evict(now)
		}
		c.entries[issuer] = &entry{md: m, expires: now.Add(max(age, minAge))}
		return m, nil
	}
	old := c.entries[issuer]
	if old != nil && c.opts.StaleIfError > 0 && now.Before(old.expires.Add(c.opts.StaleIfError)) {
		// Serve the last good document, and ask again in a minute (never
		// past the end of the stale window).
		old.retryAt = now.Add(minAge)
		if end := old.expires.Add(c.opts.StaleIfError); end.Before(old.retryAt) {
			old.retryAt = end
		}
		return old.md, nil
	}
	if old != nil {
		delete(c.entries, issuer)
	}
	return nil, err
}

// maxEntries bounds the issuers a Cache keeps, so issuers that come and
// go (or come from input) cannot grow it without limit.
const maxEntries = 1024

// evict makes room for one entry: it drops every entry past its stale
// window and, when none is, the one that expires first.
func (c *Cache) evict(now time.Time) {
	var first string
	for issuer, e := range c.entries {
		if !now.Before(e.expires.Add(max(c.opts.StaleIfError, 0))) {
			delete(c.entries, issuer)
			continue
		}
		if first == "" || e.expires.Before(c.entries[first].expires) {
			first = issuer
		}
	}
	if len(c.entries) >= maxEntries {
		delete(c.entries, first)
	}
}

// freshness is how long a response may be kept by its Cache-Control
// (RFC 9111 §5.2.2): max-age less Age; 0 for no-store or no-cache;
// unbounded without either (Options.MaxAge then decides).
func freshness(h http.Header) time.Duration {
	maxAge := time.Duration(math.MaxInt64)
	for _, line := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(line, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(name) {
			case "no-store", "no-cache":
				return 0
			case "max-age":
				n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
				if errors.Is(err, strconv.ErrRange) && n > 0 {
					n = 1 << 31 // too large: 2^31 seconds (RFC 9111 §1.2.2)
				} else if err != nil || n < 0 {
					return 0 // malformed: treat as stale (RFC 9111 §4.2.1)
				}
				maxAge = min(maxAge, time.Duration(min(n, math.MaxInt64/int64(time.Second)))*time.Second)
			}
		}
	}
	if maxAge == time.Duration(math.MaxInt64) {
		return maxAge
	}
	if age, err := strconv.ParseInt(h.Get("Age"), 10, 64); err == nil && age > 0 {
		maxAge -= min(maxAge, time.Duration(min(age, math.MaxInt64/int64(time.Second)))*time.Second)
	}
	return maxAge
}
