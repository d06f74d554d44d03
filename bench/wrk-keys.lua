-- SPDX-License-Identifier: Apache-2.0 OR MIT
-- wrk script for bench/run.sh: every request is a rate-limit check for the next of N
-- distinct keys, cycling. Arguments after "--": MODE NKEYS [TOKEN]
--   ratewatch  POST /v1/check, the key in the JSON body, Bearer TOKEN if one is given
--   nginx      POST /, the key in the X-Key header, the same JSON body
-- All requests are built once in init(), so request() is a table lookup.

local thread_counter = 0

function setup(thread)
    thread:set("thread_index", thread_counter)
    thread_counter = thread_counter + 1
end

local requests = {}
local count = 0
local next_index = 1

function init(args)
    local mode = args[1] or "ratewatch"
    local nkeys = tonumber(args[2] or "10000")
    local token = args[3]
    if token == "" then
        token = nil
    end

    for i = 0, nkeys - 1 do
        local key = "user:" .. i
        local body = '{"key":"' .. key .. '","limit":1000000,"window":60}'
        local headers = { ["Content-Type"] = "application/json" }
        local path
        if mode == "nginx" then
            headers["X-Key"] = key
            path = "/"
        else
            if token then
                headers["Authorization"] = "Bearer " .. token
            end
            path = "/v1/check"
        end
        requests[i + 1] = wrk.format("POST", path, headers, body)
    end
    count = nkeys
    -- Threads start at different keys so that they do not send the same key together.
    local index = thread_index or 0
    next_index = (index * 7919) % count + 1
end

function request()
    local r = requests[next_index]
    next_index = next_index + 1
    if next_index > count then
        next_index = 1
    end
    return r
end

function done(summary, latency, requests_stats)
    local e = summary.errors
    io.write(string.format(
        "BENCH_RESULT requests=%d duration_us=%d bytes=%d p50_us=%d p90_us=%d p99_us=%d " ..
        "mean_us=%.1f max_us=%d errors_connect=%d errors_read=%d errors_write=%d " ..
        "errors_status=%d errors_timeout=%d\n",
        summary.requests, summary.duration, summary.bytes,
        latency:percentile(50), latency:percentile(90), latency:percentile(99),
        latency.mean, latency.max,
        e.connect, e.read, e.write, e.status, e.timeout))
end
