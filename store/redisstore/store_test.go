package redisstore

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/internal/testutil"
	"github.com/oauthlink/oauthlink/store"
)

func TestNewOptions(t *testing.T) {
	t.Parallel()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:0"}) // cannot be dialled
	defer c.Close()
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:0"}})
	defer ring.Close()
	tests := []struct {
		name   string
		client redis.UniversalClient
		opts   Options
	}{
		// AllowVolatile, so that only the options can fail New.
		{"nil client", nil, Options{AllowVolatile: true}},
		{"brace in prefix", c, Options{Prefix: "app{1}:", AllowVolatile: true}},
		{"negative WaitReplicas", c, Options{WaitReplicas: -1, AllowVolatile: true}},
		{"WaitReplicas with a Ring", ring, Options{WaitReplicas: 1, AllowVolatile: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.client, tc.opts)
			assert.Error(t, err)
		})
	}
	s, err := New(c, Options{AllowVolatile: true})
	require.NoError(t, err, "with AllowVolatile, New does not contact Redis")
	assert.Equal(t, "oauthlink:conn:{o}:p", s.connKey("p", "o"))
	assert.Equal(t, DefaultWaitTimeout, s.waitTimeout)
	assert.False(t, s.split, "one server: the index changes in the record's script")
	s, _ = New(c, Options{AllowVolatile: true, SeparateIndex: true})
	assert.True(t, s.split)
	s, _ = New(ring, Options{AllowVolatile: true})
	assert.True(t, s.split, "a ring spreads keys over servers")
	cluster := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:0"}})
	defer cluster.Close()
	s, _ = New(cluster, Options{AllowVolatile: true})
	assert.True(t, s.split, "a cluster spreads keys over slots")
}

func TestEscape(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"":            "",
		"mollie":      "mollie",
		"user-42@x.y": "user-42@x.y",
		"a:b":         "a%3Ab",
		"{tag}":       "%7Btag%7D",
		"50%":         "50%25",
		"*?[]":        "%2A%3F%5B%5D",
		"é\x00\xff":   "%C3%A9%00%FF",
	}
	for in, want := range tests {
		assert.Equal(t, want, escape(in), "escape(%q)", in)
	}
	// Round trip on random bytes: escape is injective and never emits a
	// separator, a brace or a glob character.
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		e := escape(string(b))
		back, ok := unescape(e)
		require.True(t, ok, "unescape(%q)", e)
		require.Equal(t, string(b), back)
		require.False(t, strings.ContainsAny(e, ":{}*?[]\\"), "escape(%q) = %q", b, e)
	}
}

func TestKeysNeverCollide(t *testing.T) {
	t.Parallel()
	s, err := New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:0"}), Options{AllowVolatile: true})
	require.NoError(t, err)
	defer s.client.Close()
	pairs := [][2]string{{"a:b", "c"}, {"a", "b:c"}, {"a}:b", "c"}, {"a", "}:b:c"}, {"a%3Ab", "c"}, {"", "a:b:c"}, {"a", ""}, {"a", "%"}}
	seen := map[string][2]string{}
	for _, p := range pairs {
		for _, k := range []string{s.connKey(p[0], p[1]), s.lockKey(p[0], p[1])} {
			prev, dup := seen[k]
			require.False(t, dup, "%q and %q share key %q", p, prev, k)
			seen[k] = p
		}
	}
	// Record, index and lock of one owner share one hash tag, which is
	// never empty: Redis Cluster ignores "{}" and hashes the whole key.
	tag := func(k string) string { return k[strings.IndexByte(k, '{') : strings.IndexByte(k, '}')+1] }
	for _, owner := range []string{"o:x", "", "%", "%25", "{}", "}"} {
		assert.Equal(t, tag(s.connKey("p", owner)), tag(s.indexKey(owner)), "owner %q", owner)
		assert.Equal(t, tag(s.connKey("p", owner)), tag(s.lockKey("q", owner)), "owner %q", owner)
		assert.NotEqual(t, "{}", tag(s.indexKey(owner)), "owner %q", owner)
		prev, dup := seen[s.indexKey(owner)]
		assert.False(t, dup, "owners %q and %q share index key %q", owner, prev[1], s.indexKey(owner))
		seen[s.indexKey(owner)] = [2]string{"", owner}
	}
}

