-- wrk script of bench/run.sh: one hot path per run.
--   BENCH_PATH  which request (keys of `requests` below)
--   BENCH_IDS   "user_id email" per line: the live seeded accounts (written at seed time)
--   BENCH_RUN   a number unique per run, so that created emails never repeat across runs
--   BENCH_DELAY_MS  optional mean think time per request (paced runs; see below)
-- Ends with one line "BENCH_JSON {...}" that bench/hot/driver.py reads.
local mode = os.getenv("BENCH_PATH") or "account_view"
local ids_file = os.getenv("BENCH_IDS")
local run = os.getenv("BENCH_RUN") or "0"

-- The same lists as the pgbench parameter query in bench/hot/driver.py (uniform draws).
local langs = {"en", "de", "fr", "pt-BR"}
local zones = {"UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"}

local next_tid = 1
function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end

local ids, emails, n, counter = {}, {}, 0, 0
local json = {["Content-Type"] = "application/json"}
local base = "/api/v1/internal"

function init(args)
  for line in io.lines(ids_file) do
    local id, email = line:match("^(%S+)%s+(%S+)$")
    if id then
      n = n + 1
      ids[n] = id
      emails[n] = email
    end
  end
  if n == 0 then error("no ids in " .. tostring(ids_file)) end
  math.randomseed(os.time() * 100 + tid)
end

local function any_id() return ids[math.random(n)] end
local function any_email() return emails[math.random(n)] end

local requests = {
  account_view = function()
    return wrk.format("GET", base .. "/users/" .. any_id() .. "/account")
  end,
  eligibility = function()
    return wrk.format("GET", base .. "/users/" .. any_id() .. "/eligibility")
  end,
  eligibility_batch = function()
    local parts = {}
    for i = 1, 20 do parts[i] = '"' .. any_id() .. '"' end
    return wrk.format("POST", base .. "/users/eligibility:batch", json,
                      '{"user_ids":[' .. table.concat(parts, ",") .. "]}")
  end,
  resolve_by_email = function()
    return wrk.format("POST", base .. "/user-resolutions/by-email", json,
                      '{"email":"' .. any_email() .. '"}')
  end,
  ensure_existing = function()
    return wrk.format("POST", base .. "/users/ensure-by-email", json,
                      '{"email":"' .. any_email() .. '"}')
  end,
  ensure_new = function()
    counter = counter + 1
    return wrk.format("POST", base .. "/users/ensure-by-email", json,
                      '{"email":"wrk-' .. run .. "-" .. tid .. "-" .. counter .. '@example.com"}')
  end,
  settings_patch = function()
    return wrk.format("PATCH", base .. "/users/" .. any_id() .. "/settings", json,
                      '{"preferred_language":"' .. langs[math.random(#langs)] ..
                      '","time_zone":"' .. zones[math.random(#zones)] .. '"}')
  end,
}

-- BENCH_DELAY_MS: mean think time before each request of a connection (exponentially
-- distributed, so arrivals are Poisson-like); unset: back to back (saturation).
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "")
if delay_ms and delay_ms > 0 then
  function delay()
    return -math.log(1 - math.random()) * delay_ms
  end
end

request = requests[mode]
if request == nil then error("unknown BENCH_PATH " .. mode) end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"non_2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.status, e.connect + e.read + e.write + e.timeout))
end
