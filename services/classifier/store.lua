-- One atomic step of the classifier for one member (see store.py for the key layout).
--
-- Modes:
--   "event"    an own event of the member: dedupe, catch up due inactivity, window update,
--              prune, evaluate, compare-and-set the segment.
--   "received" another member interacted with this one: counts towards peers only.
--   "sweep"    time passed: evaluate at every due time <= ARGV until, in order.
-- Returns { status, wm_ms, due_ms, outbox_id_1, transition_json_1, ... }
-- status: "ok" | "dup" | "late" | "none" (sweep found nothing due)

local K_STATE, K_HISTORY, K_WIN, K_IDS, K_AGG, K_PEERS, K_DAYS, K_STANDING = 1, 2, 3, 4, 5, 6, 7, 8
local K_SEG_COMMUNITY, K_SEG_AUDIENCE, K_SEG_DORMANT, K_MEMBERS, K_COMMUNITIES = 9, 10, 11, 12, 13
local K_TSTREAM, K_DUE, K_OUTBOX = 14, 15, 16

local mode = ARGV[1]
local community, member = ARGV[2], ARGV[3]
local event_id, t_ms, kind = ARGV[4], tonumber(ARGV[5]), ARGV[6]
local group = ARGV[7]            -- "i" investment, "n" interest, "e" standing end, "r" received
local weight = tonumber(ARGV[8]) -- hundredths
local peer = ARGV[9]             -- "" when none
local standing_pair = ARGV[10]   -- "" when the kind opens/closes no standing interest
local standing_start = ARGV[11]  -- "1" opens, "0" closes
local window_ms, dwell_ms = tonumber(ARGV[12]), tonumber(ARGV[13])
local enter_inv, enter_peers, enter_days = tonumber(ARGV[14]), tonumber(ARGV[15]), tonumber(ARGV[16])
local stay_inv, stay_peers = tonumber(ARGV[17]), tonumber(ARGV[18])
local rules_version, history_limit = ARGV[19], tonumber(ARGV[20])
local thresholds_json, stream_maxlen = ARGV[21], ARGV[22]
local window_days_text = ARGV[23]
local emit = ARGV[24] ~= "0" -- "0": a quiet replay, no live stream and no outbox (no storm)
local due_member = community .. "/" .. member
local SEP = "\31"
local DAY_MS = 86400000

