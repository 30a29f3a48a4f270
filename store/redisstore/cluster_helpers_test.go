package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oauthlink/oauthlink/internal/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// clusterStartTimeout bounds starting the cluster: the servers, the
// cluster's creation and the wait until every node reports it ready.
const clusterStartTimeout = 60 * time.Second

// The test cluster: three primaries with one replica each.
const (
	clusterPrimaries = 3
	clusterNodes     = 2 * clusterPrimaries
)

// redisCluster is a throwaway Redis Cluster on loopback.
type redisCluster struct {
	addrs []string
}

// startCluster starts six redis-server processes, each in a temp dir of
// its own, joins them with redis-cli --cluster create into three primaries
// with one replica each, and waits until every node reports the cluster ok
// and every replica in sync. Every process is killed at t's cleanup, and
// the servers' logs are printed when t failed. Without redis-server and
// redis-cli on PATH it skips t, or fails it when CI is set.
func startCluster(t *testing.T) *redisCluster {
	t.Helper()
	server, cli := lookPath(t, "redis-server"), lookPath(t, "redis-cli")
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), clusterStartTimeout)
	defer cancel()

	dirs := make([]string, clusterNodes)
	for i := range dirs {
		dirs[i] = t.TempDir()
	}
	// Registered after the dirs' removal, so it runs before it.
	var nodes []*serverNode
	t.Cleanup(func() {
		for _, n := range nodes {
			if err := n.kill(); err != nil {
				t.Error(err)
			}
		}
		if t.Failed() {
			for _, n := range nodes {
				t.Logf("log of redis-server %s:\n%s", n.addr, readServerLog(n.dir))
			}
		}
	})
	rc := &redisCluster{}
	for _, dir := range dirs {
		n := startServer(t, ctx, server, dir, clusterArgs)
		nodes = append(nodes, n)
		rc.addrs = append(rc.addrs, n.addr)
	}

	create := exec.CommandContext(ctx, cli, append(append([]string{"--cluster", "create"}, rc.addrs...),
		"--cluster-replicas", "1", "--cluster-yes")...)
	setServerProcAttr(create)
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}

	clients := make([]*redis.Client, len(rc.addrs))
	for i, addr := range rc.addrs {
		clients[i] = nodeClient(addr)
		defer clients[i].Close()
	}
	for {
		why := clusterReady(ctx, clients)
		if why == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the cluster was not ready within %s: %v", clusterStartTimeout, why)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Logf("Redis Cluster of %d primaries and %d replicas ready in %s", clusterPrimaries,
		clusterNodes-clusterPrimaries, time.Since(start).Round(time.Millisecond))
	return rc
}

// lookPath finds a Redis binary, or skips t (fails it when CI is set).
func lookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v (CI is set: the tests that start their own Redis servers must run; apt-get install redis-server)", err)
		}
		testutil.SkipUnavailable(t, fmt.Sprintf("this test starts Redis servers of its own: %v (apt-get install redis-server, or set CI to make this fatal)", err))
	}
	return p
}

// client returns a cluster client of its own, closed at t's cleanup.
func (rc *redisCluster) client(t testing.TB) *redis.ClusterClient {
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: rc.addrs, ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	return c
}

// newStore returns a Store on a client of its own and a fresh prefix. The
// keys are not deleted: the cluster is thrown away. The nodes run without
// persistence, so the Store is opened with AllowVolatile.
func (rc *redisCluster) newStore(t testing.TB, opts Options) (*Store, *redis.ClusterClient) {
	t.Helper()
	c := rc.client(t)
	opts.Prefix = randomPrefix()
	opts.AllowVolatile = true
	s, err := New(c, opts)
	require.NoError(t, err)
	return s, c
}

// nodeClient returns a client of one node that fails fast, for polling.
func nodeClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, ContextTimeoutEnabled: true})
}

