package redisstore

import (
	"context"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/internal/testutil"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/storetest"
)

// TestCluster runs the store on a real Redis Cluster of three primaries
// with one replica each, started for this test and killed after it.
func TestCluster(t *testing.T) {
	t.Parallel()
	rc := startCluster(t)
	t.Run("Conformance", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, func(t *testing.T) store.TokenStore {
			s, _ := rc.newStore(t, Options{})
			return s
		})
	})
	t.Run("ConformanceWaitReplicas", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, func(t *testing.T) store.TokenStore {
			s, _ := rc.newStore(t, Options{WaitReplicas: 1, WaitTimeout: 5 * time.Second})
			return s
		})
	})
	t.Run("Scan", func(t *testing.T) {
		t.Parallel()
		testScan(t, clusterStore(rc))
	})
	t.Run("SplitIndex", func(t *testing.T) {
		t.Parallel()
		testSplit(t, clusterStore(rc))
	})
	t.Run("HashTags", func(t *testing.T) {
		t.Parallel()
		testClusterHashTags(t, rc)
	})
	t.Run("WaitReplicas", func(t *testing.T) {
		t.Parallel()
		testClusterWaitReplicas(t, rc)
	})
	t.Run("RefusesVolatile", func(t *testing.T) {
		// The nodes run without persistence: New checks every primary
		// and every replica (a failover promotes one) and names each.
		t.Parallel()
		_, err := New(rc.client(t), Options{})
		require.ErrorIs(t, err, ErrVolatile)
		for _, addr := range rc.addrs {
			assert.Contains(t, err.Error(), addr+`: appendonly is "no"`)
		}
	})
}

// testClusterHashTags checks the claim of the package documentation: an
// owner's records, index and locks live in one slot, whatever bytes the
// names hold, so the scripts that touch several of them work on a cluster.
func testClusterHashTags(t *testing.T, rc *redisCluster) {
	s, c := rc.newStore(t, Options{})
	ctx := testutil.Context(t)
	// Odd owners, and one more on each primary so that the client must
	// route to all three.
	owners := []string{"shop-42", "a:b", "{x}", "}{", "o{a}b:c}", "50%", "é\x00\xff", ""}
	owners = append(owners, slices.Sorted(maps.Values(ownerOnEachPrimary(t, ctx, s, c)))...)
	providers := []string{"mollie", "qonto", "a:b", "{p}", "}"}
	ownerOf := map[string]string{} // every key the Store should have written
	var unlocks []store.Lease
	for _, o := range owners {
		for _, p := range providers {
			require.NoError(t, s.Save(ctx, &oauthlink.Connection{Provider: p, Owner: o, AccessToken: "at"}))
			unlock, err := s.Lock(ctx, p, o, time.Minute)
			require.NoError(t, err)
			t.Cleanup(unlock.Release)
			unlocks = append(unlocks, unlock)
			ownerOf[s.connKey(p, o)], ownerOf[s.lockKey(p, o)] = o, o
		}
		ownerOf[s.indexKey(o)] = o
	}

	nodeOf := clusterKeys(t, ctx, c, s.prefix)
	idxKeys := append(plainSets(s), s.metaKey())
	for _, k := range idxKeys {
		slot, err := c.ClusterKeySlot(ctx, k).Result()
		require.NoError(t, err)
		assert.Equal(t, c.ClusterKeySlot(ctx, idxKeys[0]).Val(), slot, "index key %q", k)
		assert.Contains(t, nodeOf, k)
		delete(nodeOf, k)
	}
	require.ElementsMatch(t, slices.Collect(maps.Keys(ownerOf)), slices.Collect(maps.Keys(nodeOf)),
		"the keys on the primaries are the record, lock and index keys")
	slotOf := map[string]int64{} // owner's slot
	primaryOf := map[string]string{}
	for key, o := range ownerOf {
		slot, err := c.ClusterKeySlot(ctx, key).Result()
		require.NoError(t, err)
		if _, seen := slotOf[o]; !seen {
			slotOf[o], primaryOf[o] = slot, nodeOf[key]
		}
		assert.Equal(t, slotOf[o], slot, "key %q of owner %q", key, o)
		assert.Equal(t, primaryOf[o], nodeOf[key], "key %q of owner %q", key, o)
	}
	assert.Len(t, slices.Compact(slices.Sorted(maps.Values(primaryOf))), clusterPrimaries,
		"the owners' keys are on every primary")

	// Every script takes an owner's record and index together: on keys in
	// two slots they would fail with CROSSSLOT.
	for _, o := range owners {
		list, err := s.List(ctx, o)
		require.NoError(t, err)
		assert.Len(t, list, len(providers), "owner %q", o)
		require.NoError(t, s.Save(ctx, &oauthlink.Connection{Provider: providers[0], Owner: o, Version: 1}))
		require.NoError(t, s.DeleteVersion(ctx, providers[0], o, 2))
		for _, p := range providers[1:] {
			require.NoError(t, s.Delete(ctx, p, o))
		}
	}
	for _, unlock := range unlocks {
		unlock.Release()
	}
	assert.Empty(t, clusterKeys(t, ctx, c, s.prefix), "deletes and unlocks removed every key, the index's too")

	// The control: two owners' keys in one script are refused, so the
	// checks above would fail if the hash tag were missing.
	a, b := owners[0], owners[1]
	require.NotEqual(t, slotOf[a], slotOf[b])
	err := deleteScript.Run(ctx, c, []string{s.connKey("p", a), s.indexKey(b)}, "p", "", "p", a).Err()
	assert.ErrorContains(t, err, "CROSSSLOT")
}

