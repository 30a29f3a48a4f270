package redisstore

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// On a split store (Redis Cluster, a Ring, or SeparateIndex) a
// connection's record and the index live in different slots, so no script
// can write both. The index then changes in steps around the record's
// write, and a hash (the meta key, in the index's slot) records, for each
// connection, what the index holds for it:
//
//   - the applied state: the last state of the record that reached the
//     index, with its order key (epoch, version, deleted), or a deletion;
//   - intents: the states of writes sent but not yet settled, each with
//     the id of its write and the time (the index server's clock) it was
//     announced.
//
// The index holds exactly the members of the applied state (unless it is
// a deletion) and of every intent. Save announces its state as an intent
// before it writes the record (intendScript), so the index holds the new
// state's members before the record can have it; after the write it
// settles (applyScript): it drops its intent and applies the record's
// state that the write script returned, unless the applied state is
// newer. Scan applies the states it reads from records the same way.
// Order keys make applying commutative: a late, older state never
// replaces a newer one. An intent that nobody settled (its writer died) is
// dropped once older than intentExpiry, only by applyScript, whose state
// (or absence of one) was read from the record after that intent's write,
// if it ever landed, had landed.

// intentExpiry is how long an unsettled intent keeps its members. It is
// twice the longest delay the guarantee assumes between sending a command
// and Redis running it (5 minutes).
const intentExpiry = 10 * time.Minute

// settleTimeout bounds the index steps that run after a record's write,
// which do not end with the caller's context: the record is written.
const settleTimeout = 5 * time.Second

// luaMeta is the library of the split store's scripts, on top of luaIndex.
// KEYS are the nine index sets, then the meta hash. A meta value is a
// list of netstrings: the mark metaMark, then epoch, version, deleted
// ("1", "0", or empty when no state was applied), status, account id,
// refreshed, pending; then six per intent: write id, status, account id,
// refreshed, pending, time (seconds). A value without the mark was
// written by a version without the pending set (six fields, then five
// per intent, no pending): loadmeta reads its states as of unknown
// pending ('?', which has no member in the pending set), and newer takes
// a state read from the record, pending known, as newer than such an
// applied state of the same version, so that a settlement (Reindex's)
// brings the connection into the pending set.
var luaMeta = `
local EXPIRY = ` + strconv.Itoa(int(intentExpiry/time.Second)) + `
local MARK = '` + metaMark + `'
local function ns(list)
	local b = {}
	for i, s in ipairs(list) do b[i] = #s .. ':' .. s end
	return table.concat(b)
end
local function unns(s)
	local out, pos = {}, 1
	while pos <= #s do
		local c = string.find(s, ':', pos, true)
		local n = tonumber(string.sub(s, pos, c - 1))
		out[#out + 1] = string.sub(s, c + 1, c + n)
		pos = c + n + 1
	end
	return out
end
local function loadmeta(f)
	local raw = redis.call('HGET', KEYS[NSETS + 1], f)
	if not raw then return {'', '', '', '', '', '', ''} end
	local m = unns(raw)
	if m[1] == MARK then
		table.remove(m, 1)
		return m
	end
	local out = {m[1], m[2], m[3], m[4], m[5], m[6], '?'}
	for i = 7, #m, 5 do
		out[#out + 1] = m[i]
		out[#out + 1] = m[i + 1]
		out[#out + 1] = m[i + 2]
		out[#out + 1] = m[i + 3]
		out[#out + 1] = '?'
		out[#out + 1] = m[i + 4]
	end
	return out
end
local function states(m)
	local out = {}
	if m[3] == '0' then out[1] = {m[4], m[5], m[6], m[7]} end
	for i = 8, #m, 6 do out[#out + 1] = {m[i + 1], m[i + 2], m[i + 3], m[i + 4]} end
	return out
end
local function savemeta(f, p, o, old, m)
	move(0, union(p, o, states(old)), union(p, o, states(m)))
	if #m == 7 and m[3] ~= '0' then
		redis.call('HDEL', KEYS[NSETS + 1], f)
	else
		redis.call('HSET', KEYS[NSETS + 1], f, ns({MARK, unpack(m)}))
	end
end
local function newer(e, v, g, m)
	if m[3] == '' then return true end
	local a, b = tonumber(e), tonumber(m[1])
	if a ~= b then return a > b end
	a, b = tonumber(v), tonumber(m[2])
	if a ~= b then return a > b end
	if g ~= m[3] then return g > m[3] end
	return m[7] == '?'
end
`

// metaMark starts every meta value this version writes (see luaMeta).
const metaMark = "P"

// intendScript announces a write's state. ARGV: escaped provider and
// owner, write id, status, account id, stored refreshed, pending.
var intendScript = redis.NewScript(luaIndex + luaMeta + `
local f = ARGV[1] .. SEP .. ARGV[2]
local old = loadmeta(f)
local m = {unpack(old)}
local t = redis.call('TIME')
for _, x in ipairs({ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], t[1]}) do m[#m + 1] = x end
savemeta(f, ARGV[1], ARGV[2], old, m)
return 1
`)

