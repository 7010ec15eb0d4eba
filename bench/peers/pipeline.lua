-- wrk script: send `depth` requests back to back on each connection (HTTP pipelining).
local depth = tonumber(os.getenv("PIPELINE_DEPTH") or "16")
init = function(args)
  local r = {}
  for i = 1, depth do r[i] = wrk.format(nil) end
  req = table.concat(r)
end
request = function() return req end
