// Package redisstore is an store.TokenStore on Redis, with
// github.com/redis/go-redis/v9. It also implements the optional
// store.VersionDeleter, store.Locker, store.ReplayGuard, store.Pinger
// and store.Scanner capabilities, so several instances sharing one Redis
// refresh each token once and refuse a replayed callback at any instance,
// and a job can page through the whole fleet of connections.
//
// # Usage
//
//	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	st, err := redisstore.New(client, redisstore.Options{Prefix: "myapp:oauthlink:"})
//	if err != nil { ... }
//	// st is an store.TokenStore, VersionDeleter, Locker, ReplayGuard,
//	// Pinger and Scanner.
//
// Any redis.UniversalClient works: a single server, Sentinel (failover) or
// Cluster. The tests run the conformance suite on a single server and on a
// Redis Cluster of three primaries with one replica each, started for the
// test, with and without WaitReplicas; Sentinel is not tested. The client
// stays the caller's: the Store never closes it. go-redis bounds network
// calls by its ReadTimeout and WriteTimeout; set
// redis.Options.ContextTimeoutEnabled for context deadlines to bound them
// as well.
//
// # Durability: read this before choosing Redis
//
// Redis acknowledges a write once it is in the primary's memory. Without an
// append-only file, an acknowledged write is lost when the server restarts
// (everything since the last RDB snapshot, if any); without an fsync per
// write, when its host crashes; and with replication, when the primary
// fails over before a replica received it. For most data that is a stale value;
// for OAuth tokens it can be a lost connection: Qonto (Ory Hydra) rotates
// the refresh token on every refresh and accepts the previous one only for
// a 60-second grace period, so a lost rotation that nobody retries within
// that window leaves only a dead refresh token, and the user must connect
// again. Mollie keeps refresh tokens valid, so a lost write there only
// costs a refresh.
//
// New therefore checks the server before it returns a Store, and refuses
// settings that can lose a saved connection unless Options.AllowVolatile
// is set. An outside fault sweep (20 connections saved, then the server
// restarted or SIGKILLed) measured what each setting costs:
//
//	appendonly no, save ""         refused: a restart lost 20 of 20
//	                               connections, their grants left live
//	                               at the provider
//	appendonly no, save (RDB)      refused: with snapshots every 5 s a
//	                               SIGKILL reverted 20 of 20 to spent
//	                               refresh tokens (all reauth_required)
//	appendonly yes, appendfsync no refused: a process crash keeps the
//	                               writes (they are in the kernel), a
//	                               host crash or power loss loses what
//	                               the kernel had not flushed (about
//	                               30 s on Linux)
//	appendonly yes, everysec       accepted: lost nothing in the sweep; a
//	                               host crash or power loss can lose the
//	                               last second of writes (up to two when
//	                               the disk stalls)
//	appendonly yes, always         accepted, and recommended: every
//	                               acknowledged write is on disk
//	maxmemory-policy other than    refused: at the memory limit Redis
//	noeviction                     deletes keys, silently (allkeys-*: any
//	                               connection; volatile-*: locks and
//	                               replay records), even when maxmemory
//	                               is 0 today
//
// everysec is accepted: it lost nothing in the sweep, since a crash or
// kill of Redis itself loses nothing with it (Redis writes the file before
// it replies and only the fsync waits, except while an earlier fsync has
// stalled on a slow disk, when it may reply up to 2 s before writing). What
// it risks is a host crash or power loss: a connection saved in the last
// second then reverts (reauth_required at a rotating provider) or, if it
// was new, is gone. Choose always where that must not happen.
//
// The check (CheckDurability, which an application that opts out can
// call to log what it accepts) reads CONFIG GET appendonly, appendfsync,
// save and maxmemory-policy on every server behind the client: each
// primary and replica a Cluster client learns from CLUSTER SLOTS (a
// failover promotes a replica, so its settings count too; Redis lists a
// new replica there once it has reported its replication offset), each
// shard of a Ring, the server of a plain client, and only the current
// primary of a Sentinel (failover) client, whose replicas it does not
// see. Managed
// services often rename or deny CONFIG: then it reads INFO persistence
// (aof_enabled) and INFO memory (maxmemory_policy) instead, and cannot
// see appendfsync, which it then leaves unchecked. A server that refuses
// both is an error wrapping ErrDurabilityUnknown, refused settings one
// wrapping ErrVolatile; both name the server and the setting. New needs
// the server reachable for the check (at most 10 s); with AllowVolatile it
// does not contact Redis. Settings changed later (CONFIG SET) are not
// seen.
//
// Tests and development run on a Redis without persistence and set
// AllowVolatile. In production we recommend, in order:
//
//  1. PostgreSQL (store/sqlstore) as the authoritative token store when
//     running many instances, keeping Redis for caching if at all.
//  2. If Redis holds the tokens: appendonly yes with appendfsync always on
//     the primary and the replicas (every acknowledged write is on disk),
//     and with replicas Options.WaitReplicas so that Save returns only
//     after that many replicas have the write, so a failover to one of
//     them keeps it.
//  3. maxmemory-policy noeviction, with maxmemory large enough: a full
//     server then refuses writes (Save and Ping fail) instead of deleting
//     connections.
//
// WaitReplicas issues WAIT on the connection that wrote (on a cluster, the
// key's primary), in the same round trip. WAIT counts replicas that
// received the write, not ones that synced it to disk (WAITAOF, Redis 7.2,
// would). When fewer replicas acknowledge within WaitTimeout, Save, Delete
// and DeleteVersion return an error wrapping ErrNotReplicated even though
// the primary applied the write: see Store.Save. Locks and replay records
// are not waited for: a lock lost in a failover is covered by Save's
// compare-and-swap, and a lost replay record reopens one state's replay
// window, which the state cookie's expiry bounds.
//
// # Keys
//
// With the default prefix "oauthlink:", a Store uses:
//
//	oauthlink:conn:{OWNER}:PROVIDER   hash: one connection (all fields)
//	oauthlink:owner:{OWNER}           sorted set: the owner's providers
//	oauthlink:lock:{OWNER}:PROVIDER   string: lock owner value, PX ttl
//	oauthlink:state:KEY               string: consumed state, PX until expiry
//	oauthlink:ping                    string: written by Ping, PX 10 s
//	oauthlink:idx:{idx}:SET           sorted set: one of the nine Scan index sets
//	oauthlink:idx:{idx}:meta          hash: on a cluster, what the index holds
//	oauthlink:reindex                 hash: Reindex's progress while one runs
//
// OWNER, PROVIDER and KEY are escaped: bytes other than ASCII letters,
// digits and "-._~@+" become %XX (so ':', '{', '}', '%', '*' and every
// non-ASCII byte are escaped). The encoding is injective, so no two
// (provider, owner) pairs share a key, whatever bytes they contain, while
// ordinary names stay readable. The braces make the escaped owner a Redis
// Cluster hash tag: an owner's records, index and locks live in one slot,
// so the scripts that touch a record and its index together work on a
// cluster. Redis hashes the whole key when the braces are empty, so the
// empty owner's tag is {%}, which no escaped owner can be. The Scan
// index's keys share the tag {idx}, so the whole index lives in one slot
// (another than most records'). The prefix must not contain '{' or '}'.
//
// # Records and atomicity
//
// A connection is one hash holding both tokens, expiry, scopes, extra
// fields, retired grants, status, version and timestamps; every string is
// stored as its bytes, times as RFC 3339 with nanoseconds (a zero Expiry
// as 0001-01-01T00:00:00Z, which reads back as the zero time). The
// "retired" field holds Connection.Retired: empty when the list is, else a
// JSON array of {"token": base64 bytes, "kind": string, "since": RFC 3339},
// in the list's order; base64 keeps any token bytes exact, and kinds must
// be valid UTF-8. A record written before the field existed reads back
// with no retired grant. The "refreshed" field holds
// Connection.RefreshedAt, truncated to the millisecond, as 15 decimal
// digits of milliseconds since 0001-01-01T00:00:00Z, so that stored values
// sort as strings (the zero time is all zeros; a record written before the
// field existed reads back zero; Save refuses a time after the year
// 31690). The "e" field (epoch) is set when a record is created (or first
// saved by a version with Scan), from the clock of its server in
// microseconds, and kept by updates. Save is a Lua
// script that checks the stored version, then writes the whole hash and
// adds the provider to the owner's index; Delete is a script that removes
// both, and DeleteVersion one that removes both only if the stored version
// is the expected one. A script runs atomically, so readers see the old
// record or the new one. On a single server the same scripts update the
// Scan index (next section).
// Each Save carries a random write id, so a go-redis retry of a Save whose
// reply was lost finds its own write and succeeds instead of reporting a
// conflict.
//
// # Scan and its index
//
// Scan pages through connections without walking the keyspace: it reads a
// range of one of nine sorted sets, then the records the range names. In
// every set each connection has at most one member, of score 0, so members sort by
// their bytes (ZRANGEBYLEX). A member joins components with NUL NUL, each
// component with its NUL bytes escaped as NUL 0x01, which keeps byte
// order, so (provider, owner) pairs sort as the pairs do whatever bytes
// they hold; where a set is ordered by RefreshedAt, its 15 digits prefix a
// component. The sets, by name, and what they order by:
//
//	all     provider, owner                     every connection; by provider
//	st      status, provider, owner             by status (and provider)
//	acct    provider, account id, owner         by account id (with an id only)
//	ref     RefreshedAt, provider, owner        upkeep across providers
//	refp    provider, RefreshedAt, owner        upkeep of one provider
//	refs    status, RefreshedAt, provider, owner
//	refsp   status, provider, RefreshedAt, owner
//	acctr   provider, account id, RefreshedAt, owner
//	pend    provider, owner                     pending revocations only
//
// The pend set holds only the connections with a revocation left to do
// (store.Connection.PendingRevocation: disconnected, or with retired
// grants), so Query.PendingRevocation, the keeper's revocation retries,
// reads as many members as there are pending connections, not as there
// are connections. With RefreshedBefore it reads the upkeep order's set
// and checks the record instead.
//
// Each query reads the one set whose leading components are what it
// filters on and whose order is its order, so its matches are exactly one
// range and a page costs two round trips (the range, then the records,
// pipelined) whatever the fleet's size; with account id and status, or
// pending and status, the status is checked record by record. Scan
// returns a connection only when its record still matches the query and
// the member it was found by, so a member that is stale (its record
// changed or was deleted since) is skipped, never returned. A cursor is
// the last member's sort key in the codec every store shares, bound to
// the query's filters. The index costs memory: about 1,070 bytes per
// connection for records of about 620 bytes (measured on 100,000
// connections with Redis 7.0, before the pend set; see BenchmarkScan),
// plus a member of the pend set, about the size of the all set's, per
// pending connection.
//
// On a single server (a redis.Client, Sentinel included, without
// Options.SeparateIndex), Save, Delete
// and DeleteVersion update the index in the same script as the record: the
// index always holds exactly the current state of every record indexed,
// and a failover that loses a write loses the record's and the index's
// change together.
//
// On a Redis Cluster (or a Ring, or with Options.SeparateIndex), the
// index's slot is not the record's, and no script can write both. The index then changes in steps around the
// record's write, and the meta hash keeps, for each connection, the last
// state of its record the index applied, ordered by (epoch, version), and
// the intents of writes in flight:
//
//  1. Save first announces the state it will write as an intent: the index
//     holds the new state's members (beside the old ones) before the
//     record can hold that state.
//  2. It writes the record, as on a single server.
//  3. It settles: it drops its intent and applies the record's state the
//     write returned (its own, or the one that made it conflict), unless a
//     newer state was applied already. Delete deletes the record, then
//     applies the deletion.
//
// Scan applies, in the same way, the state it reads from each record whose
// members it met and whose index entry is not up to date. What this
// guarantees, on a cluster:
//
//   - Scan never returns a connection that does not match the query, nor a
//     deleted one, as on a single server.
//   - The index holds the members of every record's current state at every
//     moment: an intent holds them before the record can have them, until
//     a settlement applies that state or a later one. So a connection
//     present and unchanged during a whole scan is returned exactly once,
//     also when a writer died between its steps; what such a writer leaves
//     is stale members (its intent, the old state), which cost a Scan one
//     record read each and are removed once a Scan applies the record's
//     state and the intent is older than 10 minutes.
//   - The order is as on a single server, because a member's position is
//     checked against the record's value.
//
// It assumes that a command reaches Redis within 5 minutes of being sent,
// or never (so that an intent can be dropped after 10), that the clock of
// a record's primary does not go back between deleting and creating the
// record again (the epoch orders the two), and that the index's writes are
// not lost: WaitReplicas waits for the record's write only, so a failover
// of the index slot's primary, or its restart without an append-only file,
// can lose members of the index; run Reindex after one. A Save costs three
// round trips on a cluster (one on a single server), a Delete two.
//
// Records saved by a version without Scan are in no set. Reindex adds
// them: run it once after upgrading (it walks the keyspace with SCAN,
// which New never does); it is idempotent and resumes where an
// interrupted run stopped.
//
// The pend set came after the other eight. A version without it leaves
// the pending connections out of it: each joins it when this version
// saves it (the pending member of a pending state is written on every
// save, whatever else changed), and Reindex adds all of them, so run
// Reindex once every instance runs this version; until then the keeper
// retries only the revocations of connections saved since. On a split
// store the meta values of this version start with a mark; those of the
// previous version are read as of unknown pending, and the settlement of
// a record's state (a save, Reindex) rewrites them. The previous
// version's scripts cannot read the new meta values, so do not run both
// versions on one split store at once.
//
// # Locks, replay guard, ping
//
// Lock is a script equivalent to SET key value NX PX ttl with a random
// value, except that a key already holding that same value also counts as
// acquired (its PX is set to ttl again): go-redis sends a command again
// when the connection fails before the reply arrives, and an acquire whose
// success was lost on the wire must not make its caller wait for its own
// lock to expire. It is retried with jittered exponential backoff (2 ms to
// 200 ms) until it succeeds or ctx ends. It returns an store.Lease. Release is a script that deletes
// the key only if it still holds that value, so a holder whose lock
// expired cannot release its successor's. Renew is a script that sets the
// key's PX to the new ttl (PEXPIRE) only if GET still returns that value:
// an expired key reads as nil and a successor's key holds another value,
// so a holder whose lock expired or was taken gets an error wrapping
// store.ErrLeaseLost and cannot extend the successor's lock (then,
// and after Release, every later Renew fails the same way without asking
// Redis). Lease.Deadline is this process's clock reading taken just before
// the SET or the last successful renewal was sent, plus its ttl (rounded
// up to whole milliseconds, as PX is): Redis counts the ttl from the
// moment the command arrives, so its expiry is never earlier. The lock key
// carries the owner's hash tag, so the scripts run on a cluster too. A
// lease lives in the primary's memory only: a failover to a replica that
// had not received it loses it (see Durability).
// Consume is a script equivalent to SET key value NX PX (time until
// expires) with a random value: relative expiry, so the application's and
// Redis's clocks need not agree. As for Lock, a key already holding the
// caller's own value (a resent call whose reply was lost) counts as first. Ping sends PING and a
// SET of the ping key in one round trip: a replica or a server out of
// memory refuses the write.
package redisstore
