-- wrk script: a browser-shaped GET instead of wrk's one-header request. The head is what a
-- current desktop Chrome sends when navigating to a page over plain HTTP: 12 header fields in
-- Chrome's order, a ~100-byte Cookie, about 600 bytes in all (605 with a 5-digit port).
--
--   wrk -s bench/peers/browser.lua URL                      one request per round trip
--   PIPELINE_DEPTH=16 wrk -s bench/peers/browser.lua URL    16 pipelined per round trip
local depth = tonumber(os.getenv("PIPELINE_DEPTH") or "1")

init = function(args)
  local host = wrk.headers["Host"] -- set by wrk from the URL before init runs
  local fields = {
    "Host: " .. host,
    "Connection: keep-alive",
    "Cache-Control: max-age=0",
    "Upgrade-Insecure-Requests: 1",
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) " ..
      "Chrome/131.0.0.0 Safari/537.36",
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp," ..
      "image/apng,*/*;q=0.8",
    "Sec-Fetch-Site: same-origin",
    "Sec-Fetch-Mode: navigate",
    "Referer: http://" .. host .. "/",
    "Accept-Encoding: gzip, deflate",
    "Accept-Language: en-US,en;q=0.9",
    "Cookie: _ga=GA1.1.1876543210.1732800000; sessionid=7f3c9a1e5b2d4c6f8a0b1c2d3e4f5a6b; " ..
      "csrftoken=Xk9mQ2pL7vR4",
  }
  local head = "GET " .. wrk.path .. " HTTP/1.1\r\n" .. table.concat(fields, "\r\n") .. "\r\n\r\n"
  req = string.rep(head, depth)
end

request = function() return req end
