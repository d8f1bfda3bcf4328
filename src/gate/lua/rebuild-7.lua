--[[
  Reconciliation: rebuilds a sale's gate from PostgreSQL plus the purchases still in
  flight, in one atomic step. The caller holds the sale's PostgreSQL advisory lock, so
  no worker commits a decision while this runs; purchases admitted meanwhile are found
  in the purchases hash (queued, not decided) and stay counted.

  Input:
    KEYS[1] sale meta hash
    KEYS[2] sale remaining units
    KEYS[3] per-user units hash
    KEYS[4] idempotency hash
    KEYS[5] purchases hash        (purchaseId -> "status|quantity|createdAtMs|userId")
    KEYS[6] stats hash
    KEYS[7] unqueued hash         (entries of purchases no longer queued are dropped)

    ARGV[1] JSON payload (numbers that are concatenated into records travel as strings):
      meta        [field, value, ...]        the sale's metadata, from PostgreSQL
      pgRemaining "n"                        sale_inventory.remaining
      users       {userId: "units"}          confirmed units per user, from PostgreSQL
      decided     {purchaseId: [status, reason]}
                                             pending purchases PostgreSQL already decided
                                             (committed, finalize not applied yet)
      orphans     {purchaseId: true}         admitted long ago and never enqueued; the
                                             caller recorded them rejected (ENQUEUE_FAILED)
      jobs        list of [purchaseId, "qty", "createdAtMs", userId, scopedIdemKey | "", finalStatus | ""]
                                             queued jobs PostgreSQL has not decided; their
                                             record is recreated when Redis lost it
                                             (finalStatus: the API had released it already)
      keyed       list of [purchaseId, status, "qty", "createdAtMs", userId, scopedIdemKey]
                                             decided purchases that used an Idempotency-Key,
                                             remembered again when Redis forgot the key
      stats       {admitted, admittedUnits, confirmed, rejected = {REASON: n}}
                                             PostgreSQL's counts, used only if the stats hash is gone
      expireAt    "epoch ms"                 every key's expiry

  Output: { remaining, inflightPurchases, inflightUnits, hadMeta (0|1), settled, orphaned }
    A purchase is in flight when it is queued or processing here (or only in the queue)
    and PostgreSQL has not decided it: its units stay taken from remaining and its
    buyer's total, so its eventual finalize (or release) applies exactly once.
]]
--- @include "records"
local p = cjson.decode(ARGV[1])
local hadMeta = redis.call('EXISTS', KEYS[1])
local statsGone = redis.call('EXISTS', KEYS[6]) == 0

