package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oauthlink/oauthlink/store"
)

// DefaultPrefix is the default Options.Prefix.
const DefaultPrefix = "oauthlink:"

// DefaultWaitTimeout is the default Options.WaitTimeout.
const DefaultWaitTimeout = time.Second

// releaseTimeout bounds unlock, which has no context of its own.
const releaseTimeout = 5 * time.Second

// ErrNotReplicated is returned (wrapped) by Save, Delete and DeleteVersion
// when Options.WaitReplicas is set and fewer replicas acknowledged the
// write within Options.WaitTimeout. The primary did apply the write.
var ErrNotReplicated = errors.New("redisstore: write not acknowledged by enough replicas")

// Options configures a Store. The zero value gives the defaults.
type Options struct {
	// Prefix starts every key the Store uses, so that several stores or
	// applications can share one Redis. It must not contain '{' or '}'
	// (the keys use a hash tag of their own). Default DefaultPrefix
	// ("oauthlink:").
	Prefix string
	// WaitReplicas, when positive, makes Save, Delete and DeleteVersion
	// send WAIT after the write so that they return only once that many
	// replicas have it (see the package documentation on durability).
	// Default 0: no WAIT. Not supported with a *redis.Ring.
	WaitReplicas int
	// WaitTimeout is how long WAIT waits for the replicas. Default
	// DefaultWaitTimeout (1 s); it never waits forever.
	WaitTimeout time.Duration
	// AllowVolatile lets New accept a Redis whose settings can lose saved
	// connections, or whose settings it cannot read; New then does not
	// contact Redis. Without it New checks every server (CheckDurability)
	// and refuses, with an error wrapping ErrVolatile, a server without an
	// append-only file (appendonly no: a restart loses everything saved
	// since the last RDB snapshot, or everything without one), with
	// appendfsync no (a host crash loses what the kernel had not written)
	// or with a maxmemory-policy other than noeviction (eviction deletes
	// connections silently). The package documentation on durability
	// gives what each setting risks, with measured figures. Set it for
	// development and tests on a Redis without persistence, or when the
	// risk is accepted knowingly (and log CheckDurability's answer).
	AllowVolatile bool
	// SeparateIndex keeps the Scan index in steps around each record's
	// write, as the Store does by itself with a Redis Cluster or Ring
	// client (see the package documentation). Set it with a client of one
	// endpoint that spreads keys over several servers (a cluster proxy),
	// which refuses a script over keys of several slots. Changing it for
	// a store that holds connections may leave stale index members, which
	// Scan skips. Default false.
	SeparateIndex bool
}

// Store is a TokenStore, VersionDeleter, Locker, ReplayGuard, Pinger and
// Scanner on Redis. Create one with New; it is safe for concurrent use.
type Store struct {
	client       redis.UniversalClient
	prefix       string
	waitReplicas int
	waitTimeout  time.Duration
	// split is set when records and the index cannot be written in one
	// script: any client but a single server's, or SeparateIndex (see
	// split.go).
	split bool
}

var (
	_ store.TokenStore     = (*Store)(nil)
	_ store.VersionDeleter = (*Store)(nil)
	_ store.Locker         = (*Store)(nil)
	_ store.ReplayGuard    = (*Store)(nil)
	_ store.Pinger         = (*Store)(nil)
)

// New returns a Store that keeps its data in client under opts.Prefix.
// Unless opts.AllowVolatile is set it first checks, with CheckDurability
// (at most 10 s, one round trip per server), that no server behind client
// can lose a saved connection, and returns its error otherwise: one
// wrapping ErrVolatile naming each risky setting, ErrDurabilityUnknown
// when a server refuses to show its settings, or the error that kept it
// from asking (so New needs the server reachable). With AllowVolatile it
// does not contact Redis. Call Ping to check that the server accepts
// writes.
func New(client redis.UniversalClient, opts Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: nil client")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(opts.Prefix, "{}") {
		return nil, fmt.Errorf("redisstore: prefix %q contains a brace", opts.Prefix)
	}
	if opts.WaitReplicas < 0 {
		return nil, errors.New("redisstore: negative WaitReplicas")
	}
	if opts.WaitReplicas > 0 {
		if _, ok := client.(*redis.Ring); ok {
			return nil, errors.New("redisstore: WaitReplicas is not supported with a Ring client")
		}
	}
	if opts.WaitTimeout <= 0 {
		opts.WaitTimeout = DefaultWaitTimeout
	}
	if !opts.AllowVolatile {
		ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
		defer cancel()
		if err := CheckDurability(ctx, client); err != nil {
			return nil, err
		}
	}
	_, single := client.(*redis.Client)
	return &Store{client: client, prefix: opts.Prefix, waitReplicas: opts.WaitReplicas,
		waitTimeout: opts.WaitTimeout, split: !single || opts.SeparateIndex}, nil
}

// fail wraps err for op, adding ctx.Err() when the context ended so that
// errors.Is(err, context.Canceled) holds whatever go-redis returned.
func fail(ctx context.Context, op string, err error) error {
	if ce := ctx.Err(); ce != nil && !errors.Is(err, ce) {
		return fmt.Errorf("redisstore: %s: %w: %w", op, ce, err)
	}
	return fmt.Errorf("redisstore: %s: %w", op, err)
}
