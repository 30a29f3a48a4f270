package redisstore

import (
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/oauthlink/oauthlink/store"
)

// luaIndex is the index's Lua library, the counterpart of members.go:
// entries builds a connection state's members in the nine sets (KEYS
// base+1 to base+NSETS, in indexSet order; false where it has none), swap
// turns one state's members into another's, union collects the members of
// several states, and move turns one collection into another (the split
// store's meta, split.go). A state is {status, account id, stored
// refreshed, pending}, pending being '1' for a connection with a
// revocation left to do (store.Connection.PendingRevocation), empty for
// one without, and '?' where a version without the pending set recorded
// the state (split.go); p and o are the escaped provider and owner.
var luaIndex = `
local SEP = '\0\0'
local ZERO = '` + zeroRefreshed + `'
local NSETS = ` + strconv.Itoa(int(numSets)) + `
local function esc(s) return (string.gsub(s, '%z', '\0\1')) end
-- pendof is store.Connection.PendingRevocation on a record's stored
-- status and retired fields (retired is '' when the list is empty, and
-- absent in a record written before the field existed).
local function pendof(st, ret)
	if st == '` + string(store.StatusDisconnected) + `' or (ret and ret ~= '') then return '1' end
	return ''
end
local function entries(p, o, st, acct, r, pend)
	local m, s = p .. SEP .. o, esc(st) .. SEP
	local e = {m, s .. m, false, r .. m, p .. SEP .. r .. o, s .. r .. m, s .. p .. SEP .. r .. o, false, false}
	if acct ~= '' then
		local a = p .. SEP .. esc(acct) .. SEP
		e[3], e[8] = a .. o, a .. r .. o
	end
	if pend == '1' then e[9] = m end
	return e
end
local function union(p, o, states)
	local u = {}
	for k = 1, NSETS do u[k] = {} end
	for _, x in ipairs(states) do
		local e = entries(p, o, x[1], x[2], x[3], x[4])
		for k = 1, NSETS do
			if e[k] then u[k][e[k]] = true end
		end
	end
	return u
end
-- move adds the members only new has, then removes those only old has.
-- Adding first means an out-of-memory error fails the script before it
-- changed anything (Redis refuses the first write and allows the rest).
local function move(base, old, new)
	for k = 1, NSETS do
		local add = {}
		for m in pairs(new[k]) do
			if not old[k][m] then
				add[#add + 1] = 0
				add[#add + 1] = m
			end
		end
		if #add > 0 then redis.call('ZADD', KEYS[base + k], unpack(add)) end
	end
	for k = 1, NSETS do
		for m in pairs(old[k]) do
			if not new[k][m] then redis.call('ZREM', KEYS[base + k], m) end
		end
	end
end
-- swap is move for one state at most on each side (nil for none), as
-- entries returns them, comparing the two members of each set; with
-- every, it adds all of new's (a record that may not be indexed yet).
local function swap(base, old, new, every)
	for k = 1, NSETS do
		local n = new and new[k]
		if n and (every or not old or old[k] ~= n) then redis.call('ZADD', KEYS[base + k], 0, n) end
	end
	for k = 1, NSETS do
		local o = old and old[k]
		if o and not (new and new[k] == o) then redis.call('ZREM', KEYS[base + k], o) end
	end
end
-- recstate reads a record's indexed state, nil when there is none.
local function recstate(key)
	local h = redis.call('HMGET', key, 'v', 'status', 'account_id', 'refreshed', 'retired')
	if not h[1] then return nil end
	return {h[2] or '', h[3] or '', h[4] or ZERO, pendof(h[2], h[5])}
end
`

// entries lists the sets in indexSet order, the pending set ninth: these
// constants fail to compile when it moves.
const (
	_ = uint(setPending - 8)
	_ = uint(8 - setPending)
	_ = uint(numSets - 9)
	_ = uint(9 - numSets)
)

