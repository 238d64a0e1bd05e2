/**
 * The Redis store's Lua scripts: each step that must see and change several keys at once runs
 * in one (a request's record, the waiting set, the token stream and its consumer group, the
 * request's event stream). Every script takes the app's key prefix as ARGV[1]; KEYS[1] is the
 * waiting set, so a Redis Cluster routes each call to the app's slot (every key of an app shares
 * the `{appId}` hash tag). Keys are described in docs/queue.md.
 */
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

/** A script run by its SHA1, sent whole once when Redis does not know it (NOSCRIPT: restarted). */
export class RedisScript {
  readonly sha: string;

  constructor(readonly source: string) {
    this.sha = createHash("sha1").update(source).digest("hex");
  }

  async run(redis: Redis, key: string, args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, 1, key, ...args);
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith("NOSCRIPT"))) throw error;
      return await redis.eval(this.source, 1, key, ...args);
    }
  }
}

/** Shared by every script: key names, appending an event, finishing a request, starting one. */
const PRELUDE = `
local P = ARGV[1]
local TOKENS = P .. 'tokens'
local WAITING = P .. 'waiting'
local ASSIGNED = P .. 'assigned'
local GROUP = 'runners'
local function rkey(id) return P .. 'r:' .. id end
local function ekey(id) return P .. 'e:' .. id end
local function kkey(id) return P .. 'k:' .. id end
local function lkey(id) return P .. 'l:' .. id end

-- Events are stream entries 0-<number>: one event (fields t, d, f, k), or with kind '*' a pack of
-- several (fields n, p: \`fatal\` holds their count, \`data\` the packed events; its id is the last
-- one's number). A latest-wins key first drops the previous event of its key. Returns how many
-- events this adds to the request's kept ones.
local function put(id, seq, kind, data, fatal, key)
  local e = ekey(id)
  if kind == '*' then
    redis.call('XADD', e, '0-' .. seq, 'n', fatal, 'p', data)
    return tonumber(fatal)
  end
  local added = 1
  local fields = {'t', kind, 'd', data}
  if fatal ~= '' then fields[#fields + 1] = 'f'; fields[#fields + 1] = fatal end
  if key ~= '' then
    fields[#fields + 1] = 'k'; fields[#fields + 1] = key
    local previous = redis.call('HGET', kkey(id), key)
    if previous then added = added - redis.call('XDEL', e, '0-' .. previous) end
    redis.call('HSET', kkey(id), key, seq)
  end
  redis.call('XADD', e, '0-' .. seq, unpack(fields))
  return added
end

-- Counts \`added\` events in the record's \`kept\` and drops the oldest entries while more than max
-- are kept (a pack goes whole: the holder packs at most max / 8, so the newest are never dropped).
local function keep(id, max, added)
  local kept = redis.call('HINCRBY', rkey(id), 'kept', added)
  max = tonumber(max)
  if kept <= max then return end
  local e = ekey(id)
  while kept > max do
    local oldest = redis.call('XRANGE', e, '-', '+', 'COUNT', 1)[1]
    if not oldest then kept = 0; break end
    local n = 1
    if oldest[2][1] == 'n' then n = tonumber(oldest[2][2]) end
    redis.call('XDEL', e, oldest[1])
    kept = kept - n
  end
  redis.call('HSET', rkey(id), 'kept', kept)
end

local function add_event(id, seq, max, kind, data, fatal, key)
  keep(id, max, put(id, seq, kind, data, fatal, key))
end

local function next_seq(id) return redis.call('HINCRBY', rkey(id), 'seq', 1) end

local function drop_token(token)
  redis.call('XACK', TOKENS, GROUP, token)
  redis.call('XDEL', TOKENS, token)
  redis.call('HDEL', ASSIGNED, token)
end

-- Records the outcome; every key of the request expires \`retention\` ms from now.
local function finish(id, token, outcome, now, retention)
  redis.call('HSET', rkey(id), 'phase', 'COMPLETED', 'outcome', outcome, 'completedAt', now)
  if token then drop_token(token) end
  for _, key in ipairs({rkey(id), ekey(id), kkey(id), lkey(id)}) do
    redis.call('PEXPIRE', key, retention)
  end
end

-- A queued request leaves the waiting set and completes with the error \`err\` (JSON).
local function fail_queued(id, now, retention, max, err)
  redis.call('ZREM', WAITING, id)
  redis.call('PUBLISH', P .. 'moved', id)
  add_event(id, next_seq(id), max, 'error', '{"error":' .. err .. ',"fatal":true}', '1', '')
  finish(id, nil, '{"ok":false,"error":' .. err .. '}', now, retention)
end

local function public_error(name, code, message, id)
  return '{"name":"' .. name .. '","code":"' .. code .. '","message":' .. cjson.encode(message)
    .. ',"requestId":' .. cjson.encode(id) .. '}'
end

-- The holder of a request now runs it under lease token/attempt (one value per attempt).
local function start(id, token, consumer, now)
  local r = rkey(id)
  local attempt = redis.call('HINCRBY', r, 'attempt', 1)
  local lease = token .. '/' .. attempt
  redis.call('HSET', r, 'phase', 'IN_PROGRESS', 'lease', lease, 'startedAt', now, 'consumer', consumer)
  redis.call('HSET', ASSIGNED, token, id)
  local f = redis.call('HMGET', r, 'entry', 'seq', 'logs', 'cancel')
  return {'lease', id, f[1], attempt, lease, tonumber(f[2]), tonumber(f[3]), f[4] or '0',
    redis.call('ZCARD', WAITING)}
end

-- A delivered token takes the best waiting request; with none left (cancelled), it is dropped.
local function assign(token, consumer, now)
  local best = redis.call('ZPOPMIN', WAITING)
  if #best == 0 then
    drop_token(token)
    return {'none'}
  end
  -- Every request behind it moved up one.
  redis.call('PUBLISH', P .. 'moved', best[1])
  return start(best[1], token, consumer, now)
end

local function held(id, lease)
  local f = redis.call('HMGET', rkey(id), 'phase', 'lease')
  return f[1] == 'IN_PROGRESS' and f[2] == lease
end
`;

