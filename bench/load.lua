-- The one wrk script of the benchmark: it sends the requests of a file and
-- prints one JSON summary line that bench/wrk.py reads.
--
-- BENCH_REQUESTS names the file: one request per line, METHOD<TAB>PATH<TAB>BODY
-- (the body may be empty). Thread n of BENCH_THREADS takes every n-th line and
-- cycles through its share in order, so two threads never send the same line and
-- a line comes round again only after all the others of its thread.
-- BENCH_DELAY_MS > 0 paces each connection (a random pause averaging that long
-- between its requests), for the "at half of the peak" figures.

local thread_count = tonumber(os.getenv("BENCH_THREADS") or "1")
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
local threads = {}
local lines = {}
local position = 0
statuses = {}

function setup(thread)
  thread:set("id", #threads)
  threads[#threads + 1] = thread
end

function init(args)
  local all = {}
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    local method, path, body = line:match("^(%u+)\t([^\t]+)\t?(.*)$")
    all[#all + 1] = {method, path, body ~= "" and body or nil}
  end
  for index, request in ipairs(all) do
    -- Fewer lines than threads (a repeated read): every thread sends them all.
    if #all < thread_count or (index - 1) % thread_count == id then
      lines[#lines + 1] = request
    end
  end
  if #lines == 0 then
    error("thread " .. id .. " has no requests to send")
  end
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  position = position % #lines + 1
  local r = lines[position]
  return wrk.format(r[1], r[2], nil, r[3])
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

if delay_ms > 0 then
  function delay()
    return math.random(0, 2 * delay_ms)
  end
end

function done(summary, latency, requests)
  -- One {"status": count} object per thread; bench/wrk.py adds them up.
  local counts = {}
  for _, thread in ipairs(threads) do
    local pairs_of_thread = {}
    for status, n in pairs(thread:get("statuses")) do
      pairs_of_thread[#pairs_of_thread + 1] = string.format('"%d":%d', status, n)
    end
    counts[#counts + 1] = "{" .. table.concat(pairs_of_thread, ",") .. "}"
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"socket_errors":%d,' ..
    '"statuses":[%s]}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, table.concat(counts, ",")))
end