// clusterReady returns nil when every node agrees the cluster is ok, with
// every slot served, every primary has its replica in sync, and every
// node lists both nodes of each slot range; otherwise what is missing.
func clusterReady(ctx context.Context, clients []*redis.Client) error {
	primaries, replicas := 0, 0
	for _, c := range clients {
		addr := c.Options().Addr
		info, err := c.ClusterInfo(ctx).Result()
		if err != nil {
			return fmt.Errorf("%s: CLUSTER INFO: %w", addr, err)
		}
		for _, want := range []string{"cluster_state:ok", "cluster_slots_ok:16384",
			"cluster_known_nodes:" + strconv.Itoa(clusterNodes), "cluster_size:" + strconv.Itoa(clusterPrimaries)} {
			if !slices.Contains(strings.Fields(info), want) {
				return fmt.Errorf("%s: no %s in CLUSTER INFO", addr, want)
			}
		}
		repl, err := c.Info(ctx, "replication").Result()
		if err != nil {
			return fmt.Errorf("%s: INFO replication: %w", addr, err)
		}
		fields := strings.Fields(repl)
		switch {
		case slices.Contains(fields, "role:master"):
			if !slices.Contains(fields, "connected_slaves:1") || !strings.Contains(repl, ",state=online,") {
				return fmt.Errorf("%s: primary without a replica online", addr)
			}
			primaries++
		case slices.Contains(fields, "role:slave"):
			if !slices.Contains(fields, "master_link_status:up") {
				return fmt.Errorf("%s: replica whose link to its primary is down", addr)
			}
			replicas++
		}
	}
	if primaries != clusterPrimaries || replicas != clusterNodes-clusterPrimaries {
		return fmt.Errorf("%d primaries and %d replicas", primaries, replicas)
	}
	// CLUSTER SLOTS, from which clients learn the nodes, lists a replica
	// only once it has reported its replication offset, a little after
	// its link is up.
	for _, c := range clients {
		slots, err := c.ClusterSlots(ctx).Result()
		if err != nil {
			return fmt.Errorf("%s: CLUSTER SLOTS: %w", c.Options().Addr, err)
		}
		for _, s := range slots {
			if len(s.Nodes) != 2 {
				return fmt.Errorf("%s: CLUSTER SLOTS lists %d nodes for slots %d-%d", c.Options().Addr, len(s.Nodes), s.Start, s.End)
			}
		}
	}
	return nil
}

// serverNode is one redis-server process.
type serverNode struct {
	addr   string
	dir    string
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process is reaped
}

// clusterArgs are the arguments of a cluster node whose bus listens on
// busPort, without persistence.
func clusterArgs(busPort int) []string {
	return []string{
		// Set explicitly, the bus port need not be port+10000.
		"--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(busPort),
		"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000",
		"--appendonly", "no", "--save", "",
		// Sync a replica at once rather than after the default 5 s.
		"--repl-diskless-sync-delay", "0",
	}
}

// startServer starts a redis-server in dir on free loopback ports, with
// the arguments args returns for the second port (a cluster's bus port),
// trying other ports when another process took them first.
func startServer(t *testing.T, ctx context.Context, bin, dir string, args func(busPort int) []string) *serverNode {
	t.Helper()
	for attempt := 1; ; attempt++ {
		n, err := tryServer(ctx, bin, dir, args)
		if err == nil {
			return n
		}
		if attempt == 3 || ctx.Err() != nil {
			t.Fatalf("redis-server in %s: %v\n%s", dir, err, readServerLog(dir))
		}
		t.Logf("redis-server in %s, attempt %d: %v; trying other ports", dir, attempt, err)
	}
}

func tryServer(ctx context.Context, bin, dir string, args func(busPort int) []string) (*serverNode, error) {
	port, busPort, err := freePorts()
	if err != nil {
		return nil, err
	}
	// A failed attempt may have left its node id and ports behind.
	if err := os.Remove(filepath.Join(dir, "nodes.conf")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	log, err := os.OpenFile(filepath.Join(dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer log.Close() // the server keeps its own descriptor
	cmd := exec.Command(bin, append([]string{
		"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--protected-mode", "no", "--dir", dir,
	}, args(busPort)...)...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, log, log
	setServerProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	n := &serverNode{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir, cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(n.exited)
	}()
	if err := n.awaitUp(ctx); err != nil {
		return nil, errors.Join(err, n.kill())
	}
	return n, nil
}

// freePorts returns two distinct ports that were free on loopback.
func freePorts() (port, busPort int, err error) {
	var ports [2]int
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, err
		}
		defer ln.Close() // held until both are chosen, so they differ
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports[0], ports[1], nil
}

// awaitUp waits until the server answers at n.addr as our process (not
// some other process that took the port), for at most 10 s.
func (n *serverNode) awaitUp(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c := nodeClient(n.addr)
	defer c.Close()
	pid := "process_id:" + strconv.Itoa(n.cmd.Process.Pid)
	for {
		select {
		case <-n.exited:
			return fmt.Errorf("redis-server on %s exited at start", n.addr)
		default:
		}
		info, err := c.Info(ctx, "server").Result()
		if err == nil {
			if slices.Contains(strings.Fields(info), pid) {
				return nil
			}
			err = fmt.Errorf("%s is another process", n.addr)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis-server on %s did not answer: %w", n.addr, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// kill kills the server and waits, at most 10 s, until it is reaped.
func (n *serverNode) kill() error {
	select {
	case <-n.exited:
		return nil
	default:
	}
	killServer(n.cmd.Process)
	select {
	case <-n.exited:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("redis-server on %s (pid %d) still running 10s after SIGKILL", n.addr, n.cmd.Process.Pid)
	}
}

func readServerLog(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "redis.log"))
	if err != nil {
		return err.Error()
	}
	return string(b)
}
