package redisstore

import "github.com/redis/go-redis/v9"

// luaIndex is the index's Lua library, the counterpart of members.go:
// entries builds a connection state's members in the eight sets (KEYS
// base+1 to base+8, in indexSet order; false where it has none), swap
// turns one state's members into another's, union collects the members of
// several states, and move turns one collection into another (the split
// store's meta, split.go). A state is {status, account id, stored
// refreshed}; p and o are the escaped provider and owner.
const luaIndex = `
local SEP = '\0\0'
local ZERO = '` + zeroRefreshed + `'
local function esc(s) return (string.gsub(s, '%z', '\0\1')) end
local function entries(p, o, st, acct, r)
	local m, s = p .. SEP .. o, esc(st) .. SEP
	local e = {m, s .. m, false, r .. m, p .. SEP .. r .. o, s .. r .. m, s .. p .. SEP .. r .. o, false}
	if acct ~= '' then
		local a = p .. SEP .. esc(acct) .. SEP
		e[3], e[8] = a .. o, a .. r .. o
	end
	return e
end
local function union(p, o, states)
	local u = {{}, {}, {}, {}, {}, {}, {}, {}}
	for _, x in ipairs(states) do
		local e = entries(p, o, x[1], x[2], x[3])
		for k = 1, 8 do
			if e[k] then u[k][e[k]] = true end
		end
	end
	return u
end
-- move adds the members only new has, then removes those only old has.
-- Adding first means an out-of-memory error fails the script before it
-- changed anything (Redis refuses the first write and allows the rest).
local function move(base, old, new)
	for k = 1, 8 do
		local add = {}
		for m in pairs(new[k]) do
			if not old[k][m] then
				add[#add + 1] = 0
				add[#add + 1] = m
			end
		end
		if #add > 0 then redis.call('ZADD', KEYS[base + k], unpack(add)) end
	end
	for k = 1, 8 do
		for m in pairs(old[k]) do
			if not new[k][m] then redis.call('ZREM', KEYS[base + k], m) end
		end
	end
end
-- swap is move for one state at most on each side (nil for none), as
-- entries returns them, comparing the two members of each set; with
-- every, it adds all of new's (a record that may not be indexed yet).
local function swap(base, old, new, every)
	for k = 1, 8 do
		local n = new and new[k]
		if n and (every or not old or old[k] ~= n) then redis.call('ZADD', KEYS[base + k], 0, n) end
	end
	for k = 1, 8 do
		local o = old and old[k]
		if o and not (new and new[k] == o) then redis.call('ZREM', KEYS[base + k], o) end
	end
end
-- recstate reads a record's indexed state, nil when there is none.
local function recstate(key)
	local h = redis.call('HMGET', key, 'v', 'status', 'account_id', 'refreshed')
	if not h[1] then return nil end
	return {h[2] or '', h[3] or '', h[4] or ZERO}
end
`

// saveScript is the compare-and-swap write. KEYS: record, owner index,
// then, on a store whose index lives with its records, the eight index
// sets, which it updates in the same script. ARGV: expected version ("0"
// to create), new version, provider (owner index member), now, write id,
// escaped provider and owner (index members), the new status, account id
// and stored refreshed, then field/value pairs. It returns {1} when
// written, {0} on a version mismatch, followed by the record's state after
// the call when there is a record: epoch, version, status, account id,
// stored refreshed. A retry of a write that already applied (same write
// id, version already new) returns 1 without writing again. A record
// without an epoch (a create, or a record written before the index
// existed) gets one from the server's clock (TIME, microseconds) and all
// its members; a record with one was written by this script, so its
// members are in the index, and only those that change are written.
var saveScript = redis.NewScript(luaIndex + `
local cur = redis.call('HMGET', KEYS[1], 'v', 'w', 'e', 'status', 'account_id', 'refreshed')
local function state(n, e, v, st, acct, r)
	if not v then return {n} end
	return {n, e or '0', v, st or '', acct or '', r or ZERO}
end
if cur[1] == ARGV[2] and cur[2] == ARGV[5] then
	return state(1, cur[3], cur[1], cur[4], cur[5], cur[6])
end
if (ARGV[1] == '0' and cur[1]) or (ARGV[1] ~= '0' and cur[1] ~= ARGV[1]) then
	return state(0, cur[3], cur[1], cur[4], cur[5], cur[6])
end
local p, o, st, acct, r = ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]
if #KEYS > 2 and not (cur[3] and cur[4] == st and cur[5] == acct and (cur[6] or ZERO) == r) then
	local old = nil
	if cur[1] then old = entries(p, o, cur[4] or '', cur[5] or '', cur[6] or ZERO) end
	swap(2, old, entries(p, o, st, acct, r), not cur[3])
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
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'w', ARGV[5], 'updated', ARGV[4], unpack(ARGV, 11))
return state(1, e, ARGV[2], st, acct, r)
`)

// deleteScript removes a record, its owner index entry and, on a store
// whose index lives with its records, its index members. KEYS: record,
// owner index, then the eight index sets or none. ARGV: provider, the
// expected version ("" for any), escaped provider and owner. It returns
// {0} on a version mismatch, else {1} followed by the deleted record's
// epoch and version when there was one. A missing record still has its
// owner index entry removed: an entry without a record is left only by a
// failed write.
var deleteScript = redis.NewScript(luaIndex + `
local cur = redis.call('HMGET', KEYS[1], 'v', 'e', 'status', 'account_id', 'refreshed')
if ARGV[2] ~= '' and cur[1] and cur[1] ~= ARGV[2] then
	return {0}
end
if cur[1] and #KEYS > 2 then
	swap(2, entries(ARGV[3], ARGV[4], cur[3] or '', cur[4] or '', cur[5] or ZERO), nil, false)
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if cur[1] then return {1, cur[2] or '0', cur[1]} end
return {1}
`)

// reindexScript adds records to the index of a store whose index lives
// with its records, reading each record in the script so that no Save
// lands between the read and the index write. KEYS: the eight index sets,
// then the records. ARGV: the escaped provider and owner of each record.
// It returns how many records it indexed (missing ones are skipped).
var reindexScript = redis.NewScript(luaIndex + `
local n = 0
for i = 9, #KEYS do
	local st = recstate(KEYS[i])
	if st then
		local p, o = ARGV[2 * (i - 9) + 1], ARGV[2 * (i - 9) + 2]
		swap(0, nil, entries(p, o, st[1], st[2], st[3]), true)
		n = n + 1
	end
end
return n
`)