function script(body: string): RedisScript {
  return new RedisScript(`${PRELUDE}\n${body}`);
}

/** ARGV: prefix, id, entry JSON, low ('1' | '0'). → [position, queued], position -1 if the id exists. */
export const SUBMIT = script(`
local id = ARGV[2]
local r = rkey(id)
if redis.call('EXISTS', r) == 1 then return {-1, 0} end
local n = redis.call('INCR', P .. 'seq')
-- normal requests score 1, 2, ...; low ones 2^50 + n: all of them after every normal one.
local score = n
if ARGV[4] == '1' then score = n + 1125899906842624 end
score = string.format('%.0f', score)
redis.call('HSET', r, 'entry', ARGV[3], 'phase', 'IN_QUEUE', 'attempt', 0, 'seq', 0, 'logs', 0,
  'score', score)
redis.call('ZADD', WAITING, score, id)
redis.call('XADD', TOKENS, '*', 'r', id)
-- A normal request goes ahead of every low one: their positions moved.
if ARGV[4] ~= '1' then redis.call('PUBLISH', P .. 'moved', id) end
return {redis.call('ZRANK', WAITING, id), redis.call('ZCARD', WAITING)}
`);

/** ARGV: prefix, id. → [entry, phase, attempt, startedAt, completedAt, outcome, position, queued] or nil. */
export const RECORD = script(`
local id = ARGV[2]
local f = redis.call('HMGET', rkey(id), 'entry', 'phase', 'attempt', 'startedAt', 'completedAt', 'outcome')
if not f[1] then return false end
local position = -1
if f[2] == 'IN_QUEUE' then position = redis.call('ZRANK', WAITING, id) or -1 end
return {f[1], f[2], tonumber(f[3]), f[4] or '', f[5] or '', f[6] or '', position, redis.call('ZCARD', WAITING)}
`);

/** ARGV: prefix, token, consumer, now. → a lease (see start) or {'none'}. */
export const ASSIGN = script(`return assign(ARGV[2], ARGV[3], ARGV[4])`);

/**
 * ARGV: prefix, consumer, leaseTime, maxAttempts, now, retention, maxEvents. Claims one token
 * idle for a lease time (its replica stopped renewing) and takes its request over: runs it again
 * after a retry event, or completes it with ATTEMPTS_EXHAUSTED. A token delivered and never
 * assigned (its replica died in between) takes the best waiting request. → a lease, {'exhausted',
 * id}, {'skip'}, or {'wait', ms, queued}: when the next pending token could expire (-1: none
 * pending), and the number waiting.
 */
