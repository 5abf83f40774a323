-- wrk -s bench/refund.lua: every request refunds a different pre-created bet (bench/seed.py bets):
-- bet i is "<BENCH_BETS>-<i>" of player (i mod BENCH_PLAYERS)+1, amount 1.00 USD.
-- Thread t of T takes i = BENCH_START + t + T*n, so no two requests share a bet.
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
local c = require("common")

local prefix = os.getenv("BENCH_BETS") or "rb"
local start = tonumber(os.getenv("BENCH_START") or "1")
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "2")

c.install()

function request()
  local i = start + tid + nthreads * n
  n = n + 1
  local player = i % c.players + 1
  local body = c.body({
    {"providerId", "LuckyMonaco"}, {"userId", "bench-p" .. player}, {"sessionId", "s-" .. player},
    {"currency", "USD"}, {"uuid", string.format("ru-%s-%d-%d", c.run, tid, n)},
    {"gameId", "Im_60_tumblefortune"}, {"gameName", "tumblefortune"},
    {"reference", prefix .. "-" .. i}, {"amount", "1.00"}, {"timeStamp", "2026-11-24T10:00:05Z"},
  })
  return wrk.format("POST", "/V4/Refund", c.headers, body)
end
