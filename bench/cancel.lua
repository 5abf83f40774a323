-- wrk -s bench/cancel.lua: every request cancels ("Cancel Bet") a different pre-created bet, as
-- refund.lua refunds them (common.lua, M.reversal): the bet's stake comes back, the round stays open.
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
local c = require("common")
c.install()
request = c.reversal("Cancel", "cu")