export const TAKEOVER = script(`
local consumer, lease_time, max_attempts = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local now, retention, max = ARGV[5], ARGV[6], ARGV[7]
local cursor, token = '0-0', nil
repeat
  local claimed = redis.call('XAUTOCLAIM', TOKENS, GROUP, consumer, lease_time, cursor, 'COUNT', 1, 'JUSTID')
  cursor, token = claimed[1], claimed[2][1]
until token or cursor == '0-0'
if not token then
  local idle = -1
  for _, p in ipairs(redis.call('XPENDING', TOKENS, GROUP, '-', '+', 1000)) do
    if p[3] > idle then idle = p[3] end
  end
  local queued = redis.call('ZCARD', WAITING)
  if idle < 0 then return {'wait', -1, queued} end
  return {'wait', math.max(lease_time - idle, 1), queued}
end
local id = redis.call('HGET', ASSIGNED, token)
if not id then return assign(token, consumer, now) end
local r = rkey(id)
local f = redis.call('HMGET', r, 'phase', 'lease', 'attempt', 'handed')
if f[1] ~= 'IN_PROGRESS' or not f[2] or string.sub(f[2], 1, #token + 1) ~= token .. '/' then
  drop_token(token)
  return {'skip'}
end
-- Runs handed back by a stopping replica are not counted: only those lost with their replica.
local attempt = tonumber(f[3])
local counted = attempt - tonumber(f[4] or 0)
if counted >= max_attempts then
  local err = public_error('AttemptsExhaustedError', 'ATTEMPTS_EXHAUSTED', 'Request ' .. id
    .. ' was lost with its replica on each of its ' .. max_attempts .. ' attempts', id)
  add_event(id, next_seq(id), max, 'error', '{"error":' .. err .. ',"fatal":true}', '1', '')
  redis.call('HDEL', r, 'lease')
  finish(id, token, '{"ok":false,"error":' .. err .. '}', now, retention)
  return {'exhausted', id}
end
local err = public_error('LeaseLostError', 'LEASE_LOST', 'Request ' .. id
  .. ' was lost with its replica (attempt ' .. counted .. ' of ' .. max_attempts .. '); it runs again', id)
add_event(id, next_seq(id), max, 'retry', '{"attempt":' .. (attempt + 1) .. ',"error":' .. err .. '}', '', '')
return start(id, token, consumer, now)
`);

/**
 * ARGV: prefix, id, lease, maxEvents, the retry event's data. A stopping replica gives back a
 * request it holds: it waits again at the score it was submitted with, under a new token (a
 * free replica's blocked read gets it at once), after a retry event; the run is counted as
 * handed back. A request cancelled meanwhile is not (its holder completes it). → 'handed' |
 * 'cancel' | 'lost' (not held).
 */
export const HANDBACK = script(`
local id, lease, max = ARGV[2], ARGV[3], ARGV[4]
if not held(id, lease) then return 'lost' end
local r = rkey(id)
if redis.call('HGET', r, 'cancel') == '1' then return 'cancel' end
drop_token(string.match(lease, '^(.*)/'))
add_event(id, next_seq(id), max, 'retry', ARGV[5], '', '')
redis.call('HINCRBY', r, 'handed', 1)
redis.call('HSET', r, 'phase', 'IN_QUEUE')
redis.call('HDEL', r, 'lease', 'startedAt', 'consumer')
redis.call('ZADD', WAITING, redis.call('HGET', r, 'score'), id)
redis.call('XADD', TOKENS, '*', 'r', id)
-- Everything behind it moved back one.
redis.call('PUBLISH', P .. 'moved', id)
return 'handed'
`);

/**
 * ARGV: prefix, consumer, then (id, lease, token) per held request: renews each lease still held
 * by re-claiming its token (its idle time starts again). → 'ok' | 'cancel' | 'lost' per request,
 * then the number waiting.
 */
export const RENEW = script(`
local out = {}
for i = 3, #ARGV, 3 do
  local f = redis.call('HMGET', rkey(ARGV[i]), 'phase', 'lease', 'cancel')
  if f[1] ~= 'IN_PROGRESS' or f[2] ~= ARGV[i + 1] then
    out[#out + 1] = 'lost'
  else
    redis.call('XCLAIM', TOKENS, GROUP, ARGV[2], 0, ARGV[i + 2], 'JUSTID')
    if f[3] == '1' then out[#out + 1] = 'cancel' else out[#out + 1] = 'ok' end
  end
end
out[#out + 1] = redis.call('ZCARD', WAITING)
return out
`);

