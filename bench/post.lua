-- wrk script of the load benchmark: POSTs one GraphQL request body to every server alike and
-- counts, besides wrk's own figures, the answers that are not 2xx and the 2xx answers whose body
-- holds "errors" (a GraphQL error).
--
--   wrk -t1 -c32 -d10s --latency -s bench/post.lua http://127.0.0.1:9100/graphql -- body.json
--
-- With BENCH_REQUEST_IDS=1 every request carries an X-Request-Id of its own, as real clients'
-- requests do: the caching-off runs use it, because Tailcall answers concurrent requests that are
-- identical down to their headers with one execution, which is a cache in effect.
--
-- With BENCH_ID_RANGE=FIRST-LAST (bench/fleet scale) every request draws its contracts at random
-- from that range of numeric ids: each placeholder ID_<n> of the body becomes an id of its own,
-- the same n the same id within a request, distinct n distinct ids.
--
-- With BENCH_ACCEPT_ENCODING=gzip (or zstd) every request asks for a compressed answer, as
-- browsers do; GraphQL errors are then not counted (the bodies are compressed).
--
-- Each wrk thread runs this file in its own Lua state, so the counters below are per thread;
-- setup() keeps every thread and done() adds their counters up. done() prints one line that
-- bench/run reads:
--   BENCH requests=N rps=R p50_us=A p99_us=B non2xx=C gqlerrors=D sockerr=E
-- (gqlerrors=-1: not counted).

local threads = {}
local accept_encoding = os.getenv("BENCH_ACCEPT_ENCODING")
if accept_encoding == "" then accept_encoding = nil end

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(args[1], "rb"), "usage: -- BODY_FILE")
  wrk.method = "POST"
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "bench-token")
  if accept_encoding then
    wrk.headers["Accept-Encoding"] = accept_encoding
  end
  non2xx, gqlerrors = 0, 0
end

local request_ids = os.getenv("BENCH_REQUEST_IDS") == "1"
local id_first, id_last = (os.getenv("BENCH_ID_RANGE") or ""):match("^(%d+)-(%d+)$")
if request_ids or id_first then
  local addr = tostring({}):match("0x(%x+)")
  local prefix = addr and ("0x" .. addr .. "-") or "t-"
  local seq = 0
  local first, last = tonumber(id_first), tonumber(id_last)
  if first then
    -- Each thread its own sequence: the seed mixes the time with the thread's table address.
    math.randomseed(os.time() + (tonumber(addr or "0", 16) or 0) % 1000003)
  end
  function request()
    seq = seq + 1
    if request_ids then
      wrk.headers["X-Request-Id"] = prefix .. seq
    end
    if not first then
      return wrk.format()
    end
    local picked, used = {}, {}
    local body = wrk.body:gsub("ID_(%d+)", function(n)
      if not picked[n] then
        local id
        repeat id = math.random(first, last) until not used[id]
        used[id] = true
        picked[n] = tostring(id)
      end
      return picked[n]
    end)
    return wrk.format(nil, nil, nil, body)
  end
end

-- Handing every body to Lua costs wrk time: with 37 KB answers about a fifth of its rate, which
-- only shows where wrk is the bottleneck (the static server). BENCH_INSPECT=0 skips it: non-2xx
-- then come from wrk's own count (statuses of 400 and above) and GraphQL errors are not counted.
local inspect = os.getenv("BENCH_INSPECT") ~= "0" and not accept_encoding
if inspect then
  function response(status, headers, body)
    if status < 200 or status > 299 then
      non2xx = non2xx + 1
    elseif string.find(body, '"errors"', 1, true) then
      gqlerrors = gqlerrors + 1
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local n2, ge = 0, 0
  for _, t in ipairs(threads) do
    n2 = n2 + (t:get("non2xx") or 0)
    ge = ge + (t:get("gqlerrors") or 0)
  end
  if not inspect then
    n2, ge = e.status, -1
  end
  local secs = summary.duration / 1e6
  io.write(string.format("BENCH requests=%d rps=%.1f p50_us=%d p99_us=%d non2xx=%d gqlerrors=%d sockerr=%d\n",
    summary.requests, summary.requests / secs, latency:percentile(50), latency:percentile(99),
    n2, ge, e.connect + e.read + e.write + e.timeout))
end
