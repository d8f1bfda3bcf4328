--[[
  Applies an admin's edit of a loaded sale to the gate, atomically: the metadata
  admit-8 reads, and the remaining units moved by the stock delta (queued and
  confirmed units stay taken). A cut the gate has already given away is refused,
  and then nothing changes. `cancelled` is never written here: only cancel sets it.

  Input:
    KEYS[1] sale meta hash        (startsAt, endsAt, cancelled, perUserLimit, stock)
    KEYS[2] sale remaining units  (string integer)

    ARGV[1] stock delta (integer; 0 = metadata only; negative = a stock cut)
    ARGV[2] mode: "checked" refuses a cancelled sale and a cut below 0 left;
            "force" applies regardless (the compensation of a change PostgreSQL did not commit)
    ARGV[3] expire-at, epoch ms, for both keys (follows the sale's end)
    ARGV[4..] meta field, value, field, value, ...

  Output: { code, remaining }
     1  applied; remaining: units left after the change
    -1  sale not loaded in Redis (no meta or no remaining): nothing changed
    -2  the cut would leave fewer than 0 units (they were admitted already): nothing changed
    -3  the sale is cancelled in the gate: nothing changed
]]
local delta = tonumber(ARGV[1])
local checked = ARGV[2] == 'checked'

if redis.call('EXISTS', KEYS[1]) == 0 then return { -1, 0 } end
local current = redis.call('GET', KEYS[2])
if not current then return { -1, 0 } end
current = tonumber(current)

if checked then
  if redis.call('HGET', KEYS[1], 'cancelled') == '1' then return { -3, current } end
  if delta < 0 and current + delta < 0 then return { -2, current } end
end

if #ARGV > 3 then redis.call('HSET', KEYS[1], unpack(ARGV, 4)) end
local remaining = current
if delta ~= 0 then remaining = redis.call('INCRBY', KEYS[2], delta) end
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
redis.call('PEXPIREAT', KEYS[2], ARGV[3])
return { 1, remaining }