// applyScript settles connections, ten ARGV each: escaped provider and
// owner, the write id whose intent to drop (empty for none), the kind of
// state ('live', 'gone' or 'none' to apply nothing), its epoch and
// version (for 'gone', those of the state it deleted), status, account
// id, stored refreshed, pending. Expired intents are dropped.
var applyScript = redis.NewScript(luaIndex + luaMeta + `
local now = tonumber(redis.call('TIME')[1])
for i = 1, #ARGV, 10 do
	local p, o, id, kind = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
	local f = p .. SEP .. o
	local old = loadmeta(f)
	local m = {old[1], old[2], old[3], old[4], old[5], old[6], old[7]}
	for j = 8, #old, 6 do
		if old[j] ~= id and tonumber(old[j + 5]) > now - EXPIRY then
			for k = 0, 5 do m[#m + 1] = old[j + k] end
		end
	end
	if kind ~= 'none' then
		local g = (kind == 'gone') and '1' or '0'
		if newer(ARGV[i + 4], ARGV[i + 5], g, m) then
			m[1], m[2], m[3], m[4], m[5], m[6], m[7] = ARGV[i + 4], ARGV[i + 5], g, ARGV[i + 6], ARGV[i + 7], ARGV[i + 8], ARGV[i + 9]
		end
	end
	savemeta(f, p, o, old, m)
end
return 1
`)

// pageScript reads a page of an index set and, for each member, the meta
// value of its connection (empty when none), in one script so that the meta
// is read before the records are. KEYS: the set, the meta hash. ARGV:
// ZRANGEBYLEX min and max, count, then the positions (from 1) of the
// provider and owner components and of the component the refreshed
// digits prefix (0 for none). It returns member, meta, member, meta...
var pageScript = redis.NewScript(`
local SEP = '\0\0'
local ms = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local pi, oi, ri = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local out = {}
for i, m in ipairs(ms) do
	local parts, pos = {}, 1
	while true do
		local c = string.find(m, SEP, pos, true)
		if not c then
			parts[#parts + 1] = string.sub(m, pos)
			break
		end
		parts[#parts + 1] = string.sub(m, pos, c - 1)
		pos = c + 2
	end
	local p, o = parts[pi] or '', parts[oi] or ''
	if ri == pi then p = string.sub(p, ` + strconv.Itoa(refreshedDigits+1) + `) end
	if ri == oi then o = string.sub(o, ` + strconv.Itoa(refreshedDigits+1) + `) end
	out[2 * i - 1] = m
	out[2 * i] = redis.call('HGET', KEYS[2], p .. SEP .. o) or ''
end
return out
`)

// The kinds of state applyScript takes.
const (
	stateLive = "live"
	stateGone = "gone"
	stateNone = "none"
)

// pendingArg is the scripts' form of a state's pending flag.
func pendingArg(pending bool) string {
	if pending {
		return "1"
	}
	return ""
}

// settlement is one connection's group of applyScript arguments.
type settlement struct {
	e       entry  // names, and the state's values for stateLive
	resolve string // write id whose intent to drop, or ""
	kind    string
	epoch   string
	version string
}

// intend runs intendScript for a write of e with write id id.
func (s *Store) intend(ctx context.Context, e entry, id string) error {
	keys := append(s.setKeys(), s.metaKey())
	return intendScript.Run(ctx, s.client, keys, escNUL(e.provider), escNUL(e.owner), id,
		e.status, e.account, e.refreshed, pendingArg(e.pending)).Err()
}

// apply runs applyScript for the settlements.
func (s *Store) apply(ctx context.Context, sts []settlement) error {
	if len(sts) == 0 {
		return nil
	}
	args := make([]any, 0, 10*len(sts))
	for _, st := range sts {
		args = append(args, escNUL(st.e.provider), escNUL(st.e.owner), st.resolve, st.kind,
			st.epoch, st.version, st.e.status, st.e.account, st.e.refreshed, pendingArg(st.e.pending))
	}
	return applyScript.Run(ctx, s.client, append(s.setKeys(), s.metaKey()), args...).Err()
}

// settle applies sts after a record's write, even when ctx has ended: the
// record is written, and the index should follow. Its error is dropped:
// the intent the writer announced keeps the index holding the new state
// until a later settlement or Scan applies it.
func (s *Store) settle(ctx context.Context, sts ...settlement) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	_ = s.apply(ctx, sts)
}

// metaInfo is what Scan needs of a meta value: the order key of the
// applied state ("" epoch when none) and whether intents are pending.
type metaInfo struct {
	epoch, version, deleted string
	intents                 bool
}

// parseMeta reads a meta value, of this version (marked) or of a version
// without the pending set; ok is false when raw is malformed.
func parseMeta(raw string) (m metaInfo, ok bool) {
	var fields []string
	for raw != "" {
		n, rest, found := strings.Cut(raw, ":")
		size, err := strconv.Atoi(n)
		if !found || err != nil || size < 0 || size > len(rest) {
			return metaInfo{}, false
		}
		fields, raw = append(fields, rest[:size]), rest[size:]
	}
	if len(fields) == 0 {
		return metaInfo{}, true
	}
	state := 6 // the applied state's fields
	if fields[0] == metaMark {
		fields, state = fields[1:], 7
	}
	if len(fields) < state {
		return metaInfo{}, false
	}
	return metaInfo{epoch: fields[0], version: fields[1], deleted: fields[2], intents: len(fields) > state}, true
}
