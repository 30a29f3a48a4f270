package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrVolatile is returned (wrapped) by New and CheckDurability when a
// Redis server's settings can lose a saved connection: no append-only
// file, appendfsync no, or a maxmemory-policy other than noeviction. The
// error names each setting and server. Options.AllowVolatile accepts the
// risk.
var ErrVolatile = errors.New("redisstore: Redis can lose saved connections")

// ErrDurabilityUnknown is returned (wrapped) by New and CheckDurability
// when a server answers but refuses both ways of reading its settings
// (CONFIG GET and INFO, renamed or denied by an ACL). Allow one of them to
// the application's user, or set Options.AllowVolatile.
var ErrDurabilityUnknown = errors.New("redisstore: cannot read Redis's persistence and eviction settings")

// checkTimeout bounds the check New makes.
const checkTimeout = 10 * time.Second

// CheckDurability reads the persistence and eviction settings of every
// server behind client (each primary and replica of a Cluster, each shard
// of a Ring, the one server of a plain or Sentinel client) and returns nil
// when none of them can lose a saved connection; otherwise an error
// wrapping ErrVolatile that names each risky setting, ErrDurabilityUnknown
// when a server refuses to tell, or the error that kept it from asking.
// New makes this check unless Options.AllowVolatile is set; an
// application that opts out may still call it to log what it accepts. The
// package documentation lists what is accepted and why.
//
// It reads CONFIG GET appendonly, appendfsync, save and maxmemory-policy
// and, when the server refuses CONFIG (renamed, disabled or denied), falls
// back to INFO persistence (aof_enabled) and INFO memory
// (maxmemory_policy); appendfsync is then unknown and not checked.
func CheckDurability(ctx context.Context, client redis.UniversalClient) error {
	if client == nil {
		return errors.New("redisstore: nil client")
	}
	var (
		mu       sync.Mutex
		risks    []string
		unknown  []string
		failures []error
	)
	check := func(ctx context.Context, node redis.Cmdable, addr string) error {
		set, err := readSettings(ctx, node)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil:
			failures = append(failures, fmt.Errorf("%s%w", nodeLabel(addr), err))
		case set.infoErr != nil:
			unknown = append(unknown, fmt.Sprintf("%sCONFIG GET: %v; INFO: %v", nodeLabel(addr), set.configErr, set.infoErr))
		default:
			for _, r := range set.risks() {
				risks = append(risks, nodeLabel(addr)+r)
			}
		}
		return nil
	}
	var err error
	switch c := client.(type) {
	case *redis.ClusterClient:
		err = c.ForEachShard(ctx, func(ctx context.Context, n *redis.Client) error {
			return check(ctx, n, n.Options().Addr)
		})
	case *redis.Ring:
		err = c.ForEachShard(ctx, func(ctx context.Context, n *redis.Client) error {
			return check(ctx, n, n.Options().Addr)
		})
	case *redis.Client:
		addr := c.Options().Addr
		if addr == "FailoverClient" { // go-redis's placeholder for Sentinel
			addr = "the Sentinel's primary"
		}
		err = check(ctx, c, addr)
	default:
		err = check(ctx, c, "")
	}
	if err != nil {
		return fmt.Errorf("redisstore: checking durability: %w", err)
	}
	switch {
	case len(failures) > 0:
		return fmt.Errorf("redisstore: checking durability: %w", errors.Join(failures...))
	case len(unknown) > 0:
		slices.Sort(unknown)
		return fmt.Errorf("%w: %s; allow CONFIG GET or INFO to the client's user, or set Options.AllowVolatile to run without the check",
			ErrDurabilityUnknown, strings.Join(unknown, "; "))
	case len(risks) > 0:
		slices.Sort(risks)
		return fmt.Errorf("%w: %s; set appendonly yes with appendfsync always (or everysec) and maxmemory-policy noeviction, "+
			"or set Options.AllowVolatile to accept the risk", ErrVolatile, strings.Join(risks, "; "))
	}
	return nil
}

func nodeLabel(addr string) string {
	if addr == "" {
		return ""
	}
	return addr + ": "
}

// settings are what decides whether a server keeps a saved connection.
type settings struct {
	viaInfo     bool   // read from INFO: CONFIG GET was refused
	appendOnly  bool   // appendonly yes, or aof_enabled:1
	appendFsync string // always, everysec or no; "" when unknown
	save        string // the RDB schedule, "" for none
	saveKnown   bool
	policy      string // maxmemory-policy
	configErr   error  // why CONFIG GET was not used
	infoErr     error  // why INFO was not used either: nothing is known
}

