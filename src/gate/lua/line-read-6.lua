--[[
  Reads one shopper's place in a sale's waiting room and what the API needs to describe
  it (state, position, ETA, whether stock is likely to last), in one round trip.

  Input:
    KEYS[1] room hash   KEYS[2] order zset   KEYS[3] passes zset (placeId -> expiresAtMs)
    KEYS[4] remaining   KEYS[5] sale meta    KEYS[6] stats (admitted, admittedUnits)

    ARGV[1] placeId

  Output: flat list of strings, or { -1 } when the room is not loaded:
    { 1, rank (-1: not in line), cursor, total, passExpiresAtMs (-1: none), remaining,
      startsAt, endsAt, cancelled, enabled, paused, admitPerSecond, outstandingPasses,
      admitted, admittedUnits, perUserLimit, opensAt, passSeconds, margin }
]]
local room = redis.call('HMGET', KEYS[1], 'enabled', 'paused', 'admitPerSecond', 'cursor', 'opensAt', 'passSeconds', 'margin')
if not room[1] then return { -1 } end
local rank = redis.call('ZRANK', KEYS[2], ARGV[1])
local pass = redis.call('ZSCORE', KEYS[3], ARGV[1])
local meta = redis.call('HMGET', KEYS[5], 'startsAt', 'endsAt', 'cancelled', 'perUserLimit')
local stats = redis.call('HMGET', KEYS[6], 'admitted', 'admittedUnits')
return {
  1, rank or -1, room[4] or '0', redis.call('ZCARD', KEYS[2]), pass or '-1',
  redis.call('GET', KEYS[4]) or '0', meta[1] or '0', meta[2] or '0', meta[3] or '0',
  room[1], room[2] or '0', room[3] or '0', redis.call('ZCARD', KEYS[3]),
  stats[1] or '0', stats[2] or '0', meta[4] or '1', room[5] or '0', room[6] or '0', room[7] or '0',
}
