--[[
  Admits one purchase attempt for a sale, atomically: window and cancellation,
  idempotency key, the shopper's attempt rate, stock, per-user limit, then the
  reservation itself. Ten commands on the admitting path (one sent, nine inside):
  every one is listed in docs/architecture.md, "Redis per purchase". With the sale's
  waiting room on (meta `room` = 1, read by the same HMGET), the pass is taken off the
  room's live passes in the same step, so a pass admits once; with the room off, KEYS[8]
  is never touched and admission costs what it did.

  Input:
    KEYS[1] sale meta hash        (startsAt, endsAt, cancelled, perUserLimit, kept, room)
    KEYS[2] sale remaining units  (string integer)
    KEYS[3] per-shopper hash      (userId -> units reserved, queued or confirmed;
                                   r:<userId> -> "attempts|windowStartMs";
                                   p:<userId> -> the shopper's latest purchase ids here, comma-separated)
    KEYS[4] idempotency hash      (scopedKey -> purchaseId)
    KEYS[5] purchases hash        (purchaseId -> "status|quantity|createdAtMs|userId")
    KEYS[6] stats hash            (admitted, admittedUnits, decidedUnits, refused:<CODE> for 409s)
    KEYS[7] unqueued hash         (purchaseId -> "admittedAtMs|scopedIdemKey"): admitted, no queue
                                  job known yet; the API's marker, the worker's claim or the
                                  orphan sweep removes the entry. Its `~` field keeps it from
                                  ever emptying (and so from losing its expiry).
    KEYS[8] the waiting room's live passes (zset placeId -> expiresAtMs); only with the room on

    ARGV[1] purchaseId (fresh id from the caller; a replayed command finds it among the
            shopper's latest ids and returns it)
    ARGV[2] userId
    ARGV[3] quantity (integer >= 1)
    ARGV[4] now, epoch ms
    ARGV[5] scoped idempotency key, or "" when the request carried none
    ARGV[6] key retention after the sale ends, ms (keys this script creates expire at endsAt + it)
    ARGV[7] attempts one shopper may make per window on this sale (0: no limit)
    ARGV[8] the attempt window, ms
    ARGV[9] how many of the shopper's latest purchase ids p:<userId> keeps
    ARGV[10] the place id of the shopper's pass ("" when the request carried none); its
             signature, owner, sale and expiry were checked by the API before this call

  Output: { code, purchaseId, status, createdAtMs, quantity }
     1  admitted (new purchase, status queued)
     2  existing purchase returned (same idempotency key, or a replay of this very command)
    -1  sale not loaded in Redis
    -2  SALE_NOT_STARTED   -3 SALE_ENDED   -4 SALE_CANCELLED
    -5  SOLD_OUT (second element: units remaining, so callers can cache "0 left")
    -6  LIMIT_EXCEEDED
    -7  IDEMPOTENCY_CONFLICT (same key, different quantity)
    -8  RATE_LIMITED (second element: ms until the shopper's window ends)
    -9  PASS_REQUIRED (the room is on and the request carried no pass)
    -10 PASS_USED (the pass already admitted a purchase, or was never issued)
    -11 PASS_EXPIRED (its turn ran out; the room swept it or is about to)
]]
--- @include "records"
local pid = ARGV[1]
local userId = ARGV[2]
local qty = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local idemKey = ARGV[5]
local rateLimit = tonumber(ARGV[7])
local rateWindow = tonumber(ARGV[8])
local recentMax = tonumber(ARGV[9])
local passPlace = ARGV[10]

local function existing(id)
  local rec = redis.call('HGET', KEYS[5], id)
  if not rec then return nil end
  local status, q, createdAt = parseRecord(rec)
  return { 2, id, status, tonumber(createdAt), tonumber(q) }
end

local meta = redis.call('HMGET', KEYS[1], 'startsAt', 'endsAt', 'cancelled', 'perUserLimit', 'kept', 'room')
if not meta[1] then return { -1 } end

-- A keyed retry of a purchase that exists is an answer, not a new attempt: not rate counted.
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

-- The shopper's units, attempt window and latest purchases: one read here, one write below.
local rateField, recentField = 'r:' .. userId, 'p:' .. userId
local shopper = redis.call('HMGET', KEYS[3], userId, rateField, recentField)

-- A replayed command (ioredis sends it again after a reconnect) must not reserve twice: its
-- first run put the id in the shopper's latest ids (no extra read on the admitting path).
if shopper[3] and string.find(shopper[3], pid, 1, true) then
  local replay = existing(pid)
  if replay then return replay end
end

-- The room's pass: checked before the rate so a shopper without one spends no attempt.
local roomOn = meta[6] == '1'
if roomOn then
  if passPlace == '' then return { -9 } end
  local expires = redis.call('ZSCORE', KEYS[8], passPlace)
  if not expires then return { -10 } end
  if tonumber(expires) <= now then return { -11 } end
end

local rate = nil
if rateLimit > 0 then
  local count, start = parseRate(shopper[2])
  if not start or now >= start + rateWindow then count, start = 0, now end
  -- Refused attempts over the limit are not written: the window's end does not move.
  if count >= rateLimit then return { -8, start + rateWindow - now } end
  rate = formatRate(count + 1, start)
end

-- Hashes created here after the sale was loaded must expire with the sale's other keys.
-- Once the sale's first admission has given them their expiry (meta `kept`, cleared when
-- the gate is (re)loaded) they are not looked at again: they never empty (the unqueued
-- hash keeps its `~` field for that). The idempotency hash may not exist yet: always looked at.
local expireAt = tonumber(meta[2]) + tonumber(ARGV[6])
local kept = meta[5] == '1'
local function keep(key)
  if redis.call('PTTL', key) == -1 then redis.call('PEXPIREAT', key, expireAt) end
end
local function keepAll()
  if kept then return end
  redis.call('HSET', KEYS[7], '~', '')
  for _, i in ipairs({ 3, 5, 6, 7 }) do keep(KEYS[i]) end
  redis.call('HSET', KEYS[1], 'kept', '1')
  kept = true
end

-- A refused attempt still counts against the shopper's rate.
local function refuse(code, name, extra)
  redis.call('HINCRBY', KEYS[6], 'refused:' .. name, 1)
  if rate then redis.call('HSET', KEYS[3], rateField, rate) end
  keepAll()
  return { code, extra }
end

if meta[3] == '1' then return refuse(-4, 'SALE_CANCELLED') end
if now < tonumber(meta[1]) then return refuse(-2, 'SALE_NOT_STARTED') end
if now >= tonumber(meta[2]) then return refuse(-3, 'SALE_ENDED') end

local remaining = tonumber(redis.call('GET', KEYS[2]) or '0')
if remaining < qty then return refuse(-5, 'SOLD_OUT', remaining) end

local held = tonumber(shopper[1] or '0')
if held + qty > tonumber(meta[4]) then return refuse(-6, 'LIMIT_EXCEEDED') end

-- The owner finds a queued purchase through p:<userId> (GET /api/me/purchases); the newest last.
local recent = pid
if shopper[3] then
  local ids = {}
  for id in string.gmatch(shopper[3], '[^,]+') do ids[#ids + 1] = id end
  local from = math.max(1, #ids - recentMax + 2)
  recent = table.concat(ids, ',', from, #ids)
  recent = (recent == '' and pid) or (recent .. ',' .. pid)
end

redis.call('DECRBY', KEYS[2], qty)
-- Single use: the pass goes with the reservation (a refusal above leaves it for a retry).
if roomOn then redis.call('ZREM', KEYS[8], passPlace) end
if rate then
  redis.call('HSET', KEYS[3], userId, held + qty, rateField, rate, recentField, recent)
else
  redis.call('HSET', KEYS[3], userId, held + qty, recentField, recent)
end
redis.call('HSET', KEYS[5], pid, formatRecord('queued', qty, now, userId))
redis.call('HSET', KEYS[7], pid, formatUnqueued(now, idemKey))
-- Units still pending a worker's decision are admittedUnits - decidedUnits (finalize-6 adds to the latter).
redis.call('HINCRBY', KEYS[6], 'admitted', 1)
redis.call('HINCRBY', KEYS[6], 'admittedUnits', qty)
if idemKey ~= '' then
  redis.call('HSET', KEYS[4], idemKey, pid)
  keep(KEYS[4])
end
keepAll()
return { 1, pid, 'queued', now, qty }
