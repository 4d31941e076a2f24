-- wrk script: POSTs signed inbound-SMS webhooks to examples/webhook_server.
-- REQUESTS names a Lua file made by sign_requests.py. With one request it is replayed as is (the
-- channel acknowledges the duplicates without delivering them); with many, each wrk thread cycles
-- through its own block of them (WRK_THREADS, the -t value, default 2).

local data = dofile(os.getenv("REQUESTS") or "target/load/requests-1.lua")
local n = #data.requests
-- Each wrk thread cycles through its own block of the list (WRK_THREADS blocks), so two threads never
-- send the same MessageSid, and one thread sends a MessageSid again only after its whole block.
-- WRK_FIRST_BLOCK (default 0) is the block of this wrk's first thread, for two wrk processes sharing
-- one list (bench/load/two_servers.sh); with WRK_ONCE=1 a thread stops after one pass of its block.
local nthreads = tonumber(os.getenv("WRK_THREADS") or "2")
local first_block = tonumber(os.getenv("WRK_FIRST_BLOCK") or "0")
local once = os.getenv("WRK_ONCE") == "1"
local threads = 0

function setup(thread)
  thread:set("index", threads + first_block)
  threads = threads + 1
end

function init(args)
  local size = math.max(1, math.floor(n / nthreads))
  first = math.min((index or 0) * size, n - 1)
  last = math.min(first + size, n)
  counter = first
  if n == 1 then
    wrk.method = "POST"
    wrk.path = data.path
    wrk.body = data.requests[1][1]
    wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
    wrk.headers["X-Twilio-Signature"] = data.requests[1][2]
  end
end

local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }

if n > 1 then
  request = function()
    counter = counter + 1
    if counter > last then
      counter = first + 1
      if once then wrk.thread:stop() end
    end
    local r = data.requests[counter]
    headers["X-Twilio-Signature"] = r[2]
    return wrk.format("POST", data.path, headers, r[1])
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_s": %.2f, "requests_per_s": %.0f, "p50_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, "non_2xx_3xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