/**
 * ARGV: prefix, id, lease, maxEvents, then (seq, type, data, fatal, key) per entry: one event, or
 * a pack (type '*', seq its last event's number, data the packed events, fatal their count).
 * Entries the record already has (a batch sent again after a reconnect: the same entries) are
 * skipped. → 1, or 0: not held.
 */
export const APPEND = script(`
local id, max = ARGV[2], ARGV[4]
if not held(id, ARGV[3]) then return 0 end
local last = tonumber(redis.call('HGET', rkey(id), 'seq'))
local added = 0
for i = 5, #ARGV, 5 do
  local seq = tonumber(ARGV[i])
  if seq > last then
    added = added + put(id, seq, ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4])
    last = seq
  end
end
redis.call('HSET', rkey(id), 'seq', last)
keep(id, max, added)
return 1
`);

/** ARGV: prefix, id, lease, max, then (n, entry JSON) per line; lines already kept are skipped. → 1 | 0. */
export const LOG = script(`
local id = ARGV[2]
if not held(id, ARGV[3]) then return 0 end
local last = tonumber(redis.call('HGET', rkey(id), 'logs'))
for i = 5, #ARGV, 2 do
  local n = tonumber(ARGV[i])
  if n > last then
    redis.call('RPUSH', lkey(id), ARGV[i + 1])
    last = n
  end
end
redis.call('LTRIM', lkey(id), -tonumber(ARGV[4]), -1)
redis.call('HSET', rkey(id), 'logs', last)
return 1
`);

/**
 * ARGV: prefix, id, lease, outcome JSON, now, retention, maxEvents, then the last event (seq,
 * type, data, fatal, key) when the holder appended none. A resend of a completion that was
 * recorded answers 1 again. → 1 | 0 (not held).
 */
export const COMPLETE = script(`
local id, lease = ARGV[2], ARGV[3]
local f = redis.call('HMGET', rkey(id), 'phase', 'lease', 'seq')
if f[2] ~= lease then return 0 end
if f[1] == 'COMPLETED' then return 1 end
if f[1] ~= 'IN_PROGRESS' then return 0 end
if #ARGV >= 12 and tonumber(ARGV[8]) > tonumber(f[3]) then
  add_event(id, ARGV[8], ARGV[7], ARGV[9], ARGV[10], ARGV[11], ARGV[12])
  redis.call('HSET', rkey(id), 'seq', ARGV[8])
end
finish(id, string.match(lease, '^(.*)/'), ARGV[4], ARGV[5], ARGV[6])
return 1
`);

/**
 * ARGV: prefix, id, now, retention, maxEvents, the cancelled error's JSON. A queued request
 * completes at once; a running one is flagged and its holder told on the app's cancel channel.
 * → the result (a CancelResult) and, for a cancel, the number waiting.
 */
export const CANCEL = script(`
local id = ARGV[2]
local phase = redis.call('HGET', rkey(id), 'phase')
if not phase then return 'NOT_FOUND' end
if phase == 'COMPLETED' then return 'ALREADY_COMPLETED' end
local completed = 0
if phase == 'IN_QUEUE' then
  fail_queued(id, ARGV[3], ARGV[4], ARGV[5], ARGV[6])
  completed = 1
else
  redis.call('HSET', rkey(id), 'cancel', '1')
  redis.call('PUBLISH', P .. 'cancel', id)
end
return {'CANCELLATION_REQUESTED', redis.call('ZCARD', WAITING), completed}
`);

/**
 * ARGV: prefix, id, now, retention, maxEvents, the timeout error's JSON. A request still queued
 * when its x-fal-request-timeout runs out completes with that error where it waits. → the number
 * waiting, or -1: it is not queued (it started, or completed).
 */
export const EXPIRE = script(`
local id = ARGV[2]
if redis.call('HGET', rkey(id), 'phase') ~= 'IN_QUEUE' then return -1 end
fail_queued(id, ARGV[3], ARGV[4], ARGV[5], ARGV[6])
return redis.call('ZCARD', WAITING)
`);
