-- wrk script for bench/http_submit.py: POST one public-form submission per request.
--
--   wrk -t2 -c8 -d15s --latency -s bench/submit.lua URL -- BODIES_FILE COOKIE SEED
--
-- BODIES_FILE: one urlencoded body per line (answers of public_demand as a browser posts them,
-- plus csrf_token), used in turn. COOKIE: the Cookie header of the GET that produced the CSRF
-- token (the Flask session). Each request appends a fresh random uuid4 submission_id (version
-- nibble 4, variant 10xx), so the server never takes its idempotent "already stored" path.
-- Every response status is counted and reported by done().

local thread_count = 0
local threads = {}

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_no", thread_count)
  table.insert(threads, thread)
end

local bodies = {}
local headers = {}
local hex = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"}
local sent = 0
-- per-thread counters, read back by done() through thread:get
n303, n2xx, n3xx, n4xx, n5xx, nother = 0, 0, 0, 0, 0, 0

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then table.insert(bodies, line) end
  end
  assert(#bodies > 0, "no bodies in " .. args[1])
  headers["Content-Type"] = "application/x-www-form-urlencoded"
  headers["Cookie"] = args[2]
  math.randomseed(tonumber(args[3]) * 1000 + thread_no)
  for _ = 1, 10 do math.random() end
end

local function uuid4()
  local t = {}
  for i = 1, 32 do
    local v
    if i == 13 then
      v = 4                         -- version 4
    elseif i == 17 then
      v = 8 + math.random(0, 3)     -- RFC 4122 variant: 8, 9, a or b
    else
      v = math.random(0, 15)
    end
    t[i] = hex[v + 1]
  end
  return table.concat(t)
end

function request()
  sent = sent + 1
  local body = bodies[(sent % #bodies) + 1] .. "&submission_id=" .. uuid4()
  return wrk.format("POST", nil, headers, body)
end

function response(status, response_headers, body)
  if status == 303 then n303 = n303 + 1
  elseif status >= 200 and status < 300 then n2xx = n2xx + 1
  elseif status >= 300 and status < 400 then n3xx = n3xx + 1
  elseif status >= 400 and status < 500 then n4xx = n4xx + 1
  elseif status >= 500 and status < 600 then n5xx = n5xx + 1
  else nother = nother + 1 end
end

function done(summary, latency, requests)
  local totals = {n303 = 0, n2xx = 0, n3xx = 0, n4xx = 0, n5xx = 0, nother = 0}
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do
      totals[name] = totals[name] + (thread:get(name) or 0)
    end
  end
  io.write(string.format("STATUS 303=%d other2xx=%d other3xx=%d 4xx=%d 5xx=%d other=%d\n",
    totals.n303, totals.n2xx, totals.n3xx, totals.n4xx, totals.n5xx, totals.nother))
  io.write(string.format("SUMMARY requests=%d duration_us=%d errors_connect=%d errors_read=%d "
    .. "errors_write=%d errors_status=%d errors_timeout=%d latency_max_us=%d\n",
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout, latency.max))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("PERCENTILE %g %d\n", p, latency:percentile(p)))
  end
end