-- ---------------------------------------------------------------- helpers
local function civil(days) -- days since 1970-01-01 -> y, m, d (H. Hinnant's algorithm)
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return y, m, d
end

local function iso(ms)
  local days = math.floor(ms / DAY_MS)
  local rest = ms - days * DAY_MS
  local y, m, d = civil(days)
  local hh = math.floor(rest / 3600000)
  local mm = math.floor((rest % 3600000) / 60000)
  local ss = math.floor((rest % 60000) / 1000)
  local mss = rest % 1000
  return string.format("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d, hh, mm, ss, mss)
end

local function num(centi) -- hundredths -> JSON number text
  if centi % 100 == 0 then return string.format("%d", centi / 100) end
  return string.format("%.2f", centi / 100)
end

local function split(entry)
  local out = {}
  for part in string.gmatch(entry .. SEP, "(.-)" .. SEP) do out[#out + 1] = part end
  return out
end

local function hget_num(key, field)
  local v = redis.call("HGET", KEYS[key], field)
  if v then return tonumber(v) end
  return 0
end

-- ---------------------------------------------------------------- window
-- entry = id SEP kind SEP group SEP weight SEP peer SEP day ; score = event time (ms)
local function forget(entry)
  local f = split(entry)
  local ekind, egroup, eweight, epeer, eday = f[2], f[3], tonumber(f[4]), f[5], f[6]
  if egroup == "i" then
    redis.call("HINCRBY", KEYS[K_AGG], "inv", -eweight)
    if redis.call("HINCRBY", KEYS[K_DAYS], eday, -1) <= 0 then redis.call("HDEL", KEYS[K_DAYS], eday) end
  elseif egroup == "n" then
    redis.call("HINCRBY", KEYS[K_AGG], "int", -eweight)
  end
  if egroup == "i" or egroup == "n" then
    redis.call("HINCRBY", KEYS[K_AGG], "n", -1)
    if redis.call("HINCRBY", KEYS[K_AGG], "k:" .. ekind, -1) <= 0 then redis.call("HDEL", KEYS[K_AGG], "k:" .. ekind) end
  end
  if epeer ~= "" then
    if redis.call("HINCRBY", KEYS[K_PEERS], epeer, -1) <= 0 then redis.call("HDEL", KEYS[K_PEERS], epeer) end
  end
end

local function prune(at)
  local cutoff = at - window_ms -- the window is (at - window, at]
  local old = redis.call("ZRANGEBYSCORE", KEYS[K_WIN], "-inf", cutoff)
  for _, entry in ipairs(old) do forget(entry) end
  if #old > 0 then redis.call("ZREMRANGEBYSCORE", KEYS[K_WIN], "-inf", cutoff) end
  -- Ids of events that left the window: a duplicate of one now counts as too late.
  redis.call("ZREMRANGEBYSCORE", KEYS[K_IDS], "-inf", cutoff)
end

-- The window entry of an event is a function of the event alone, so a redelivery produces the
-- same entry: the window itself dedupes. The id is kept as a 12-hex-digit digest (48 bits; a
-- collision inside one member's window is negligible) to keep entries small (listpack-encoded).
local function entry_of(id, at, ekind, egroup, eweight, epeer)
  local day = tostring(math.floor(at / DAY_MS))
  return string.sub(redis.sha1hex(id), 1, 12) .. SEP .. ekind .. SEP .. egroup .. SEP .. eweight .. SEP .. epeer .. SEP .. day, day
end

local function remember(entry, day, at, ekind, egroup, eweight, epeer)
  redis.call("ZADD", KEYS[K_WIN], at, entry)
  if egroup == "i" then
    redis.call("HINCRBY", KEYS[K_AGG], "inv", eweight)
    redis.call("HINCRBY", KEYS[K_DAYS], day, 1)
  elseif egroup == "n" then
    redis.call("HINCRBY", KEYS[K_AGG], "int", eweight)
  end
  if egroup == "i" or egroup == "n" then
    redis.call("HINCRBY", KEYS[K_AGG], "n", 1)
    redis.call("HINCRBY", KEYS[K_AGG], "k:" .. ekind, 1)
    if at > hget_num(K_AGG, "last_own") then redis.call("HSET", KEYS[K_AGG], "last_own", at) end
  end
  if epeer ~= "" then redis.call("HINCRBY", KEYS[K_PEERS], epeer, 1) end
end

-- ---------------------------------------------------------------- evaluation
local state = {}
do
  local raw = redis.call("HGETALL", KEYS[K_STATE])
  for i = 1, #raw, 2 do state[raw[i]] = raw[i + 1] end
end
local is_new = state.segment == nil
local segment = state.segment or "dormant"
local since_ms = tonumber(state.since_ms or "")
local seq = tonumber(state.seq or "0")
local wm = tonumber(state.wm or "")
local out = {}

local function seg_key(seg)
  if seg == "community" then return KEYS[K_SEG_COMMUNITY] end
  if seg == "audience" then return KEYS[K_SEG_AUDIENCE] end
  return KEYS[K_SEG_DORMANT]
end

local function standing_held()
  local held = {}
  local raw = redis.call("HGETALL", KEYS[K_STANDING])
  for i = 1, #raw, 2 do
    local f = split(raw[i + 1]) -- time SEP id SEP start
    if f[3] == "1" then held[#held + 1] = raw[i] end
  end
  table.sort(held)
  return held
end

local PLURAL = { reply = "replies" }
local function kinds_text(counts_order, counts)
  local parts = {}
  for _, k in ipairs(counts_order) do
    local c = counts[k]
    local word = k
    if c ~= 1 then word = PLURAL[k] or (k .. "s") end
    parts[#parts + 1] = c .. " " .. word
  end
  return table.concat(parts, ", ")
end

local function evaluate(at, cause)
  prune(at)
  local inv = hget_num(K_AGG, "inv")
  local int = hget_num(K_AGG, "int")
  local n = hget_num(K_AGG, "n")
  local npeers = redis.call("HLEN", KEYS[K_PEERS])
  local ndays = redis.call("HLEN", KEYS[K_DAYS])
  local held = standing_held()
  local in_dwell = since_ms ~= nil and (at - since_ms) < dwell_ms
  local active = (#held > 0) or (n > 0)
  local enter = inv >= enter_inv and npeers >= enter_peers and ndays >= enter_days
  local stay = inv >= stay_inv and npeers >= stay_peers

  local new, why
  if segment == "community" and stay then
    new, why = "community", string.format("stays in community: investment %s >= %s, peers %d >= %d", num(inv), num(stay_inv), npeers, stay_peers)
  elseif segment == "community" and in_dwell then
    new, why = "community", string.format("held in community by the minimum dwell (investment %s, peers %d below stay %s/%d)", num(inv), npeers, num(stay_inv), stay_peers)
  elseif segment ~= "community" and enter then
    new, why = "community", string.format("entered community: investment %s >= %s, peers %d >= %d, active days %d >= %d", num(inv), num(enter_inv), npeers, enter_peers, ndays, enter_days)
  elseif active then
    new = "audience"
    if segment == "community" then
      why = string.format("left community: investment %s / peers %d below stay %s/%d", num(inv), npeers, num(stay_inv), stay_peers)
    elseif #held > 0 and n == 0 then
      why = "audience: standing interest (" .. table.concat(held, ", ") .. ")"
    else
      why = string.format("audience: %d own events in the window, below community (investment %s, peers %d, active days %d)", n, num(inv), npeers, ndays)
    end
  elseif segment == "audience" and in_dwell then
    new, why = "audience", "held in audience by the minimum dwell (window empty)"
  else
    new, why = "dormant", "dormant: no own events in the window and no standing interest"
  end

  -- kind counts, sorted for determinism
  local counts, order = {}, {}
  local agg = redis.call("HGETALL", KEYS[K_AGG])
  for i = 1, #agg, 2 do
    if string.sub(agg[i], 1, 2) == "k:" then
      local k = string.sub(agg[i], 3)
      counts[k] = tonumber(agg[i + 1]); order[#order + 1] = k
    end
  end
  table.sort(order)
  local kc = {}
  for _, k in ipairs(order) do kc[#kc + 1] = cjson.encode(k) .. ":" .. counts[k] end
  local held_json = {}
  for _, h in ipairs(held) do held_json[#held_json + 1] = cjson.encode(h) end
  if #order > 0 and (new == "community" or segment == "community") then
    why = why .. " (" .. kinds_text(order, counts) .. " with " .. npeers .. " members on " .. ndays .. " days in the last " .. window_days_text .. " days)"
  end
  local evidence = "{\"investment\":" .. num(inv) .. ",\"interest\":" .. num(int) .. ",\"peers\":" .. npeers
    .. ",\"active_days\":" .. ndays .. ",\"standing\":[" .. table.concat(held_json, ",") .. "]"
    .. ",\"events_in_window\":" .. n .. ",\"kind_counts\":{" .. table.concat(kc, ",") .. "}"
    .. ",\"thresholds\":" .. thresholds_json .. ",\"reason\":" .. cjson.encode(why) .. "}"

  -- due: when can the segment next change without a new event?
  local due = nil
  if new == "community" then
    local oldest = redis.call("ZRANGE", KEYS[K_WIN], 0, 0, "WITHSCORES")
    local next_expiry = oldest[2] and (tonumber(oldest[2]) + window_ms) or at
    due = next_expiry
    local new_since = (new ~= segment) and at or since_ms
    if new_since and new_since + dwell_ms > due then due = new_since + dwell_ms end
  elseif new == "audience" and #held == 0 then
    local last_own = hget_num(K_AGG, "last_own")
    due = last_own + window_ms
    local new_since = (new ~= segment) and at or since_ms
    if new_since and new_since + dwell_ms > due then due = new_since + dwell_ms end
  end
  if due ~= nil and due <= at then due = at + 1 end

  if new ~= segment then
    seq = seq + 1
    local tid = string.sub(redis.sha1hex("transition" .. SEP .. community .. SEP .. member .. SEP .. seq .. SEP .. rules_version), 1, 32)
    local at_iso = iso(at)
    local data = "{\"community\":" .. cjson.encode(community) .. ",\"member\":" .. cjson.encode(member)
      .. ",\"from\":\"" .. segment .. "\",\"to\":\"" .. new .. "\",\"at\":\"" .. at_iso .. "\",\"cause\":" .. cjson.encode(cause)
      .. ",\"evidence\":" .. evidence .. ",\"rules_version\":" .. cjson.encode(rules_version) .. ",\"seq\":" .. seq .. "}"
    local envelope = "{\"specversion\":\"1.0\",\"type\":\"io.invested.member.transition.v1\",\"source\":\"/invested/classifier\",\"id\":\"" .. tid
      .. "\",\"time\":\"" .. at_iso .. "\",\"subject\":" .. cjson.encode(community .. "/" .. member)
      .. ",\"datacontenttype\":\"application/json\",\"data\":" .. data .. "}"
    redis.call("ZREM", seg_key(segment), member)
    redis.call("ZADD", seg_key(new), 0, member)
    redis.call("LPUSH", KEYS[K_HISTORY], envelope)
    redis.call("LTRIM", KEYS[K_HISTORY], 0, history_limit - 1)
    local oid = ""
    if emit then
      redis.call("XADD", KEYS[K_TSTREAM], "MAXLEN", "~", stream_maxlen, "*", "t", envelope)
      oid = redis.call("XADD", KEYS[K_OUTBOX], "*", "k", community .. "/" .. member, "t", envelope)
    end
    out[#out + 1] = oid
    out[#out + 1] = envelope
    segment, since_ms = new, at
  end
  if due then
    redis.call("ZADD", KEYS[K_DUE], due, due_member)
  else
    redis.call("ZREM", KEYS[K_DUE], due_member)
  end
  redis.call("HSET", KEYS[K_STATE], "segment", segment, "since", iso(since_ms or at), "since_ms", since_ms or at,
    "seq", seq, "evidence", evidence, "rules_version", rules_version, "updated_at", iso(at),
    "due_at", due and iso(due) or "", "due_ms", due or "")
  return due
end

local function catch_up(until_ms)
  -- Inactivity first: every due time up to until_ms is evaluated in order, exactly once.
  local due = tonumber(redis.call("ZSCORE", KEYS[K_DUE], due_member) or "")
  local steps = 0
  while due ~= nil and due <= until_ms and steps < 10000 do
    if wm == nil or due > wm then wm = due end
    due = evaluate(due, "inactivity")
    steps = steps + 1
  end
  return steps
end

if is_new and mode == "sweep" then
  return { "none", "", "" } -- a stale due entry of a member whose state is gone
end
if is_new then
  since_ms = t_ms
  redis.call("ZADD", KEYS[K_MEMBERS], 0, member)
  redis.call("SADD", KEYS[K_COMMUNITIES], community)
  redis.call("ZADD", KEYS[K_SEG_DORMANT], 0, member)
  redis.call("HSET", KEYS[K_STATE], "segment", "dormant", "seq", 0, "since_ms", t_ms, "since", iso(t_ms))
end

local status = "ok"
if mode == "sweep" then
  local until_ms = t_ms
  if catch_up(until_ms) == 0 then status = "none" end
else
  -- Dedupe: window events by their entry, standing ends (not in the window) by id.
  local entry, day = entry_of(event_id, t_ms, kind, group, weight, peer)
  if wm ~= nil and t_ms <= wm - window_ms then
    status = "late"
  elseif group == "e" and redis.call("ZADD", KEYS[K_IDS], "NX", t_ms, event_id) == 0 then
    status = "dup"
  elseif group ~= "e" and redis.call("ZSCORE", KEYS[K_WIN], entry) then
    status = "dup"
  else
    catch_up(t_ms)
    if standing_pair ~= "" then
      local cur = redis.call("HGET", KEYS[K_STANDING], standing_pair)
      local newer = true
      if cur then
        local f = split(cur)
        local ct = tonumber(f[1])
        newer = (t_ms > ct) or (t_ms == ct and event_id > f[2])
      end
      if newer then redis.call("HSET", KEYS[K_STANDING], standing_pair, t_ms .. SEP .. event_id .. SEP .. standing_start) end
    end
    if group ~= "e" then remember(entry, day, t_ms, kind, group, weight, peer) end
    if wm == nil or t_ms > wm then wm = t_ms end
    if mode == "event" then
      redis.call("HSET", KEYS[K_STATE], "last_event_at", iso(math.max(t_ms, tonumber(state.last_event_ms or "0"))),
        "last_event_ms", math.max(t_ms, tonumber(state.last_event_ms or "0")))
    end
    -- A received interaction is caused by the other member's event: cite that event's id.
    local cause = event_id
    if mode == "received" then cause = string.sub(event_id, 1, -3) end
    evaluate(wm, cause)
  end
end
if wm ~= nil then redis.call("HSET", KEYS[K_STATE], "wm", wm) end
local due_now = redis.call("ZSCORE", KEYS[K_DUE], due_member)
local result = { status, tostring(wm or ""), tostring(due_now or "") }
for _, v in ipairs(out) do result[#result + 1] = v end
return result
