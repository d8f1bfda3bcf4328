--[[
  Joins a sale's waiting room: one place per shopper (the place id is derived from sale and
  shopper, so joining again finds the same place). Before the sale starts a place is ordered
  by its draw (HMAC of the room's seed and the place id, computed by the API); after the
  start places queue in arrival order behind every drawn place.

  Input:
    KEYS[1] room hash      (enabled, opensAt, seq, joined, ...)
    KEYS[2] order zset     (placeId -> score: draw < 2^52, or 2^52 + arrival number)
    KEYS[3] places hash    (placeId -> "userId|joinedAtMs")
    KEYS[4] sale meta hash (startsAt, endsAt, cancelled)

    ARGV[1] placeId
    ARGV[2] the place's record ("userId|joinedAtMs", built by the API)
    ARGV[3] now, epoch ms; "": Redis's own clock (what the API sends), so whether a place is
            drawn or queued by arrival is decided on the clock line-advance-6 moves the line by
    ARGV[4] the place's draw (integer < 2^52)
    ARGV[5] how long the line's keys outlive the sale's end, ms (as the sale's other keys)
    ARGV[6] "1" when the request carried a proof of work the API verified, else "0"

  Output: { code, score }
     1  joined now          2  already in line (its score)
    -1  room not loaded     -2 room off     -3 not open yet (second: opensAt)
    -4  sale closed (ended or cancelled)
    -5  the room asks a proof of work (room `pow` > 0) and none came
]]
local placeId = ARGV[1]
local now = tonumber(ARGV[3])
if ARGV[3] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local room = redis.call('HMGET', KEYS[1], 'enabled', 'opensAt', 'pow')
if not room[1] then return { -1 } end
local existing = redis.call('ZSCORE', KEYS[2], placeId)
if existing then return { 2, existing } end
if room[1] ~= '1' then return { -2 } end

local meta = redis.call('HMGET', KEYS[4], 'startsAt', 'endsAt', 'cancelled')
if not meta[1] then return { -1 } end
if meta[3] == '1' or now >= tonumber(meta[2]) then return { -4 } end
if now < tonumber(room[2]) then return { -3, room[2] } end
if tonumber(room[3] or '0') > 0 and ARGV[6] ~= '1' then return { -5 } end

local score
if now < tonumber(meta[1]) then
  score = ARGV[4]
else
  -- '%.0f': an integer above 2^31 must not reach Redis in Lua's exponent notation.
  score = string.format('%.0f', 2 ^ 52 + redis.call('HINCRBY', KEYS[1], 'seq', 1))
end
redis.call('ZADD', KEYS[2], score, placeId)
redis.call('HSET', KEYS[3], placeId, ARGV[2])
redis.call('HINCRBY', KEYS[1], 'joined', 1)
local expireAt = tonumber(meta[2]) + tonumber(ARGV[5])
redis.call('PEXPIREAT', KEYS[2], expireAt)
redis.call('PEXPIREAT', KEYS[3], expireAt)
return { 1, score }
