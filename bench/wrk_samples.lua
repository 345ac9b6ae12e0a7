-- SPDX-License-Identifier: MIT
-- wrk script for bench/serve.sh: POST /v1/samples with a W4-sized request
-- (../shared/bench/README.md: D=2, H=256, batch 16, 50 DDIM steps) on the
-- shipped eight_gaussians model, a fresh seed per request.  Environment:
--   MF_METRICS=true|false  per-request sample metrics (default false: W4 is sampling alone)
--   MF_PRECISION=f32|bf16  the requests' "precision" (default: none, the daemon's --precision)
-- Prints one line "RESULT {json}" with the counts and latency percentiles.
local metrics = os.getenv("MF_METRICS") or "false"
local precision = os.getenv("MF_PRECISION")
local precision_field = precision and string.format(',"precision":"%s"', precision) or ""
local counter = 0

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

request = function()
  counter = counter + 1
  local body = string.format(
    '{"model":"eight_gaussians","n":16,"sampler":"ddim","steps":50,"seed":%d,"metrics":%s%s}',
    counter, metrics, precision_field)
  return wrk.format("POST", "/v1/samples", nil, body)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_s":%.3f,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,' ..
    '"p99_ms":%.3f,"max_ms":%.3f,"mean_ms":%.3f,"err_connect":%d,"err_read":%d,' ..
    '"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3, latency.mean / 1e3, e.connect, e.read, e.write, e.status, e.timeout))
end
