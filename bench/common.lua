-- Shared by the wrk scripts (bet, refund, cancel, promowin): per-thread counters, answer-code
-- tally, JSON summary.
-- Environment: BENCH_RUN (unique tag of this run), BENCH_PLAYERS, BENCH_RESULT (file to append to).
local M = {}

local threads = {}
local next_tid = 0

M.run = os.getenv("BENCH_RUN") or tostring(os.time())
M.players = tonumber(os.getenv("BENCH_PLAYERS") or "500")

function M.setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

function M.response(status, headers, body)
  local code = body and body:match('"error":(%d+)') or ("http" .. status)
  if code == "0" and body:find("nothing refunded", 1, true) then code = "0-nobet" end
  codes[code] = (codes[code] or 0) + 1
end

local function pct(latency, p) return latency:percentile(p) / 1000.0 end

function M.done(summary, latency, requests)
  local tally, most = {}, 0
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("codes")) do tally[code] = (tally[code] or 0) + n end
    most = math.max(most, t:get("n"))  -- requests made by the busiest thread, in flight included
  end
  local parts = {}
  for code, n in pairs(tally) do table.insert(parts, string.format('"%s":%d', code, n)) end
  local e = summary.errors
  local line = string.format(
    '{"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_ms":%.2f,"p95_ms":%.2f,"p99_ms":%.2f,"max_ms":%.2f,' ..
    '"socket_errors":%d,"most_per_thread":%d,"codes":{%s}}',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    pct(latency, 50), pct(latency, 95), pct(latency, 99), latency.max / 1000.0,
    e.connect + e.read + e.write + e.timeout, most, table.concat(parts, ","))
  io.write(line .. "\n")
  local path = os.getenv("BENCH_RESULT")
  if path then
    local f = io.open(path, "a"); f:write(line .. "\n"); f:close()
  end
end

function M.body(fields)
  local parts = {}
  for _, kv in ipairs(fields) do table.insert(parts, string.format('"%s":"%s"', kv[1], kv[2])) end
  return "{" .. table.concat(parts, ",") .. "}"
end

M.headers = {["Content-Type"] = "application/json"}

-- Refund and Cancel: every request reverses a different pre-created bet (bench/seed.py bets):
-- bet i is "<BENCH_BETS>-<i>" of player (i mod BENCH_PLAYERS)+1, amount 1.00 USD. Thread t of T
-- takes i = BENCH_START + t + T*n, so no two requests share a bet (bench/run.sh moves BENCH_START
-- past the busiest thread of the previous run). `tag` starts the uuids.
function M.reversal(method, tag)
  local prefix = os.getenv("BENCH_BETS") or "rb"
  local start = tonumber(os.getenv("BENCH_START") or "1")
  local nthreads = tonumber(os.getenv("BENCH_THREADS") or "2")
  local path = "/V4/" .. method
  return function()
    local i = start + tid + nthreads * n
    n = n + 1
    local player = i % M.players + 1
    local body = M.body({
      {"providerId", "LuckyMonaco"}, {"userId", "bench-p" .. player}, {"sessionId", "s-" .. player},
      {"currency", "USD"}, {"uuid", string.format("%s-%s-%d-%d", tag, M.run, tid, n)},
      {"gameId", "Im_60_tumblefortune"}, {"gameName", "tumblefortune"},
      {"reference", prefix .. "-" .. i}, {"amount", "1.00"}, {"timeStamp", "2026-11-24T10:00:05Z"},
    })
    return wrk.format("POST", path, M.headers, body)
  end
end

-- Install wrk's hooks: per-thread request counter `n` and answer tally `codes`.
function M.install()
  setup = M.setup
  response = M.response
  done = M.done
  init = function(args)
    n = 0
    codes = {}
  end
end

return M
