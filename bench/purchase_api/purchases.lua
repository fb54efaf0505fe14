-- wrk script for bench/purchase_api: POST /api/v1/purchases as a till would, every request a new sale.
--
-- Each request has its own Idempotency-Key (BENCH_RUN, thread, counter), an amount from 1.00 to
-- 99.99, and a buyer: nine in ten are members from the seeded pool (+1628 0000000 ...), one in ten
-- a phone from an unknown pool (+1629 ...) who becomes a pending member. Every response is checked:
-- `bad_status` counts anything but 201, `unexpected_body` a 201 without "points_earned".
-- done() prints one "BENCH {json}" line.

local threads = {}
local counter = 0

function setup(thread)
   thread:set("thread_index", counter)
   table.insert(threads, thread)
   counter = counter + 1
end

function init(args)
   api_key = os.getenv("BENCH_API_KEY") or error("BENCH_API_KEY is not set")
   run = os.getenv("BENCH_RUN") or error("BENCH_RUN is not set")
   members = tonumber(os.getenv("BENCH_MEMBERS") or "10000")
   sent, bad_status, unexpected_body = 0, 0, 0
end

function request()
   sent = sent + 1
   local phone
   if sent % 10 == 0 then
      phone = string.format("+1629%07d", (thread_index * 7919 + sent * 31) % 10000000)
   else
      phone = string.format("+1628%07d", (thread_index * 104729 + sent * 13) % members)
   end
   local body = string.format('{"phone": "%s", "amount": %d, "reference": "R-%s-%d-%d"}',
      phone, 100 + (sent * 37) % 9900, run, thread_index, sent)
   return wrk.format("POST", "/api/v1/purchases", {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. api_key,
      ["Idempotency-Key"] = string.format("%s-%d-%d", run, thread_index, sent),
   }, body)
end

function response(status, headers, body)
   if status ~= 201 then
      bad_status = bad_status + 1
   elseif not string.find(body, '"points_earned"', 1, true) then
      unexpected_body = unexpected_body + 1
   end
end

function done(summary, latency, requests_per_thread)
   local bad, unexpected = 0, 0
   for _, thread in ipairs(threads) do
      bad = bad + thread:get("bad_status")
      unexpected = unexpected + thread:get("unexpected_body")
   end
   local errors = summary.errors
   io.write(string.format(
      'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, '
         .. '"bad_status": %d, "unexpected_body": %d, "socket_errors": %d, "timeouts": %d}\n',
      summary.requests, summary.duration, latency:percentile(50.0), latency:percentile(99.0), latency.max,
      bad, unexpected, errors.connect + errors.read + errors.write, errors.timeout
   ))
end
