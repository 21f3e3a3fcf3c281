/**
 * How a task's priority (1–10) and its tenant's virtual start tag share BullMQ's one priority
 * number (1 … 2^21 − 1; lower runs first, equal ones keep FIFO order).
 *
 * The task priority is the major part, so a higher priority still runs first, across tenants,
 * as without fairness. Inside each priority level a band of LEVEL_SPAN − 1 values orders tasks
 * by start tag: `(priority − 1) × LEVEL_SPAN + (tag − base)`. Tags only grow; `base` is moved
 * forward (every waiting job of the level renumbered) before the band runs out.
 */
export const PRIORITY_LEVELS = 10;
export const LEVEL_SPAN = 209_715;
/** BullMQ's own bound (Job PRIORITY_LIMIT). */
export const BULLMQ_PRIORITY_LIMIT = 2 ** 21 - 1;
/** The level's band is renumbered once its virtual time is this far past the level's base. */
export const REBASE_AFTER = Math.floor(LEVEL_SPAN / 2);

/** The BullMQ priority of a task priority and a tag offset from its level's base (clamped into the band). */
export function encodeFairPriority(priority: number, offset: number): number {
  const inBand = Math.min(LEVEL_SPAN - 1, Math.max(1, Math.floor(offset)));
  return (priority - 1) * LEVEL_SPAN + inBand;
}

/** The task priority and the tag offset a BullMQ priority made by encodeFairPriority stands for. */
export function decodeFairPriority(bullmqPriority: number): { priority: number; offset: number } {
  const level = Math.floor((bullmqPriority - 1) / LEVEL_SPAN);
  return { priority: level + 1, offset: bullmqPriority - level * LEVEL_SPAN };
}

/**
 * Start-time fair queuing, atomically in Redis at enqueue. Every (tenant, priority) has a clock:
 * the tag of its latest task. A new task's tag is max(clock, V) + 1, V being the level's
 * virtual time: the tag of the next task to run (the lowest waiting one), or, when none of the
 * level waits, the highest tag handed out (everything before it ran). So a tenant with 100,000
 * waiting tasks holds tags far ahead of V, and another tenant's new task lands next to V: at
 * the front, interleaved one to one with the flood.
 *
 * KEYS: 1 prioritized (BullMQ), 2 delayed (BullMQ), 3 active (BullMQ), 4 fairness state hash,
 *       5 clocks hash (field `<priority>:<tenant>`).
 * ARGV: 1 job key prefix (`<prefix>:<queue>:`), then pairs tenant, priority.
 * Returns the BullMQ priority of each pair, in order.
 */
export const FAIR_PRIORITY_SCRIPT = `
local SCALE = 4294967296
local SPAN = ${LEVEL_SPAN}
local REBASE_AFTER = ${REBASE_AFTER}
local prefix = ARGV[1]
local levels = {}

local function level(p)
  local state = levels[p]
  if state then return state end
  local base = tonumber(redis.call('HGET', KEYS[4], 'base:' .. p) or '0')
  local v = tonumber(redis.call('HGET', KEYS[4], 'v:' .. p) or '0')
  local top = tonumber(redis.call('HGET', KEYS[4], 'top:' .. p) or '0')
  local low = (p - 1) * SPAN
  local head = redis.call('ZRANGEBYSCORE', KEYS[1], (low + 1) * SCALE, (low + SPAN) * SCALE - 1, 'WITHSCORES', 'LIMIT', 0, 1)
  if head[2] then
    local headTag = base + math.floor(tonumber(head[2]) / SCALE) - low
    if headTag > v then v = headTag end
  elseif top > v then
    v = top
  end
  if v - base > REBASE_AFTER then
    -- Renumber the level's band: every job of it moves down by the same amount, so the order
    -- holds; jobs waiting outside the prioritized set (delayed, running) get it in their hash.
    -- Every tag from V on keeps an offset of at least 1.
    local shift = v - base - 1
    local function moved(prio)
      local offset = prio - low - shift
      if offset < 1 then offset = 1 end
      return low + offset
    end
    local members = redis.call('ZRANGEBYSCORE', KEYS[1], (low + 1) * SCALE, (low + SPAN) * SCALE - 1, 'WITHSCORES')
    for i = 1, #members, 2 do
      local score = tonumber(members[i + 1])
      local prio = math.floor(score / SCALE)
      local newPrio = moved(prio)
      redis.call('ZADD', KEYS[1], newPrio * SCALE + (score - prio * SCALE), members[i])
      redis.call('HSET', prefix .. members[i], 'priority', newPrio)
    end
    local others = redis.call('ZRANGE', KEYS[2], 0, -1)
    for _, id in ipairs(redis.call('LRANGE', KEYS[3], 0, -1)) do others[#others + 1] = id end
    for _, id in ipairs(others) do
      local prio = tonumber(redis.call('HGET', prefix .. id, 'priority') or '0')
      if prio > low and prio <= low + SPAN then redis.call('HSET', prefix .. id, 'priority', moved(prio)) end
    end
    base = base + shift
    redis.call('HSET', KEYS[4], 'base:' .. p, base)
    -- A clock at or behind V means the same as V: drop it (tenants that went quiet).
    local clocks = redis.call('HGETALL', KEYS[5])
    local suffix = p .. ':'
    for i = 1, #clocks, 2 do
      if string.sub(clocks[i], 1, #suffix) == suffix and tonumber(clocks[i + 1]) <= v then redis.call('HDEL', KEYS[5], clocks[i]) end
    end
  end
  state = { base = base, v = v, top = top, low = low }
  levels[p] = state
  return state
end

local result = {}
for i = 2, #ARGV, 2 do
  local tenant = ARGV[i]
  local p = tonumber(ARGV[i + 1])
  local state = level(p)
  local field = p .. ':' .. tenant
  local clock = tonumber(redis.call('HGET', KEYS[5], field) or '0')
  local tag = math.max(clock, state.v) + 1
  redis.call('HSET', KEYS[5], field, tag)
  if tag > state.top then state.top = tag end
  local offset = tag - state.base
  if offset > SPAN - 1 then offset = SPAN - 1 end
  result[#result + 1] = state.low + offset
end
for p, state in pairs(levels) do
  redis.call('HSET', KEYS[4], 'v:' .. p, state.v, 'top:' .. p, state.top)
end
return result
`;
