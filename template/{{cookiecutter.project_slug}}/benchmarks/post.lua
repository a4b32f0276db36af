-- wrk script of `make bench` (benchmarks/serving.py): POSTs the JSON body in the file
-- $BODY_FILE and prints one JSON line of figures when the run is done. With
-- $REQUESTS_PER_THREAD set, each wrk thread stops after that many responses.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local file = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.body = file:read("*a")
file:close()

local limit = tonumber(os.getenv("REQUESTS_PER_THREAD") or "0")
if limit > 0 then
  local responses = 0
  response = function(status, headers, body)
    responses = responses + 1
    if responses >= limit then
      wrk.thread:stop()
    end
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.6f, "socket_errors": %d, "non_2xx": %d, ' ..
    '"p50_ms": %.3f, "p95_ms": %.3f, "p99_ms": %.3f}\n',
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.timeout,
    e.status, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000))
end
