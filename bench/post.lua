-- wrk script: POST a fixed JSON body and print a machine-readable summary line.
--   wrk -t1 -c16 -d5s -s bench/post.lua URL -- BODY_FILE ["Header: value" ...]
-- The runner parses the BENCH_JSON line; latencies are microseconds to the end of each response.

init = function(args)
  local f = assert(io.open(args[1], "rb"), "body file not found: " .. tostring(args[1]))
  wrk.body = f:read("*a")
  f:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  for i = 2, #args do
    local k, v = args[i]:match("^([^:]+):%s*(.*)$")
    if k then wrk.headers[k] = v end
  end
end

-- No response() callback on purpose: it makes wrk copy every reply into Lua and costs ~25% of its
-- throughput. wrk counts 4xx/5xx as status errors; the runner checks each target's replies beforehand.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"mean_us":%.1f,"p50_us":%d,"p90_us":%d,' ..
    '"p99_us":%d,"max_us":%d,"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes, latency.mean, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status,
    e.timeout))
end
