--[[
  Admits one purchase attempt for a sale, atomically: window and cancellation,
  idempotency key, stock, per-user limit, then the reservation itself.

  Input:
    KEYS[1] sale meta hash        (startsAt, endsAt, cancelled, perUserLimit)
    KEYS[2] sale remaining units  (string integer)
    KEYS[3] per-user units hash   (userId -> units reserved, queued or confirmed)
    KEYS[4] idempotency hash      (scopedKey -> purchaseId)
    KEYS[5] purchases hash        (purchaseId -> "status|quantity|createdAtMs|userId")
    KEYS[6] stats hash            (admitted, admittedUnits, pendingUnits, refused:<CODE> for 409s)
    KEYS[7] unqueued hash         (purchaseId -> "admittedAtMs|scopedIdemKey"): admitted, no queue
                                  job known yet; the API's marker, the worker's claim or the
                                  orphan sweep removes the entry

    ARGV[1] purchaseId (fresh UUID from the caller; a replayed command finds it and returns it)
    ARGV[2] userId
    ARGV[3] quantity (integer >= 1)
    ARGV[4] now, epoch ms
    ARGV[5] scoped idempotency key, or "" when the request carried none
    ARGV[6] key retention after the sale ends, ms (keys this script creates expire at endsAt + it)

  Output: { code, purchaseId, status, createdAtMs, quantity }
     1  admitted (new purchase, status queued)
     2  existing purchase returned (same idempotency key, or a replay of this very command)
    -1  sale not loaded in Redis
    -2  SALE_NOT_STARTED   -3 SALE_ENDED   -4 SALE_CANCELLED
    -5  SOLD_OUT (second element: units remaining, so callers can cache "0 left")
    -6  LIMIT_EXCEEDED
    -7  IDEMPOTENCY_CONFLICT (same key, different quantity)
]]
--- @include "records"
local pid = ARGV[1]
local userId = ARGV[2]
local qty = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local idemKey = ARGV[5]

local function existing(id)
  local rec = redis.call('HGET', KEYS[5], id)
  if not rec then return nil end
  local status, q, createdAt = parseRecord(rec)
  return { 2, id, status, tonumber(createdAt), tonumber(q) }
end

-- A replayed command (client reconnect) must not reserve twice.
local replay = existing(pid)
if replay then return replay end

local meta = redis.call('HMGET', KEYS[1], 'startsAt', 'endsAt', 'cancelled', 'perUserLimit', 'kept')
if not meta[1] then return { -1 } end

if idemKey ~= '' then
  local prior = redis.call('HGET', KEYS[4], idemKey)
  if prior then
    local found = existing(prior)
    if found then
      if found[5] ~= qty then return { -7, prior } end
      return found
    end
  end
end

-- Hashes created here after the sale was loaded must expire with the sale's other keys.
-- The users, purchases and stats hashes never empty once created, so after the first
-- admission has given them their expiry (meta `kept`, cleared when the gate is (re)loaded)
-- they are not looked at again: three PTTLs less per admission. The unqueued hash empties
-- as jobs land and the idempotency hash may not exist yet: those are always looked at.
local expireAt = tonumber(meta[2]) + tonumber(ARGV[6])
local kept = meta[5] == '1'
local function keep(key)
  if redis.call('PTTL', key) == -1 then redis.call('PEXPIREAT', key, expireAt) end
end
local function keepOnce(key)
  if not kept then keep(key) end
end

local function refuse(code, name, extra)
  redis.call('HINCRBY', KEYS[6], 'refused:' .. name, 1)
  keepOnce(KEYS[6])
  return { code, extra }
end

if meta[3] == '1' then return refuse(-4, 'SALE_CANCELLED') end
if now < tonumber(meta[1]) then return refuse(-2, 'SALE_NOT_STARTED') end
if now >= tonumber(meta[2]) then return refuse(-3, 'SALE_ENDED') end

local remaining = tonumber(redis.call('GET', KEYS[2]) or '0')
if remaining < qty then return refuse(-5, 'SOLD_OUT', remaining) end

local held = tonumber(redis.call('HGET', KEYS[3], userId) or '0')
if held + qty > tonumber(meta[4]) then return refuse(-6, 'LIMIT_EXCEEDED') end

redis.call('DECRBY', KEYS[2], qty)
redis.call('HINCRBY', KEYS[3], userId, qty)
redis.call('HSET', KEYS[5], pid, formatRecord('queued', qty, now, userId))
if idemKey ~= '' then redis.call('HSET', KEYS[4], idemKey, pid) end
redis.call('HSET', KEYS[7], pid, formatUnqueued(now, idemKey))
redis.call('HINCRBY', KEYS[6], 'admitted', 1)
redis.call('HINCRBY', KEYS[6], 'admittedUnits', qty)
-- Units admitted but not yet decided by a worker: stats compare remaining + these with PostgreSQL.
redis.call('HINCRBY', KEYS[6], 'pendingUnits', qty)
keepOnce(KEYS[3])
keepOnce(KEYS[5])
keepOnce(KEYS[6])
if not kept then redis.call('HSET', KEYS[1], 'kept', '1') end
keep(KEYS[7])
if idemKey ~= '' then keep(KEYS[4]) end
return { 1, pid, 'queued', now, qty }
