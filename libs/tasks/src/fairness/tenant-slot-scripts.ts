import { QueueScript } from './queue-script';

/**
 * A tenant's running tasks in one queue are a sorted set `<queue prefix>fair:running:<tenant>`:
 * job id → lease expiry (Redis server time, ms). A worker renews the leases of the tasks it runs;
 * a worker killed with -9 renews nothing, so its entries lapse within one lease and their slots
 * come back without anyone cleaning up. A job that runs again (stalled, then taken over) keeps
 * its one entry: it never counts twice.
 */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** How far down the waiting jobs a tenant over its cap looks for another tenant's task before borrowing a slot. */
export const BORROW_LOOKAHEAD = 20;

/**
 * Takes a slot for a job if its tenant is under its cap (the tenant's own from the caps hash,
 * else the default; 0 means no cap). Over the cap, with borrowing on, the job still gets a slot
 * while none of the next BORROW_LOOKAHEAD waiting jobs is another tenant's (work-conserving:
 * spare capacity is used); a job's tenant is read from the start of its data, where jobForTask
 * puts it. KEYS: running set, caps hash, prioritized set.
 * ARGV: tenant, job id, default cap, lease ms, job key prefix, borrow ('1' or '0').
 * Returns 1 (taken or already held) or 0 (full).
 */
export const ACQUIRE_SLOT = new QueueScript(
  'conveyorAcquireTenantSlot',
  `${NOW}
local cap = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if cap > 0 and not redis.call('ZSCORE', KEYS[1], ARGV[2]) and redis.call('ZCARD', KEYS[1]) >= cap then
  if ARGV[6] ~= '1' then return 0 end
  for _, id in ipairs(redis.call('ZRANGE', KEYS[3], 0, ${BORROW_LOOKAHEAD} - 1)) do
    local data = redis.call('HGET', ARGV[5] .. id, 'data')
    if data and string.match(data, '^{"tenantId":"([^"]*)"') ~= ARGV[1] then return 0 end
  end
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
return 1`,
  3,
);

/** Extends the leases of jobs still held. KEYS: running set. ARGV: lease ms, job ids. */
export const RENEW_SLOTS = new QueueScript(
  'conveyorRenewTenantSlots',
  `${NOW}
local lease = tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', now + lease, ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], lease)
return 0`,
  1,
);

/** Gives slots back. KEYS: running set. ARGV: job ids. */
export const RELEASE_SLOTS = new QueueScript('conveyorReleaseTenantSlots', `return redis.call('ZREM', KEYS[1], unpack(ARGV))`, 1);

/**
 * Takes back the start BullMQ counted when it handed over a job that is deferred for its
 * tenant's cap: the handler never ran, so the ledger's attempt count must not grow.
 * KEYS: job hash.
 */
export const UNCOUNT_START = new QueueScript(
  'conveyorUncountStart',
  `local started = tonumber(redis.call('HGET', KEYS[1], 'ats') or '0')
if started > 0 then redis.call('HINCRBY', KEYS[1], 'ats', -1) end
return 0`,
  1,
);

/**
 * A tenant's cap and running count in one queue; with ARGV[2] = 'set' also sets the cap
 * (ARGV[3]: a number, or '' to fall back to the default). KEYS: caps hash, running set.
 * ARGV: tenant, op, limit. Returns { cap or -1, running }.
 */
export const TENANT_CAP = new QueueScript(
  'conveyorTenantCap',
  `${NOW}
if ARGV[2] == 'set' then
  if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
end
local cap = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1')
return { cap, redis.call('ZCOUNT', KEYS[2], '(' .. now, '+inf') }`,
  2,
);