// TestBytesRoundTrip stores keys and values with NUL, invalid UTF-8,
// separators and empty strings, and times with nanoseconds.
func TestBytesRoundTrip(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t, Options{})
	ctx := testutil.Context(t)
	owner := "own\x00er:{x}/\xff"
	providers := []string{"", "B", "a", "a\x00", "a:b", "\xc3\xa9", "\xff\xfe"}
	require.True(t, slices.IsSorted(providers))
	for i, p := range providers {
		c := &oauthlink.Connection{
			Provider: p, Owner: owner, AccountID: "acc\x00\xfe",
			AccessToken: store.Secret("at\x00\xff" + p), TokenType: "Bearer",
			Expiry: time.Unix(1_700_000_000, 123_456_789).UTC(), Scopes: []string{"a", "b:c"},
			Extra: `{"id_token":"x"}`, RedirectURI: "https://x/cb?\x00", Status: store.StatusActive,
		}
		if i%2 == 1 {
			c.Scopes = nil
		} else {
			c.Retired = []store.RetiredToken{
				{Token: store.Secret("rt\x00\xff" + p), Kind: "refresh_token", Since: time.Unix(1_600_000_000, 654_321_987).UTC()},
				{Token: "", Kind: "", Since: time.Time{}},
				{Token: `"[{\u0000}]"`, Kind: "access_token", Since: time.Unix(1_600_000_001, 0).UTC()},
			}
		}
		require.NoError(t, s.Save(ctx, c))
		got, err := s.Load(ctx, p, owner)
		require.NoError(t, err)
		assert.Equal(t, c, got, "provider %q", p)
	}
	list, err := s.List(ctx, owner)
	require.NoError(t, err)
	var got []string
	for _, c := range list {
		got = append(got, c.Provider)
	}
	assert.Equal(t, providers, got)
	assert.Nil(t, list[1].Scopes)
	assert.Equal(t, []string{"a", "b:c"}, list[0].Scopes)

	assert.Error(t, s.Save(ctx, &oauthlink.Connection{Provider: "x", Owner: owner, Scopes: []string{"\xff"}}))
	assert.Error(t, s.Save(ctx, &oauthlink.Connection{Provider: "x", Owner: owner,
		Retired: []store.RetiredToken{{Token: "t", Kind: "\xff"}}}), "a retired kind that is not UTF-8")
	_, err = s.Load(ctx, "x", owner)
	assert.ErrorIs(t, err, store.ErrNotFound, "a rejected save stores nothing")
	assert.Error(t, s.Save(ctx, &oauthlink.Connection{Provider: "x", Owner: owner, Version: -1}))
	assert.Error(t, s.Save(ctx, nil))
}

func TestDeleteRemovesIndexEntry(t *testing.T) {
	t.Parallel()
	s, c := newTestStore(t, Options{})
	ctx := testutil.Context(t)
	for _, p := range []string{"a", "b"} {
		require.NoError(t, s.Save(ctx, &oauthlink.Connection{Provider: p, Owner: "o"}))
	}
	require.ElementsMatch(t, append([]string{s.connKey("a", "o"), s.connKey("b", "o"), s.indexKey("o")}, plainSets(s)...),
		scanKeys(t, ctx, c, s.prefix), "one hash per connection, the owner's index and the Scan index")
	require.NoError(t, s.Delete(ctx, "a", "o"))
	assert.Equal(t, []string{"b"}, c.ZRange(ctx, s.indexKey("o"), 0, -1).Val())
	require.NoError(t, s.Delete(ctx, "b", "o"))
	require.NoError(t, s.Delete(ctx, "b", "o"), "deleting a missing connection")
	assert.Empty(t, scanKeys(t, ctx, c, s.prefix))
}

// TestDeleteVersionIndex: DeleteVersion keeps the owner's index as Delete
// does: a conflict leaves the entry, a delete removes it, and an entry left
// without a record is removed too.
func TestDeleteVersionIndex(t *testing.T) {
	t.Parallel()
	s, c := newTestStore(t, Options{})
	ctx := testutil.Context(t)
	for _, p := range []string{"a", "b"} {
		require.NoError(t, s.Save(ctx, &oauthlink.Connection{Provider: p, Owner: "o"}))
	}
	keys := append([]string{s.connKey("a", "o"), s.connKey("b", "o"), s.indexKey("o")}, plainSets(s)...)
	assert.ErrorIs(t, s.DeleteVersion(ctx, "a", "o", 2), store.ErrVersionConflict)
	assert.ElementsMatch(t, keys, scanKeys(t, ctx, c, s.prefix), "a conflict changes nothing")
	assert.Equal(t, []string{"a", "b"}, c.ZRange(ctx, s.indexKey("o"), 0, -1).Val())

	require.NoError(t, s.DeleteVersion(ctx, "a", "o", 1))
	assert.Equal(t, []string{"b"}, c.ZRange(ctx, s.indexKey("o"), 0, -1).Val())
	require.NoError(t, c.ZAdd(ctx, s.indexKey("o"), redis.Z{Member: "c"}).Err()) // as a failed write leaves
	require.NoError(t, s.DeleteVersion(ctx, "c", "o", 1), "an index entry without a record")
	assert.Equal(t, []string{"b"}, c.ZRange(ctx, s.indexKey("o"), 0, -1).Val())
	require.NoError(t, s.DeleteVersion(ctx, "b", "o", 1))
	assert.Empty(t, scanKeys(t, ctx, c, s.prefix))
}

