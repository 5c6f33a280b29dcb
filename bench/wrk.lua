-- wrk script for `make bench`: one fixed request per wrk thread, a machine-readable summary.
--
-- Arguments (after `--`): METHOD HEADERS_FILE BODY_FILE|- TRACES_FILE
--   HEADERS_FILE  one "Name: value" a line (the Ssp-* headers, the unsigned JWT, Accept, ...)
--   BODY_FILE     the request body, or "-" for none
--   TRACES_FILE   one Ssp-TraceID (a UUID) a line; wrk thread N sends line N for every request.
-- A fixed trace id per thread keeps the request static (wrk's fastest path); the product and the
-- baseline both answer with Bundle.id = that trace id, so the bytes stay identical between them.

local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_number", counter)
end

local function read_all(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  return data
end

function init(args)
  local method, headers_path, body_path, traces_path = args[1], args[2], args[3], args[4]
  local headers = {}
  for line in io.lines(headers_path) do
    local name, value = line:match("^([^:]+):%s*(.-)%s*$")
    if name then headers[name] = value end
  end
  local traces = {}
  for line in io.lines(traces_path) do
    if #line > 0 then table.insert(traces, line) end
  end
  headers["Ssp-TraceID"] = traces[((thread_number - 1) % #traces) + 1]
  local body = nil
  if body_path ~= "-" then body = read_all(body_path) end
  req = wrk.format(method, nil, headers, body)
end

function request()
  return req
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors_connect":%d,"errors_read":%d,' ..
    '"errors_write":%d,"errors_status":%d,"errors_timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
