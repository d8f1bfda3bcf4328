--[[
  Indexes a just-admitted purchase under its owner and keeps the index alive for the
  read model's lifetime: ZADD and EXPIRE as one command, so admission sends one Redis
  command for the index instead of two. (It cannot join admit-7: the index lives in
  the user's hash slot, the gate in the sale's.)

  Input:
    KEYS[1] the user's purchase index (sorted set)
    ARGV[1] score (admission time, epoch ms)
    ARGV[2] member (`<purchaseId>/<saleId>`)
    ARGV[3] TTL in seconds

  Output: 1
]]
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
