package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// reindexBatch is how many keys Reindex asks each SCAN for and indexes in
// one script.
const reindexBatch = 500

// reindexDone marks, in the progress hash, a server Reindex has finished.
const reindexDone = "done"

// Reindex adds every stored connection to the index Scan reads, and
// returns how many it indexed. Connections saved by this version are
// indexed as they are saved; run Reindex once after upgrading from a
// version without Scan, so that the records saved before are found too.
// New never does: it walks the keyspace.
//
// Reindex walks the record keys with SCAN on every server that holds them
// (each primary of a cluster) and indexes each record as it reads it: in
// a script that reads the record, on a single server, and with the
// ordered settlement Scan uses, on a cluster, so it may run while the
// application saves and deletes connections. It is idempotent, and
// resumable: it keeps each server's SCAN cursor under the key
// PREFIX+"reindex" as it goes, so a run that fails or whose ctx ends
// continues where it stopped when called again, and it deletes that key
// once every server is done. Keys under the prefix that are not records
// of this package are skipped.
func (s *Store) Reindex(ctx context.Context) (int, error) {
	var total atomic.Int64
	err := s.forEachServer(ctx, func(ctx context.Context, node *redis.Client) error {
		n, err := s.reindexServer(ctx, node)
		total.Add(int64(n))
		return err
	})
	if err == nil {
		err = s.client.Del(ctx, s.reindexKey()).Err()
	}
	if err != nil {
		return int(total.Load()), fail(ctx, "reindex", err)
	}
	return int(total.Load()), nil
}

func (s *Store) reindexKey() string { return s.prefix + "reindex" }

// forEachServer calls fn for every server that holds keys: each primary of
// a cluster, each shard of a ring, or the one server.
func (s *Store) forEachServer(ctx context.Context, fn func(context.Context, *redis.Client) error) error {
	switch c := s.client.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, fn)
	case *redis.Ring:
		return c.ForEachShard(ctx, fn)
	case *redis.Client:
		return fn(ctx, c)
	}
	return fmt.Errorf("unsupported client %T", s.client)
}

// reindexServer indexes the records on one server, from its saved SCAN
// cursor on.
func (s *Store) reindexServer(ctx context.Context, node *redis.Client) (int, error) {
	addr := node.Options().Addr
	saved, err := s.client.HGet(ctx, s.reindexKey(), addr).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, err
	}
	if saved == reindexDone {
		return 0, nil
	}
	cursor, _ := strconv.ParseUint(saved, 10, 64) // missing or bad: from the start
	pattern := globEscape(s.prefix+"conn:") + "*"
	total := 0
	for {
		keys, next, err := node.Scan(ctx, cursor, pattern, reindexBatch).Result()
		if err != nil {
			return total, err
		}
		n, err := s.indexKeys(ctx, keys)
		total += n
		if err != nil {
			return total, err
		}
		progress := strconv.FormatUint(next, 10)
		if next == 0 {
			progress = reindexDone
		}
		if err := s.client.HSet(ctx, s.reindexKey(), addr, progress).Err(); err != nil {
			return total, err
		}
		if next == 0 {
			return total, nil
		}
		cursor = next
	}
}

// indexKeys indexes the records of the given record keys, and returns how
// many exist.
func (s *Store) indexKeys(ctx context.Context, keys []string) (int, error) {
	var names []entry
	var recKeys []string
	for _, k := range keys {
		if p, o, ok := s.parseConnKey(k); ok {
			names = append(names, entry{provider: p, owner: o})
			recKeys = append(recKeys, k)
		}
	}
	if len(names) == 0 {
		return 0, nil
	}
	if !s.split {
		args := make([]any, 0, 2*len(names))
		for _, e := range names {
			args = append(args, escNUL(e.provider), escNUL(e.owner))
		}
		n, err := reindexScript.Run(ctx, s.client, append(s.setKeys(), recKeys...), args...).Int()
		return n, err
	}
	pipe := s.client.Pipeline()
	cmds := make([]*redis.SliceCmd, len(recKeys))
	for i, k := range recKeys {
		cmds[i] = pipe.HMGet(ctx, k, fEpoch, fVersion, fStatus, fAccountID, fRefreshed, fRetired)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, err
	}
	var sts []settlement
	for i, cmd := range cmds {
		h := map[string]string{}
		for j, f := range []string{fEpoch, fVersion, fStatus, fAccountID, fRefreshed, fRetired} {
			if v, ok := cmd.Val()[j].(string); ok {
				h[f] = v
			}
		}
		if h[fVersion] == "" {
			continue // deleted since SCAN saw it
		}
		st, _ := repair(names[i], h, "")
		sts = append(sts, st)
	}
	return len(sts), s.apply(ctx, sts)
}

// parseConnKey returns the provider and owner of a record key, and false
// for a key connKey does not return.
func (s *Store) parseConnKey(key string) (provider, owner string, ok bool) {
	rest, ok := strings.CutPrefix(key, s.prefix+"conn:{")
	if !ok {
		return "", "", false
	}
	tag, escProvider, ok := strings.Cut(rest, "}:")
	if !ok {
		return "", "", false
	}
	if tag != "%" {
		if owner, ok = unescape(tag); !ok || owner == "" {
			return "", "", false
		}
	}
	if provider, ok = unescape(escProvider); !ok {
		return "", "", false
	}
	return provider, owner, s.connKey(provider, owner) == key
}

// unescape inverts escape, and reports whether s is an escaped string.
func unescape(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", false
		}
		b.WriteByte(byte(n))
		i += 2
	}
	return b.String(), escape(b.String()) == s
}

// globEscape escapes the characters SCAN's MATCH pattern treats specially.
func globEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(`*?[]\`, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
