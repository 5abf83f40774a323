-- wrk -s bench/promowin.lua: every request a new PromoWin (new uuid and reference: a promo win is
-- idempotent by its reference) of 1.00 USD to one of BENCH_PLAYERS seeded players, in one of 10 campaigns.
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
local c = require("common")
c.install()

function request()
  n = n + 1
  local id = string.format("%s-%d-%d", c.run, tid, n)
  local player = (tid * 7919 + n * 13) % c.players + 1
  local body = c.body({
    {"providerId", "LuckyMonaco"}, {"userId", "bench-p" .. player}, {"sessionId", "s-" .. player},
    {"currency", "USD"}, {"uuid", "pu-" .. id}, {"gameId", "Im_60_tumblefortune"},
    {"reference", "pw-" .. id}, {"amount", "1.00"}, {"timeStamp", "2026-11-24T10:00:07Z"},
    {"campaignId", "bench-c" .. (n % 10)}, {"campaignType", "Tournament"},
  })
  return wrk.format("POST", "/V4/PromoWin", c.headers, body)
end
