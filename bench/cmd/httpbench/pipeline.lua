-- Pipelining for wrk: each round sends `depth` requests back to back on one
-- connection (wrk counts every response). Usage: wrk -s pipeline.lua URL -- 16
local depth = 1
local req

function init(args)
  depth = tonumber(args[1]) or 1
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format(nil)
  end
  req = table.concat(r)
end

function request()
  return req
end
