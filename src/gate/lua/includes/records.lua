--[[
  The gate's record formats, in one place (inlined by loadScripts, src/gate/scripts.ts, into
  each script that names this file in an include line).

  Purchase record, in the sale's purchases hash: "status|quantity|createdAtMs|userId"
  (userId last: it may contain '|'). status: queued, processing, confirmed, rejected,
  paid, expired. src/gate/record.ts parses the same format in TypeScript.

  Unqueued entry, in the sale's unqueued hash: "admittedAtMs|scopedIdemKey".

  Attempt window, in the sale's per-shopper hash under r:<userId>: "attempts|windowStartMs".
]]
local function parseRecord(rec)
  return string.match(rec, '^(%a+)|(%d+)|(%d+)|(.*)$')
end

local function formatRecord(status, quantity, createdAtMs, userId)
  return status .. '|' .. quantity .. '|' .. createdAtMs .. '|' .. userId
end

local function parseUnqueued(entry)
  local admittedAt, idemKey = string.match(entry, '^(%d+)|(.*)$')
  return tonumber(admittedAt), idemKey or ''
end

local function formatUnqueued(admittedAtMs, idemKey)
  return admittedAtMs .. '|' .. idemKey
end

local function parseRate(entry)
  local attempts, start = string.match(entry or '', '^(%d+)|(%d+)$')
  return tonumber(attempts), tonumber(start)
end

local function formatRate(attempts, windowStartMs)
  return attempts .. '|' .. windowStartMs
end
