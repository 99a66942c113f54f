-- The classifier's atomic step, for a batch of steps (see store.py for the key layout).
--
-- ARGV[1..11]: window_ms, dwell_ms, enter_inv (hundredths), enter_peers, enter_days,
--              stay_inv (hundredths), stay_peers, rules_version, history_limit, stream_maxlen,
--              emit ("0": a quiet replay, no live stream and no outbox)
-- ARGV[12]:    the window codes: "code:kind:group;..." (store.py WINDOW_CODES)
-- ARGV[13..]:  one step each, fields joined by SEP: mode, community, member, event_id, digest
--              (the first 10 hex digits of sha1(event_id)), t_ms, kind, code (window code of
--              the kind, "*" for a received interaction), group, weight, peer, standing_pair,
--              standing_start
--   mode "event"    an own event of the member: dedupe, catch up due inactivity, window update,
--                   prune, evaluate, compare-and-set the segment.
--        "received" another member interacted with this one: counts towards peers only.
--        "sweep"    time passed: evaluate at every due time <= t_ms, in order.
--   group "i" investment, "n" interest, "e" standing end, "r" received
-- Returns one string: per step (joined by RS = \30) status GS wm_ms GS due_ms, then GS outbox_id
-- GS transition record for each transition (GS = \29; records use SEP = \31 inside).
-- status: "ok" | "dup" | "late" | "none" (sweep found nothing due)
-- One string, split once in Python, costs far less than a RESP array of thousands of items.
--
-- Each member's state hash is read once per call and written once at its end; the work per
-- event is a few window commands and table updates. Evidence JSON, reasons and dates are built
-- in Python (invested/records.py) only when a transition is published or state is read.

-- Locals: global lookups are table lookups in Redis's Lua 5.1, and this runs per event.
local rcall, tonumber, format, concat = redis.call, tonumber, string.format, table.concat
local SEP = "\31"
local DAY_MS = 86400000
local window_ms, dwell_ms = tonumber(ARGV[1]), tonumber(ARGV[2])
local enter_inv, enter_peers, enter_days = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local stay_inv, stay_peers = tonumber(ARGV[6]), tonumber(ARGV[7])
local rules_version, history_limit, stream_maxlen = ARGV[8], tonumber(ARGV[9]), ARGV[10]
local emit = ARGV[11] ~= "0"
local FIRST_STEP = 13
local CODE_KIND, CODE_GROUP = {}, {}
for code, kind, group in string.gmatch(ARGV[12], "([^:;]+):([^:;]+):([^:;]+)") do
  CODE_KIND[code], CODE_GROUP[code] = kind, group
end
CODE_GROUP["*"] = "r"
local GS, RS = "\29", "\30"
local DUE, OUTBOX, COMMUNITIES = "inv:due", "inv:outbox", "inv:communities"

