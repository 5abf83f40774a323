-- wrk -s bench/refund.lua: every request refunds a different pre-created bet (common.lua, M.reversal).
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
local c = require("common")
c.install()
request = c.reversal("Refund", "ru")
