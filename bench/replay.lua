-- wrk script for bench/webhook: replays pre-generated signed POSTs, each one at most once.
--
-- BENCH_REQUESTS names a file of lines "<X-Twilio-Signature>\t<urlencoded form body>" written by
-- bench/webhook (Lua has no HMAC, so Python signs them). Line 0 is a spare for thread 0: wrk calls
-- request() once before the run to check the script and drops that request. Thread k of n then
-- sends lines 1+k, 1+k+n, 1+k+2n... in order. A thread that runs out starts again from its first
-- line and counts `reused` requests: the webhook would answer those from its idempotency record,
-- so bench/webhook rejects such a run.
--
-- Every response is checked: `bad_status` counts anything but 200, `not_twiml` counts a 200 whose
-- body lacks BENCH_EXPECT (the TwiML <Message> element). done() prints one "BENCH {json}" line.

local threads = {}
local counter = 0

function setup(thread)
   thread:set("thread_index", counter)
   table.insert(threads, thread)
   counter = counter + 1
end

function init(args)
   local path = os.getenv("BENCH_REQUESTS") or error("BENCH_REQUESTS is not set")
   expect = os.getenv("BENCH_EXPECT") or "<Message>"
   local thread_count = tonumber(os.getenv("BENCH_THREADS") or "1")
   requests, next_index = {}, 1
   bad_status, not_twiml, reused = 0, 0, 0
   local line_number = 0
   for line in io.lines(path) do
      -- line 0 is thread 0's first request, which wrk consumes unsent to check the script
      local mine = line_number == 0 and thread_index == 0
         or line_number > 0 and (line_number - 1) % thread_count == thread_index
      if mine then
         local signature, body = line:match("^([^\t]*)\t(.*)$")
         requests[#requests + 1] = wrk.format("POST", nil, {
            ["Content-Type"] = "application/x-www-form-urlencoded",
            ["X-Twilio-Signature"] = signature,
         }, body)
      end
      line_number = line_number + 1
   end
   if #requests == 0 then
      error("no requests for thread " .. thread_index .. " in " .. path)
   end
end

function request()
   if next_index > #requests then
      next_index, wrapped = 1, true
   end
   if wrapped then
      reused = reused + 1
   end
   local formatted = requests[next_index]
   next_index = next_index + 1
   return formatted
end

function response(status, headers, body)
   if status ~= 200 then
      bad_status = bad_status + 1
   elseif not string.find(body, expect, 1, true) then
      not_twiml = not_twiml + 1
   end
end

function done(summary, latency, requests_per_thread)
   local bad, wrong, again = 0, 0, 0
   for _, thread in ipairs(threads) do
      bad = bad + thread:get("bad_status")
      wrong = wrong + thread:get("not_twiml")
      again = again + thread:get("reused")
   end
   local errors = summary.errors
   io.write(string.format(
      'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, '
         .. '"bad_status": %d, "not_twiml": %d, "reused": %d, "socket_errors": %d, "timeouts": %d}\n',
      summary.requests, summary.duration, latency:percentile(50.0), latency:percentile(99.0), latency.max,
      bad, wrong, again, errors.connect + errors.read + errors.write, errors.timeout
   ))
end
