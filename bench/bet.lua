-- wrk -s bench/bet.lua: every request a new Bet (new uuid, reference and round) of 1.00 USD
-- by one of BENCH_PLAYERS seeded players.
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
local c = require("common")
c.install()

function request()
  n = n + 1
  local id = string.format("%s-%d-%d", c.run, tid, n)
  local player = (tid * 7919 + n * 13) % c.players + 1
  local body = c.body({
    {"providerId", "LuckyMonaco"}, {"userId", "bench-p" .. player}, {"sessionId", "s-" .. player},
    {"currency", "USD"}, {"uuid", "bu-" .. id}, {"gameId", "Im_60_tumblefortune"},
    {"gameName", "tumblefortune"}, {"roundId", "br-" .. id}, {"reference", "bb-" .. id},
    {"amount", "1.00"}, {"timeStamp", "2026-11-24T10:00:00Z"}, {"roundDetails", "spin"},
  })
  return wrk.format("POST", "/V4/Bet", c.headers, body)
end
