-- wrk.lua -- the request every wrk run of bench/run.sh sends, and one JSON line of results.
--
-- A small chat completion, as an OpenAI SDK sends it: POST, JSON body, a client key in
-- Authorization (routstr and nginx replace it with the operator's key). The done() hook prints
-- one line starting with "RESULT " followed by JSON: requests completed, duration, errors, and
-- latency percentiles in microseconds (wrk's histogram has 1 us resolution).
wrk.method = "POST"
wrk.body = '{"model":"bench-model","messages":[{"role":"user","content":"Say hello in one word."}],"max_tokens":16}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench-client-key"

-- "wrk ... URL -- NAME": the key is the one in the environment variable NAME instead (the
-- funded sk- key of the billed routstr), so that it never shows in a command line. wrk builds
-- the request after init() returns.
init = function(args)
  if args[1] then
    local key = os.getenv(args[1])
    if not key or key == "" then
      io.stderr:write("wrk.lua: the environment variable " .. args[1] .. " is empty\n")
      os.exit(2)
    end
    wrk.headers["Authorization"] = "Bearer " .. key
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"err_connect":%d,"err_read":%d,' ..
    '"err_write":%d,"err_status":%d,"err_timeout":%d,"p50":%d,"p90":%d,"p99":%d,' ..
    '"mean":%.1f,"max":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