// risks describes each setting that can lose a saved connection, naming
// it; none for a safe server.
func (s settings) risks() []string {
	var out []string
	if !s.appendOnly {
		switch {
		case s.viaInfo:
			out = append(out, fmt.Sprintf("aof_enabled is 0 (INFO persistence; CONFIG GET refused: %v): no append-only file, "+
				"so a restart or crash loses every connection saved since the last RDB snapshot, if any", s.configErr))
		case s.saveKnown && s.save == "":
			out = append(out, `appendonly is "no" and save is "": no persistence at all, so a restart loses every saved connection `+
				"(measured: a restart lost 20 of 20, their grants left live at the provider)")
		default:
			out = append(out, fmt.Sprintf(`appendonly is "no" (RDB snapshots only, save %q): a crash or kill reverts every connection `+
				"saved since the last snapshot to its state then: a spent refresh token at a rotating provider, or no connection "+
				"(measured with snapshots every 5 s: a SIGKILL reverted 20 of 20 to spent tokens, all reauth_required)", s.save))
		}
	} else if s.appendFsync == "no" {
		out = append(out, `appendfsync is "no": the kernel decides when the append-only file reaches the disk `+
			"(about every 30 s on Linux), so a host crash or power loss loses the connections saved in that time")
	}
	if s.policy != "noeviction" {
		name := `maxmemory-policy is "` + s.policy + `"`
		if s.viaInfo {
			name = `maxmemory_policy is "` + s.policy + `" (INFO memory)`
		}
		if strings.HasPrefix(s.policy, "volatile-") {
			out = append(out, name+": at the memory limit Redis deletes keys that have an expiry to make room, "+
				"this store's locks and replay records among them, without an error")
		} else {
			out = append(out, name+": at the memory limit Redis deletes keys to make room, "+
				"and an evicted connection is a lost connection, without an error")
		}
	}
	return out
}

// readSettings reads node's settings with CONFIG GET, or with INFO when
// the server refuses CONFIG. When the server refuses both, the settings'
// configErr and infoErr say why. An error kept us from asking.
func readSettings(ctx context.Context, node redis.Cmdable) (settings, error) {
	names := []string{"appendonly", "appendfsync", "save", "maxmemory-policy"}
	pipe := node.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(names))
	for i, n := range names {
		// One parameter per CONFIG GET: Redis before 7 takes only one.
		cmds[i] = pipe.ConfigGet(ctx, n)
	}
	_, _ = pipe.Exec(ctx) // each command's own error is read below
	var s settings
	vals := make([]string, len(names))
	for i, cmd := range cmds {
		m, err := cmd.Result()
		if err == nil {
			v, ok := m[names[i]]
			if !ok {
				err = fmt.Errorf("CONFIG GET %s: no such parameter", names[i])
			}
			vals[i] = v
		}
		if err != nil {
			if !isServerError(err) {
				return s, err
			}
			s.configErr = err
			break
		}
	}
	if s.configErr == nil {
		s.appendOnly = vals[0] == "yes"
		s.appendFsync, s.save, s.saveKnown, s.policy = vals[1], vals[2], true, vals[3]
		return s, nil
	}

	s.viaInfo = true
	pipe = node.Pipeline()
	persistence, memory := pipe.Info(ctx, "persistence"), pipe.Info(ctx, "memory")
	_, _ = pipe.Exec(ctx)
	var infoErr error
	for _, cmd := range []*redis.StringCmd{persistence, memory} {
		if err := cmd.Err(); err != nil {
			if !isServerError(err) {
				return s, err
			}
			infoErr = err
		}
	}
	if infoErr == nil {
		aof, okAOF := infoField(persistence.Val(), "aof_enabled")
		policy, okPolicy := infoField(memory.Val(), "maxmemory_policy")
		if okAOF && okPolicy {
			s.appendOnly, s.policy = aof == "1", policy
			return s, nil
		}
		infoErr = errors.New("no aof_enabled or maxmemory_policy field")
	}
	s.infoErr = infoErr
	return s, nil
}

// isServerError reports whether err is the server's refusal of a command
// (unknown command, NOPERM), not a failure to reach it.
func isServerError(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr)
}

// infoField returns the value of name in an INFO section's "name:value"
// lines.
func infoField(info, name string) (string, bool) {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), name+":"); ok {
			return v, true
		}
	}
	return "", false
}
