-- wrk script of the concurrency rows: single creates, every request a new log.
--
--   wrk -t32 -c32 -d10s --timeout 30s -s bench/create.lua http://127.0.0.1:PORT -- \
--       PATH API_KEY BASE_EPOCH EMPLOYEE:TASK,EMPLOYEE:TASK,...
--
-- PATH is /tasklog/create/ (the service) or /floor/create (the floor); API_KEY
-- is sent as X-API-Key unless it is "-". bench/run.py starts wrk with as many
-- threads as connections: wrk has no per-connection hook, so one connection
-- per thread is how each connection gets its own writer (the n-th
-- EMPLOYEE:TASK pair goes to the n-th thread).
--
-- Each thread's i-th log starts at BASE_EPOCH + day i // 4 at 09, 11, 14 or
-- 16 UTC and lasts 2 hours (8 hours a day, under the long-day warning), so no
-- two requests of a run are duplicates (a duplicate would answer 409).
--
-- done() prints one line "WRK_RESULT {json}" for bench/run.py: requests,
-- duration, latency percentiles (microseconds), socket errors, the non-2xx
-- answers by status, and the most requests one connection sent.

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads + 1)
  table.insert(threads, thread)
end

local HOURS = {9, 11, 14, 16}

function init(args)
  path = args[1]
  local key = args[2]
  base = tonumber(args[3])
  local pairs_text = args[4]
  local n = 0
  for employee_text, task_text in string.gmatch(pairs_text, "(%d+):(%d+)") do
    n = n + 1
    if n == thread_index then
      employee = tonumber(employee_text)
      task = tonumber(task_text)
    end
  end
  if employee == nil then
    error("no employee:task pair for thread " .. thread_index)
  end
  headers = {["Content-Type"] = "application/json"}
  if key ~= "-" then
    headers["X-API-Key"] = key
  end
  sent = 0
  non2xx = 0
  statuses = {}
end

function request()
  local start = base + math.floor(sent / 4) * 86400 + HOURS[sent % 4 + 1] * 3600
  local body = string.format(
    '{"taskId":%d,"userId":%d,"startTime":"%s","endTime":"%s","description":"wrk %d","manualAdd":false}',
    task, employee, os.date("!%Y-%m-%dT%H:%M:%SZ", start), os.date("!%Y-%m-%dT%H:%M:%SZ", start + 7200), sent)
  sent = sent + 1
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    statuses[status] = (statuses[status] or 0) + 1
    -- thread:get() copies plain values only: the counts travel as text.
    local parts = {}
    for code, count in pairs(statuses) do
      table.insert(parts, string.format('"%d":%d', code, count))
    end
    status_text = table.concat(parts, ",")
    if first_error == nil then
      first_error = string.sub(body or "", 1, 300)
    end
  end
end

local function json_string(text)
  return '"' .. string.gsub(text, '[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end) .. '"'
end

function done(summary, latency, requests)
  local non2xx_total, most_sent = 0, 0
  local by_status, sample = {}, ""
  for _, thread in ipairs(threads) do
    non2xx_total = non2xx_total + (thread:get("non2xx") or 0)
    most_sent = math.max(most_sent, thread:get("sent") or 0)
    local text = thread:get("status_text")
    if text ~= nil and text ~= "" then
      table.insert(by_status, "{" .. text .. "}")
    end
    if sample == "" and thread:get("first_error") ~= nil then
      sample = thread:get("first_error")
    end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"mean_us":%.1f,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,' ..
    '"status_errors":%d,"non2xx":%d,"non2xx_by_status":[%s],"first_error":%s,"most_sent_per_connection":%d,' ..
    '"connections":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, e.connect, e.read, e.write, e.timeout, e.status, non2xx_total,
    table.concat(by_status, ","), json_string(sample), most_sent, #threads))
end