// clusterKeys lists the keys under prefix with a SCAN on every primary,
// and maps each to the primary that holds it.
func clusterKeys(t *testing.T, ctx context.Context, c *redis.ClusterClient, prefix string) map[string]string {
	t.Helper()
	var mu sync.Mutex
	nodeOf := map[string]string{}
	err := c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		iter := node.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			if prev, dup := nodeOf[iter.Val()]; dup {
				t.Errorf("key %q on %s and %s", iter.Val(), prev, node.Options().Addr)
			}
			nodeOf[iter.Val()] = node.Options().Addr
			mu.Unlock()
		}
		return iter.Err()
	})
	require.NoError(t, err)
	return nodeOf
}

// testClusterWaitReplicas: with WaitReplicas, WAIT goes to the primary of
// the key, whichever node that is, so a write that returns without error
// is already on that primary's replica.
func testClusterWaitReplicas(t *testing.T, rc *redisCluster) {
	s, c := rc.newStore(t, Options{WaitReplicas: 1, WaitTimeout: 5 * time.Second})
	ctx := testutil.Context(t)
	replicas := replicaClients(t, ctx, rc)
	ownerOn := ownerOnEachPrimary(t, ctx, s, c)
	for primary, o := range ownerOn {
		replica := replicas[primary]
		require.NotNil(t, replica, "replica of %s", primary)
		conn := &oauthlink.Connection{Provider: "p", Owner: o, AccessToken: "at-1"}
		require.NoError(t, s.Save(ctx, conn), "owner %q on %s", o, primary)
		assert.Equal(t, "at-1", replica.HGet(ctx, s.connKey("p", o), fAccess).Val(), "the replica has the create")
		conn.AccessToken = "at-2"
		require.NoError(t, s.Save(ctx, conn))
		assert.Equal(t, "at-2", replica.HGet(ctx, s.connKey("p", o), fAccess).Val(), "the replica has the update")
		require.NoError(t, s.DeleteVersion(ctx, "p", o, 2))
		assert.Zero(t, replica.Exists(ctx, s.connKey("p", o), s.indexKey(o)).Val(), "the replica has the delete")
		require.NoError(t, s.Save(ctx, &oauthlink.Connection{Provider: "q", Owner: o}))
		require.NoError(t, s.Delete(ctx, "q", o))
		assert.Zero(t, replica.Exists(ctx, s.connKey("q", o), s.indexKey(o)).Val(), "the replica has the delete")
	}

	// Two replicas are more than any primary has: the write applies, and
	// WAIT reports the one replica there is.
	s2, err := New(c, Options{Prefix: s.prefix, WaitReplicas: 2, WaitTimeout: 50 * time.Millisecond, AllowVolatile: true})
	require.NoError(t, err)
	conn := &oauthlink.Connection{Provider: "p", Owner: slices.Sorted(maps.Values(ownerOn))[0]}
	err = s2.Save(ctx, conn)
	require.ErrorIs(t, err, ErrNotReplicated)
	assert.ErrorContains(t, err, ": 1 of 2 within")
	assert.Equal(t, int64(1), conn.Version)
}

// ownerOnEachPrimary returns an owner whose keys are on each primary, by
// the primary's address.
func ownerOnEachPrimary(t *testing.T, ctx context.Context, s *Store, c *redis.ClusterClient) map[string]string {
	t.Helper()
	ownerOn := map[string]string{}
	for i := 0; len(ownerOn) < clusterPrimaries; i++ {
		require.Less(t, i, 1000, "no owner found on every primary")
		o := "owner-" + strconv.Itoa(i)
		primary, err := c.MasterForKey(ctx, s.indexKey(o))
		require.NoError(t, err)
		if _, ok := ownerOn[primary.Options().Addr]; !ok {
			ownerOn[primary.Options().Addr] = o
		}
	}
	return ownerOn
}

// replicaClients returns a read-only client on each primary's replica,
// by the primary's address.
func replicaClients(t *testing.T, ctx context.Context, rc *redisCluster) map[string]*redis.Client {
	t.Helper()
	out := map[string]*redis.Client{}
	for _, addr := range rc.addrs {
		n := nodeClient(addr)
		repl, err := n.Info(ctx, "replication").Result()
		n.Close()
		require.NoError(t, err)
		var host, port string
		for _, f := range strings.Fields(repl) {
			if v, ok := strings.CutPrefix(f, "master_host:"); ok {
				host = v
			}
			if v, ok := strings.CutPrefix(f, "master_port:"); ok {
				port = v
			}
		}
		if host == "" {
			continue // a primary
		}
		r := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true,
			OnConnect: func(ctx context.Context, cn *redis.Conn) error { return cn.ReadOnly(ctx).Err() }})
		t.Cleanup(func() { r.Close() })
		out[net.JoinHostPort(host, port)] = r
	}
	return out
}