// saveScript is the compare-and-swap write. KEYS: record, owner index,
// then, on a store whose index lives with its records, the nine index
// sets, which it updates in the same script. ARGV: expected version ("0"
// to create), new version, provider (owner index member), now, write id,
// escaped provider and owner (index members), the new status, account
// id, stored refreshed and pending ('1' or empty), then field/value pairs.
// It returns {1} when written, {0} on a version mismatch, followed by
// the record's state after the call when there is a record: epoch,
// version, status, account id, stored refreshed, pending. A retry of a
// write that already applied (same write id, version already new)
// returns 1 without writing again. A record without an epoch (a create,
// or a record written before the index existed) gets one from the
// server's clock (TIME, microseconds) and all its members; a record with
// one was written by this script, so its members are in the index, and
// only those that change are written, except the pending set's member of
// a pending state, which is added on every save: a record a version
// without the pending set wrote has an epoch but no such member, and
// joins the set on its next save by this version.
var saveScript = redis.NewScript(luaIndex + `
local cur = redis.call('HMGET', KEYS[1], 'v', 'w', 'e', 'status', 'account_id', 'refreshed', 'retired')
local curpend = pendof(cur[4], cur[7])
local function state(n, e, v, st, acct, r, pend)
	if not v then return {n} end
	return {n, e or '0', v, st or '', acct or '', r or ZERO, pend}
end
if cur[1] == ARGV[2] and cur[2] == ARGV[5] then
	return state(1, cur[3], cur[1], cur[4], cur[5], cur[6], curpend)
end
if (ARGV[1] == '0' and cur[1]) or (ARGV[1] ~= '0' and cur[1] ~= ARGV[1]) then
	return state(0, cur[3], cur[1], cur[4], cur[5], cur[6], curpend)
end
local p, o, st, acct, r, pend = ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11]
if #KEYS > 2 then
	if pend == '1' then redis.call('ZADD', KEYS[2 + NSETS], 0, p .. SEP .. o) end
	if not (cur[3] and cur[4] == st and cur[5] == acct and (cur[6] or ZERO) == r and curpend == pend) then
		local old = nil
		if cur[1] then old = entries(p, o, cur[4] or '', cur[5] or '', cur[6] or ZERO, curpend) end
		swap(2, old, entries(p, o, st, acct, r, pend), not cur[3])
	end
end
redis.call('ZADD', KEYS[2], 0, ARGV[3])
local e = cur[3]
if not e then
	local t = redis.call('TIME')
	e = t[1] .. string.format('%06d', tonumber(t[2]))
	redis.call('HSET', KEYS[1], 'e', e)
end
if ARGV[1] == '0' then
	redis.call('HSET', KEYS[1], 'created', ARGV[4])
end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'w', ARGV[5], 'updated', ARGV[4], unpack(ARGV, 12))
return state(1, e, ARGV[2], st, acct, r, pend)
`)

// deleteScript removes a record, its owner index entry and, on a store
// whose index lives with its records, its index members. KEYS: record,
// owner index, then the nine index sets or none. ARGV: provider, the
// expected version ("" for any), escaped provider and owner. It returns
// {0} on a version mismatch, else {1} followed by the deleted record's
// epoch and version when there was one. A missing record still has its
// owner index entry removed: an entry without a record is left only by a
// failed write.
var deleteScript = redis.NewScript(luaIndex + `
local cur = redis.call('HMGET', KEYS[1], 'v', 'e', 'status', 'account_id', 'refreshed', 'retired')
if ARGV[2] ~= '' and cur[1] and cur[1] ~= ARGV[2] then
	return {0}
end
if cur[1] and #KEYS > 2 then
	swap(2, entries(ARGV[3], ARGV[4], cur[3] or '', cur[4] or '', cur[5] or ZERO, pendof(cur[3], cur[6])), nil, false)
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if cur[1] then return {1, cur[2] or '0', cur[1]} end
return {1}
`)

// reindexScript adds records to the index of a store whose index lives
// with its records, reading each record in the script so that no Save
// lands between the read and the index write. KEYS: the nine index sets,
// then the records. ARGV: the escaped provider and owner of each record.
// It returns how many records it indexed (missing ones are skipped).
var reindexScript = redis.NewScript(luaIndex + `
local n = 0
for i = NSETS + 1, #KEYS do
	local st = recstate(KEYS[i])
	if st then
		local p, o = ARGV[2 * (i - NSETS - 1) + 1], ARGV[2 * (i - NSETS - 1) + 2]
		swap(0, nil, entries(p, o, st[1], st[2], st[3], st[4]), true)
		n = n + 1
	end
end
return n
`)