local wasCancelled = redis.call('HGET', KEYS[1], 'cancelled') == '1'
redis.call('HSET', KEYS[1], unpack(p.meta))
-- Hashes this rebuild does not create get their expiry from the next admission (admit-8's `kept`).
redis.call('HDEL', KEYS[1], 'kept')
-- Cancellation is one-way: a flag the gate already has (set before PostgreSQL commits it) stays.
if wasCancelled then redis.call('HSET', KEYS[1], 'cancelled', 1) end

local users = {}
for userId, units in pairs(p.users) do users[userId] = tonumber(units) end

local inflight, inflightUnits, settled, orphaned = 0, 0, 0, 0
local function hold(userId, q)
  inflight = inflight + 1
  inflightUnits = inflightUnits + q
  users[userId] = (users[userId] or 0) + q
end
-- When the stats hash is gone it is rebuilt whole from PostgreSQL below: no increments then.
local function bump(field, by)
  if not statsGone then redis.call('HINCRBY', KEYS[6], field, by) end
end

local known = {}
local entries = redis.call('HGETALL', KEYS[5])
for i = 1, #entries, 2 do
  local pid = entries[i]
  known[pid] = true
  local status, q, createdAt, userId = parseRecord(entries[i + 1])
  if status == 'queued' or status == 'processing' then
    local decided = p.decided[pid]
    if decided then
      -- Committed before the lock; the worker's finalize will now find it final and do nothing.
      redis.call('HSET', KEYS[5], pid, formatRecord(decided[1], q, createdAt, userId))
      if decided[1] == 'rejected' then bump('rejected:' .. decided[2], 1) else bump('confirmed', 1) end
      settled = settled + 1
    elseif p.orphans[pid] then
      -- As release-6 would have done, had the API been able to.
      redis.call('HSET', KEYS[5], pid, formatRecord('rejected', q, createdAt, userId))
      bump('admitted', -1)
      bump('admittedUnits', -tonumber(q))
      bump('rejected:ENQUEUE_FAILED', 1)
      orphaned = orphaned + 1
    else
      hold(userId, tonumber(q))
    end
  end
end

for _, job in ipairs(p.jobs) do
  local pid, q, createdAt, userId, idemKey, final = job[1], job[2], job[3], job[4], job[5], job[6]
  if not known[pid] then
    if final ~= '' then
      -- Released by the API before Redis lost it: the worker must skip it, not confirm it.
      redis.call('HSET', KEYS[5], pid, formatRecord(final, q, createdAt, userId))
    else
      redis.call('HSET', KEYS[5], pid, formatRecord('queued', q, createdAt, userId))
      hold(userId, tonumber(q))
      if idemKey ~= '' then redis.call('HSETNX', KEYS[4], idemKey, pid) end
    end
  end
end

for _, k in ipairs(p.keyed) do
  local pid, status, q, createdAt, userId, idemKey = k[1], k[2], k[3], k[4], k[5], k[6]
  if redis.call('HSETNX', KEYS[4], idemKey, pid) == 1 then
    redis.call('HSETNX', KEYS[5], pid, formatRecord(status, q, createdAt, userId))
  end
end

local remaining = tonumber(p.pgRemaining) - inflightUnits
redis.call('SET', KEYS[2], remaining)
-- The shoppers' attempt windows (r:) and latest purchase ids (p:) are the gate's own: kept.
local own = {}
local fields = redis.call('HGETALL', KEYS[3])
for i = 1, #fields, 2 do
  local f = fields[i]
  if string.sub(f, 1, 2) == 'r:' or string.sub(f, 1, 2) == 'p:' then
    own[#own + 1] = f
    own[#own + 1] = fields[i + 1]
  end
end
redis.call('DEL', KEYS[3])
if #own > 0 then redis.call('HSET', KEYS[3], unpack(own)) end
for userId, units in pairs(users) do
  if units > 0 then redis.call('HSET', KEYS[3], userId, units) end
end

if statsGone then
  local s = p.stats
  redis.call('HSET', KEYS[6],
    'admitted', tonumber(s.admitted) + inflight,
    'admittedUnits', tonumber(s.admittedUnits) + inflightUnits,
    'confirmed', tonumber(s.confirmed))
  for reason, n in pairs(s.rejected) do redis.call('HSET', KEYS[6], 'rejected:' .. reason, tonumber(n)) end
end
-- Pending = admittedUnits - decidedUnits: what is in flight now is what stays pending.
local admittedUnits = tonumber(redis.call('HGET', KEYS[6], 'admittedUnits') or '0')
redis.call('HSET', KEYS[6], 'decidedUnits', admittedUnits - inflightUnits)

-- Only a purchase still queued here can be an orphan; the rest are decided or claimed.
local unqueued = redis.call('HKEYS', KEYS[7])
for _, pid in ipairs(unqueued) do
  local rec = redis.call('HGET', KEYS[5], pid)
  if not rec or parseRecord(rec) ~= 'queued' then redis.call('HDEL', KEYS[7], pid) end
end

for i = 1, 7 do redis.call('PEXPIREAT', KEYS[i], p.expireAt) end
return { remaining, inflight, inflightUnits, hadMeta, settled, orphaned }
