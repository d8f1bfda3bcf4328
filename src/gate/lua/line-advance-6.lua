--[[
  Moves a sale's waiting room on: sweeps passes that ran out unused (their capacity goes to
  the next shoppers), then gives the next places their turn at the room's rate, never more
  passes out at once than the units left plus the margin. Time-driven and atomic: any API
  node may call it at any moment; the credit accrues from the room's own lastTick, so
  several nodes calling it do not speed the line up.

  Input:
    KEYS[1] room hash (enabled, paused, admitPerSecond, passSeconds, margin, cursor, credit, lastTick)
    KEYS[2] order zset   KEYS[3] passes zset   KEYS[4] remaining
    KEYS[5] sale meta (startsAt, endsAt, cancelled)   KEYS[6] places hash

    ARGV[1] now, epoch ms; "" (the ticker): Redis's own clock, one clock for every API node,
            so nodes whose clocks disagree do not credit the line twice for the difference
    ARGV[2] most turns given in one call
    ARGV[3] how long the passes outlive the sale's end, ms (as the sale's other keys)

  Output: { code, cursor, total, remaining, outstandingPasses, expiredNow, running,
            passExpiresAtMs, placeId1, record1, placeId2, record2, ... } (places turned now)
    code 1 ok, -1 room not loaded. running: 1 when the line moves (on, not paused, started,
    not ended or cancelled, units left).
]]
local now = tonumber(ARGV[1])
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local maxBatch = tonumber(ARGV[2])

local r = redis.call('HMGET', KEYS[1], 'enabled', 'paused', 'admitPerSecond', 'passSeconds', 'margin', 'cursor', 'credit', 'lastTick')
if not r[1] then return { -1 } end
local meta = redis.call('HMGET', KEYS[5], 'startsAt', 'endsAt', 'cancelled')
local startsAt, endsAt = tonumber(meta[1] or '0'), tonumber(meta[2] or '0')

local expired = redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
if expired > 0 then redis.call('HINCRBY', KEYS[1], 'expired', expired) end

local remaining = tonumber(redis.call('GET', KEYS[4]) or '0')
local cursor = tonumber(r[6] or '0')
local credit = tonumber(r[7] or '0')
local last = tonumber(r[8] or '0')
local total = redis.call('ZCARD', KEYS[2])
local outstanding = redis.call('ZCARD', KEYS[3])
local rate = tonumber(r[3] or '0')
local running = r[1] == '1' and r[2] ~= '1' and meta[3] ~= '1' and now >= startsAt and now < endsAt and remaining > 0

local turned = {}
local passExpires = now + tonumber(r[4] or '0') * 1000
if running then
  local from = math.max(last, startsAt)
  if now > from then credit = credit + (now - from) * rate / 1000 end
  -- At most a second's worth banked: an empty line does not store up a burst.
  if credit > math.max(rate, 1) then credit = math.max(rate, 1) end
  local room = remaining + tonumber(r[5] or '0') - outstanding
  local n = math.min(math.floor(credit), room, total - cursor, maxBatch)
  if n > 0 then
    local ids = redis.call('ZRANGE', KEYS[2], cursor, cursor + n - 1)
    -- In chunks: unpack() takes at most a few thousand values.
    for from = 1, #ids, 500 do
      local chunk, zargs = {}, {}
      for i = from, math.min(from + 499, #ids) do
        chunk[#chunk + 1] = ids[i]
        zargs[#zargs + 1] = passExpires
        zargs[#zargs + 1] = ids[i]
      end
      redis.call('ZADD', KEYS[3], unpack(zargs))
      local recs = redis.call('HMGET', KEYS[6], unpack(chunk))
      for i, id in ipairs(chunk) do
        turned[#turned + 1] = id
        turned[#turned + 1] = recs[i] or ''
      end
    end
    redis.call('PEXPIREAT', KEYS[3], endsAt + tonumber(ARGV[3]))
    cursor = cursor + #ids
    credit = credit - #ids
    outstanding = outstanding + #ids
  end
else
  credit = 0
end
redis.call('HSET', KEYS[1], 'cursor', cursor, 'credit', credit, 'lastTick', now)
local out = { 1, cursor, total, remaining, outstanding, expired, running and 1 or 0, passExpires }
for _, v in ipairs(turned) do out[#out + 1] = v end
return out