local find, sub, floor = string.find, string.sub, math.floor
local function split(text)
  local out, start = {}, 1
  while true do
    local at = find(text, SEP, start, true)
    if not at then out[#out + 1] = sub(text, start); return out end
    out[#out + 1] = sub(text, start, at - 1)
    start = at + 1
  end
end

-- ---------------------------------------------------------------- member cache
-- M.h: the state hash (strings as read, numbers once written); M.dirty: fields to write back.
local members, touched = {}, {}

local function get_num(M, f)
  local v = M.h[f]
  if v == nil then return 0 end
  return tonumber(v)
end

local function set(M, f, v)
  if M.h[f] ~= v then M.h[f] = v; M.dirty[f] = true end
end

local function del(M, f)
  if M.h[f] ~= nil then M.h[f] = nil; M.dirty[f] = true end
end

-- The fields read and written as a whole once per call. Per-kind, per-peer, per-day and
-- standing fields ("k:", "p:", "d:", "s:") are touched one at a time instead: a heavy member
-- has hundreds of them, and reading them all for every batch cost more than the whole step.
local CORE = { "segment", "since", "seq", "wm", "due", "why", "at", "last", "lo", "inv", "int", "n",
  "np", "nd", "held", "wo", "ids", "rules_version" }

local function load(community, member)
  local name = community .. "/" .. member
  local M = members[name]
  if M then return M end
  local tag = "inv:{" .. name .. "}"
  M = { name = name, community = community, member = member, h = {}, dirty = {},
    k_state = tag .. ":state", k_history = tag .. ":history", k_win = tag .. ":win", k_ids = tag .. ":ids" }
  local raw = rcall("HMGET", M.k_state, unpack(CORE))
  for i = 1, #CORE do
    local v = raw[i]
    if v and v ~= "" then M.h[CORE[i]] = v end
  end
  members[name] = M
  touched[#touched + 1] = M
  return M
end

-- A core counter (kept at 0 rather than removed, see flush).
local function bump(M, f, by)
  set(M, f, (tonumber(M.h[f]) or 0) + by)
end

-- A counter field kept in Redis only; "count" (np, nd) is the number of such fields.
local function bump_field(M, f, by, count)
  local v = rcall("HINCRBY", M.k_state, f, by)
  if v <= 0 then
    rcall("HDEL", M.k_state, f)
    if count then bump(M, count, -1) end
  elseif v == by and count then
    bump(M, count, 1)
  end
end

local function flush(M)
  if next(M.dirty) == nil then return end -- duplicates, late events, stale sweeps
  set(M, "rules_version", rules_version) -- the rules of the last change
  -- An absent core field is written as "" rather than deleted: HMGET of a field that is not
  -- there scans the whole hash, and a heavy member's hash has hundreds of fields.
  local hset = { M.k_state }
  for f in pairs(M.dirty) do
    hset[#hset + 1] = f
    hset[#hset + 1] = M.h[f] or ""
  end
  rcall("HSET", unpack(hset))
end

local function seg_key(community, seg)
  return "inv:seg:{" .. community .. "}:" .. seg
end

-- ---------------------------------------------------------------- window
-- entry = sha1(id)[:10] code weight SEP peer ; score = event time (ms). The code (one
-- character) names kind and group, so an entry costs ~13 bytes plus its peer.
-- An entry is a function of the event alone, so a redelivery gives the same entry: the window
-- itself dedupes. 40-bit digests: a collision inside one member's window is negligible.
local function forget(M, entry, at)
  local code = sub(entry, 11, 11)
  local cut = find(entry, SEP, 12, true)
  local ekind, egroup = CODE_KIND[code], CODE_GROUP[code]
  local eweight, epeer = tonumber(sub(entry, 12, cut - 1)), sub(entry, cut + 1)
  if egroup == "i" then
    bump(M, "inv", -eweight)
    bump_field(M, "d:" .. floor(at / DAY_MS), -1, "nd")
  elseif egroup == "n" then
    bump(M, "int", -eweight)
  end
  if egroup == "i" or egroup == "n" then
    bump(M, "n", -1)
    bump_field(M, "k:" .. ekind, -1)
  end
  if epeer ~= "" then bump_field(M, "p:" .. epeer, -1, "np") end
end

-- The oldest score of a zset, or nil when it is empty.
local function oldest(key)
  local first = rcall("ZRANGE", key, 0, 0, "WITHSCORES")
  return first[2] and tonumber(first[2]) or nil
end

-- "wo"/"ids" hold the oldest score of the window/ids zset, so an evaluation with nothing to
-- prune sends no command at all.
local function prune(M, at)
  local cutoff = at - window_ms -- the window is (at - window, at]
  local wo = tonumber(M.h.wo)
  if wo ~= nil and wo <= cutoff then
    local old = rcall("ZRANGEBYSCORE", M.k_win, "-inf", cutoff, "WITHSCORES")
    for i = 1, #old, 2 do forget(M, old[i], tonumber(old[i + 1])) end
    rcall("ZREMRANGEBYSCORE", M.k_win, "-inf", cutoff)
    local first = oldest(M.k_win)
    if first then set(M, "wo", first) else del(M, "wo") end
  end
  -- Ids of standing ends that left the window: a duplicate of one now counts as too late.
  local io = tonumber(M.h.ids)
  if io ~= nil and io <= cutoff then
    rcall("ZREMRANGEBYSCORE", M.k_ids, "-inf", cutoff)
    local first = oldest(M.k_ids)
    if first then set(M, "ids", first) else del(M, "ids") end
  end
end

-- The entry is already in the window zset (added by the dedupe check).
local function remember(M, at, ekind, egroup, weight_text, epeer)
  local eweight = tonumber(weight_text)
  local wo = tonumber(M.h.wo)
  if wo == nil or at < wo then set(M, "wo", at) end
  if egroup == "i" then
    bump(M, "inv", eweight)
    bump_field(M, "d:" .. floor(at / DAY_MS), 1, "nd")
  elseif egroup == "n" then
    bump(M, "int", eweight)
  end
  if egroup == "i" or egroup == "n" then
    bump(M, "n", 1)
    bump_field(M, "k:" .. ekind, 1)
    if at > get_num(M, "lo") then set(M, "lo", at) end
  end
  if epeer ~= "" then bump_field(M, "p:" .. epeer, 1, "np") end
end

-- ---------------------------------------------------------------- evaluation
-- The transition record (expanded by invested/records.py):
-- seq SEP from SEP to SEP at SEP cause SEP rules_version SEP why SEP investment SEP interest
-- SEP peers SEP active_days SEP events SEP kind=count,... SEP standing,...
local function record_of(M, seq, from, to, at, cause, why)
  local kinds, held = {}, {}
  local raw = rcall("HGETALL", M.k_state)
  for i = 1, #raw, 2 do
    local f, v = raw[i], raw[i + 1]
    local p = sub(f, 1, 2)
    if p == "k:" then kinds[#kinds + 1] = sub(f, 3) .. "=" .. v
    elseif p == "s:" and sub(v, -1) == "1" then held[#held + 1] = sub(f, 3) end
  end
  table.sort(kinds)
  table.sort(held)
  return concat({ seq, from, to, format("%d", at), cause, rules_version, why,
    get_num(M, "inv"), get_num(M, "int"), get_num(M, "np"), get_num(M, "nd"), get_num(M, "n"),
    concat(kinds, ","), concat(held, ",") }, SEP)
end

-- Returns the new due time (or nil) and appends (outbox id, record) to out on a transition.
local function evaluate(M, at, cause, out)
  prune(M, at)
  local segment = M.h.segment
  local since_ms = tonumber(M.h.since)
  local inv, n, npeers, ndays = get_num(M, "inv"), get_num(M, "n"), get_num(M, "np"), get_num(M, "nd")
  local held = get_num(M, "held")
  local in_dwell = since_ms ~= nil and (at - since_ms) < dwell_ms
  local active = (held > 0) or (n > 0)
  local enter = inv >= enter_inv and npeers >= enter_peers and ndays >= enter_days
  local stay = inv >= stay_inv and npeers >= stay_peers

  -- why: the reason code (invested/records.py turns it into a sentence)
  local new, why
  if segment == "community" and stay then
    new, why = "community", "stay"
  elseif segment == "community" and in_dwell then
    new, why = "community", "dwell"
  elseif segment ~= "community" and enter then
    new, why = "community", "enter"
  elseif active then
    new = "audience"
    if segment == "community" then why = "left"
    elseif held > 0 and n == 0 then why = "standing"
    else why = "audience" end
  elseif segment == "audience" and in_dwell then
    new, why = "audience", "held"
  else
    new, why = "dormant", "dormant"
  end

  -- due: when can the segment next change without a new event?
  local due = nil
  local new_since = since_ms
  if new ~= segment then new_since = at end
  if new == "community" then
    local wo = tonumber(M.h.wo)
    due = wo and (wo + window_ms) or at
    if new_since and new_since + dwell_ms > due then due = new_since + dwell_ms end
  elseif new == "audience" and held == 0 then
    due = get_num(M, "lo") + window_ms
    if new_since and new_since + dwell_ms > due then due = new_since + dwell_ms end
  end
  if due ~= nil and due <= at then due = at + 1 end

  if new ~= segment then
    local seq = get_num(M, "seq") + 1
    local record = record_of(M, seq, segment, new, at, cause, why)
    rcall("ZREM", seg_key(M.community, segment), M.member)
    rcall("ZADD", seg_key(M.community, new), 0, M.member)
    rcall("LPUSH", M.k_history, record)
    rcall("LTRIM", M.k_history, 0, history_limit - 1)
    local oid = ""
    if emit then
      rcall("XADD", "inv:transitions:{" .. M.community .. "}", "MAXLEN", "~", stream_maxlen, "*",
        "m", M.member, "t", record)
      oid = rcall("XADD", OUTBOX, "*", "k", M.name, "t", record)
    end
    out[#out + 1] = oid
    out[#out + 1] = record
    set(M, "seq", seq)
    set(M, "segment", new)
    set(M, "since", at)
  end
  local old_due = tonumber(M.h.due)
  if due ~= old_due then
    if due then
      rcall("ZADD", DUE, due, M.name)
      set(M, "due", due)
    else
      rcall("ZREM", DUE, M.name)
      del(M, "due")
    end
  end
  set(M, "why", why)
  set(M, "at", at)
  return due
end

local function catch_up(M, until_ms, out)
  -- Inactivity first: every due time up to until_ms is evaluated in order, exactly once.
  local due = tonumber(M.h.due)
  local steps = 0
  while due ~= nil and due <= until_ms and steps < 10000 do
    local wm = tonumber(M.h.wm)
    if wm == nil or due > wm then set(M, "wm", due) end
    due = evaluate(M, due, "inactivity", out)
    steps = steps + 1
  end
  return steps
end

-- ---------------------------------------------------------------- one step
local function run_step(text)
  local a = split(text)
  local mode, community, member, event_id, digest = a[1], a[2], a[3], a[4], a[5]
  local t_ms, kind, code, group, weight, peer = tonumber(a[6]), a[7], a[8], a[9], a[10], a[11]
  local standing_pair, standing_start = a[12], a[13]
  local M = load(community, member)
  local out = {}
  local is_new = M.h.segment == nil
  if is_new and mode == "sweep" then -- a stale due entry of a member whose state is gone
    return "none" .. GS .. GS
  end
  if is_new then
    rcall("ZADD", "inv:members:{" .. community .. "}", 0, member)
    rcall("SADD", COMMUNITIES, community)
    rcall("ZADD", seg_key(community, "dormant"), 0, member)
    set(M, "segment", "dormant"); set(M, "seq", 0); set(M, "since", t_ms)
  end

  local status = "ok"
  if mode == "sweep" then
    if catch_up(M, t_ms, out) == 0 then status = "none" end
  else
    local wm = tonumber(M.h.wm)
    local entry = digest .. code .. weight .. SEP .. peer
    if wm ~= nil and t_ms <= wm - window_ms then
      status = "late"
    elseif group == "e" and rcall("ZADD", M.k_ids, "NX", t_ms, digest) == 0 then
      status = "dup"
    elseif group ~= "e" and rcall("ZADD", M.k_win, "NX", t_ms, entry) == 0 then
      status = "dup"
    else
      -- Added already (dedupe). Evaluations of catch_up are at due times <= t_ms, where the new
      -- entry is neither counted (counters change in remember) nor pruned (t_ms > cutoff).
      if group == "e" then
        local io = tonumber(M.h.ids)
        if io == nil or t_ms < io then set(M, "ids", t_ms) end
      end
      catch_up(M, t_ms, out)
      if standing_pair ~= "" then
        local f = "s:" .. standing_pair
        local cur = rcall("HGET", M.k_state, f)
        local newer = true
        if cur then
          local c = split(cur)
          local ct = tonumber(c[1])
          newer = (t_ms > ct) or (t_ms == ct and event_id > c[2])
        end
        if newer then
          local value = format("%d", t_ms) .. SEP .. event_id .. SEP .. standing_start
          if cur and sub(cur, -1) == "1" then bump(M, "held", -1) end
          if standing_start == "1" then bump(M, "held", 1) end
          rcall("HSET", M.k_state, f, value)
        end
      end
      if group ~= "e" then remember(M, t_ms, kind, group, weight, peer) end
      wm = tonumber(M.h.wm)
      if wm == nil or t_ms > wm then set(M, "wm", t_ms); wm = t_ms end
      if mode == "event" and t_ms > get_num(M, "last") then set(M, "last", t_ms) end
      -- A received interaction is caused by the other member's event: cite that event's id.
      local cause = event_id
      if mode == "received" then cause = sub(event_id, 1, -3) end
      evaluate(M, wm, cause, out)
    end
  end
  local line = status .. GS .. (M.h.wm and format("%d", tonumber(M.h.wm)) or "")
    .. GS .. (M.h.due and format("%d", tonumber(M.h.due)) or "")
  if #out > 0 then line = line .. GS .. concat(out, GS) end
  return line
end

local lines = {}
for i = FIRST_STEP, #ARGV do lines[#lines + 1] = run_step(ARGV[i]) end
for _, M in ipairs(touched) do flush(M) end
return concat(lines, RS)