// TestCompareAndSwapAcrossClients races writers on two clients, as two
// instances would: of the writers that read one version, exactly one
// commits.
func TestCompareAndSwapAcrossClients(t *testing.T) {
	t.Parallel()
	s1, _ := newTestStore(t, Options{})
	s2 := secondInstance(t, s1)
	testutil.RaceCompareAndSwap(t, testutil.Context(t), []store.TokenStore{s1, s2}, 6)
}

// TestSaveScriptRetry: a resent save (go-redis retries a command whose
// reply was lost) finds its own write and succeeds without writing twice;
// another writer with the same stale version still conflicts.
func TestSaveScriptRetry(t *testing.T) {
	t.Parallel()
	s, c := newTestStore(t, Options{})
	ctx := testutil.Context(t)
	keys := s.writeKeys("p", "o")
	args := func(writeID string) []any {
		return []any{0, 1, "p", formatTime(time.Now()), writeID, "p", "o", "", "", zeroRefreshed, "", fAccess, "at"}
	}
	for i, tc := range []struct {
		writeID string
		want    bool
	}{{"w1", true}, {"w1", true}, {"w2", false}} {
		v, err := saveScript.Run(ctx, c, keys, args(tc.writeID)...).Result()
		require.NoError(t, err)
		reply, err := parseReply(v)
		require.NoError(t, err)
		assert.Equal(t, tc.want, reply.ok, "call %d", i)
		assert.Equal(t, "1", reply.version, "call %d", i)
	}
	assert.Equal(t, "1", c.HGet(ctx, keys[0], fVersion).Val())
}

// TestWaitReplicas runs against a server without replicas: WAIT 1 times
// out, so Save and Delete report ErrNotReplicated, yet the primary applied
// them and c reflects the write.
func TestWaitReplicas(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t, Options{WaitReplicas: 1, WaitTimeout: 50 * time.Millisecond})
	ctx := testutil.Context(t)
	c := &oauthlink.Connection{Provider: "p", Owner: "o", AccessToken: "at"}
	err := s.Save(ctx, c)
	require.ErrorIs(t, err, ErrNotReplicated)
	assert.Equal(t, int64(1), c.Version)
	got, err := s.Load(ctx, "p", "o")
	require.NoError(t, err)
	assert.Equal(t, c, got)

	stale := *c
	stale.Version = 7
	assert.ErrorIs(t, s.Save(ctx, &stale), store.ErrVersionConflict)

	assert.ErrorIs(t, s.Delete(ctx, "p", "o"), ErrNotReplicated)
	_, err = s.Load(ctx, "p", "o")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

// TestWaitReplicasDeleteVersion: without replicas, a conflicting
// DeleteVersion reports the conflict (nothing was written), and one that
// deletes reports ErrNotReplicated although the primary deleted.
func TestWaitReplicasDeleteVersion(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t, Options{WaitReplicas: 1, WaitTimeout: 50 * time.Millisecond})
	ctx := testutil.Context(t)
	require.ErrorIs(t, s.Save(ctx, &oauthlink.Connection{Provider: "p", Owner: "o"}), ErrNotReplicated)

	err := s.DeleteVersion(ctx, "p", "o", 7)
	assert.ErrorIs(t, err, store.ErrVersionConflict)
	assert.NotErrorIs(t, err, ErrNotReplicated)
	_, err = s.Load(ctx, "p", "o")
	require.NoError(t, err)

	assert.ErrorIs(t, s.DeleteVersion(ctx, "p", "o", 1), ErrNotReplicated)
	_, err = s.Load(ctx, "p", "o")
	assert.ErrorIs(t, err, store.ErrNotFound)
}
