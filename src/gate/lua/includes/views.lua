--[[
  The read model of a sale's purchases: its views hash (purchaseId -> the JSON that
  `GET /api/purchases/:id` answers, owner included), in the sale's slot, so a batch's views
  are one HSET (they were a SET per purchase). It expires with the sale's other keys: a
  views hash found without an expiry takes the purchases hash's. Needs nothing before it.
]]
local function writeViews(viewsKey, purchasesKey, fieldsAndValues)
  if #fieldsAndValues == 0 then return end
  redis.call('HSET', viewsKey, unpack(fieldsAndValues))
  if redis.call('PTTL', viewsKey) == -1 then
    local ttl = redis.call('PTTL', purchasesKey)
    if ttl > 0 then redis.call('PEXPIRE', viewsKey, ttl) end
  end
end
