//! The shared backend: Redis.
//!
//! Every [`Store::commit`] is one Lua script: it checks every condition, then applies
//! every write, in one round trip that nothing can interleave with, on any gateway
//! instance. Read-modify-write actions (updates) read, compute in Rust, and commit with
//! an `Equals` condition, retrying on conflict, so no WATCH is needed and no
//! connection is ever dedicated to one request: all traffic goes through one shared,
//! self-reconnecting multiplexed connection (`ConnectionManager`), which avoids the
//! extra round trip a pool checkout costs.
//!
//! Layout (one function per key kind, see [`Keys`]); all keys of a profile share one
//! hash tag, so every script touches a single Redis Cluster slot:
//! - `<prefix>:e:<entity>:<id>`: the entity as JSON (TTL through Redis expiry);
//! - `<prefix>:i:<entity>`: sorted-set index of ids, scored by creation order;
//! - `<prefix>:s:<entity>`: the id counter; `<prefix>:order`: the creation counter;
//! - `<prefix>:entities`: the set of entity type names.
//!
//! Expired entities leave their id in the index; reads drop such ids as they meet them.

use super::{
    Cond, Dataset, Found, ListQuery, Page, Snapshot, SnapshotMeta, Store, StoreError, Transaction, Ttl, Write,
};
use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};
use serde_json::Value;
use std::time::Duration;

mod indexes;

/// Key names, built in one place.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
    /// Entity types whose keys a profile's `key_pattern` names (single Redis only):
    /// the text before and after the id.
    patterns: std::sync::Arc<std::collections::HashMap<String, (String, String)>>,
}

impl Keys {
    /// `prefix` should contain a hash tag, e.g. `mockgate:{shop}`.
    pub fn new(prefix: &str) -> Keys {
        Keys { prefix: prefix.to_owned(), patterns: Default::default() }
    }

    fn entity(&self, entity: &str, id: &str) -> String {
        if !self.patterns.is_empty()
            && let Some((before, after)) = self.patterns.get(entity)
        {
            return format!("{before}{id}{after}");
        }
        format!("{}:e:{entity}:{id}", self.prefix)
    }

    /// The text before and after the id in the type's entity keys.
    fn entity_parts(&self, entity: &str) -> (String, String) {
        if !self.patterns.is_empty()
            && let Some((before, after)) = self.patterns.get(entity)
        {
            return (before.clone(), after.clone());
        }
        (format!("{}:e:{entity}:", self.prefix), String::new())
    }

    fn index(&self, entity: &str) -> String {
        format!("{}:i:{entity}", self.prefix)
    }

    fn seq(&self, entity: &str) -> String {
        format!("{}:s:{entity}", self.prefix)
    }

    fn order(&self) -> String {
        format!("{}:order", self.prefix)
    }

    fn entities(&self) -> String {
        format!("{}:entities", self.prefix)
    }

    fn snapshot(&self, name: &str) -> String {
        format!("{}:snap:{name}", self.prefix)
    }

    fn snapshots(&self) -> String {
        format!("{}:snaps", self.prefix)
    }

    /// While the namespace's clock is frozen: key → milliseconds it has left.
    fn frozen(&self) -> String {
        format!("{}:frozen", self.prefix)
    }
}

/// The scripts that walk every entity key of a prefix share this head: ARGV[1] is the
/// prefix, ARGV[2] the script's own argument, and ARGV[3..] (entity type, text before
/// the id, text after it) for each type named by a `key_pattern`; `entity_key` is the
/// layout of [`Keys`] spelled in Lua.
macro_rules! over_entity_keys {
    ($body:literal) => {
        concat!(
            r#"
local prefix, arg = ARGV[1], ARGV[2]
local custom = {}
for a = 3, #ARGV, 3 do custom[ARGV[a]] = {ARGV[a + 1], ARGV[a + 2]} end
local function entity_key(name, id)
  local c = custom[name]
  if c then return c[1] .. id .. c[2] end
  return prefix .. ':e:' .. name .. ':' .. id
end
"#,
            $body
        )
    };
}

/// Deletes every entity, index, counter, the type set and the frozen hash of the
/// prefix. KEYS: the type set, the creation counter.
const WIPE: &str = over_entity_keys!(
    r#"
local names = redis.call('SMEMBERS', KEYS[1])
for _, name in ipairs(names) do
  local idx = prefix .. ':i:' .. name
  local ids = redis.call('ZRANGE', idx, 0, -1)
  for i = 1, #ids, 500 do
    local keys = {}
    for j = i, math.min(i + 499, #ids) do keys[#keys + 1] = entity_key(name, ids[j]) end
    redis.call('DEL', unpack(keys))
  end
  redis.call('DEL', idx, prefix .. ':s:' .. name)
  -- Field indexes: every index key, every entity's entry list (of listed ids and of
  -- ids with a TTL, which may have left the creation index), the type's sets.
  local xk, xt = prefix .. ':xk:' .. name, prefix .. ':xt:' .. name
  local doomed = redis.call('SMEMBERS', xk)
  if #doomed > 0 then
    local lists = prefix .. ':xm:' .. name .. ':'
    for _, id in ipairs(ids) do doomed[#doomed + 1] = lists .. id end
    for _, id in ipairs(redis.call('SMEMBERS', xt)) do doomed[#doomed + 1] = lists .. id end
    for i = 1, #doomed, 500 do
      local keys = {}
      for j = i, math.min(i + 499, #doomed) do keys[#keys + 1] = doomed[j] end
      redis.call('DEL', unpack(keys))
    end
  end
  redis.call('DEL', xk, xt, prefix .. ':xb:' .. name)
end
redis.call('DEL', KEYS[1], KEYS[2], prefix .. ':frozen')
return #names
"#
);

/// Moves the expiry of every entity key by -`arg` ms (a clock moved forward by that
/// much), frozen ones included; keys whose time is up are deleted. KEYS: the type set,
/// the frozen hash.
const SHIFT: &str = over_entity_keys!(
    r#"
local delta = tonumber(arg)
local f = redis.call('HGETALL', KEYS[2])
for i = 1, #f, 2 do
  local left = tonumber(f[i + 1]) - delta
  if left <= 0 then
    redis.call('DEL', f[i])
    redis.call('HDEL', KEYS[2], f[i])
  else
    redis.call('HSET', KEYS[2], f[i], left)
  end
end
for _, name in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  for _, id in ipairs(redis.call('ZRANGE', prefix .. ':i:' .. name, 0, -1)) do
    local k = entity_key(name, id)
    local t = redis.call('PTTL', k)
    if t > 0 then
      if t - delta <= 0 then redis.call('DEL', k) else redis.call('PEXPIRE', k, t - delta) end
    end
  end
end
return 1
"#
);

/// `arg` = `freeze`: every expiring key keeps its time left in the frozen hash and
/// stops expiring; `thaw`: expiries resume from there. KEYS as for [`SHIFT`].
const FREEZE: &str = over_entity_keys!(
    r#"
if arg == 'thaw' then
  local f = redis.call('HGETALL', KEYS[2])
  for i = 1, #f, 2 do
    if redis.call('EXISTS', f[i]) == 1 then redis.call('PEXPIRE', f[i], f[i + 1]) end
  end
  redis.call('DEL', KEYS[2])
  return 1
end
for _, name in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  for _, id in ipairs(redis.call('ZRANGE', prefix .. ':i:' .. name, 0, -1)) do
    local k = entity_key(name, id)
    local t = redis.call('PTTL', k)
    if t > 0 then
      redis.call('HSET', KEYS[2], k, t)
      redis.call('PERSIST', k)
    end
  end
end
return 1
"#
);

/// Checks every condition, then applies every write; returns `{"ok"}` or `{"fail",
/// index, found}`. The Rust side decides what each write needs, so the script does no
/// work a write does not ask for. KEYS: order, entities, the frozen hash, then (entity,
/// index, seq) per write. ARGV: count, `frozen` (`1` while the clock is frozen: entries
/// of the frozen hash may exist), then per write:
/// - op: `put`, `del` or `chk`;
/// - cond (`any`, `absent`, `present`, `equals`) and the expected text for `equals`;
/// - value, ttl mode (`keep`, `persist`, `px`, or `frozen`: keep the time left in the
///   frozen hash instead of letting the key expire) and ttl ms;
/// - id, entity;
/// - index: `new` (a create: the id is not indexed), `maybe` (`ZADD NX`) or `known`
///   (an update of an existing entity: its id is indexed already);
/// - the id as a number when it is numeric and may move the type's counter, else ``;
/// - field indexes (see [`indexes`]): the entity's entry list key, or `` when its type
///   declares none (nothing more follows); else the type's list of index keys, its set
///   of ids that may expire, and `m` followed by `m` entries (kind `e` or `s`, index
///   key, sort member prefix) for the new value.
const COMMIT: &str = r#"
local n, frozen = tonumber(ARGV[1]), ARGV[2] == '1'
local base = {}
local p = 3
for i = 1, n do
  base[i] = p - 1
  if ARGV[p + 10] == '' then p = p + 11 else p = p + 14 + 3 * tonumber(ARGV[p + 13]) end
end
for i = 1, n do
  local k = KEYS[3 + (i - 1) * 3 + 1]
  local a = base[i]
  local cond = ARGV[a + 2]
  if cond == 'absent' then
    if redis.call('EXISTS', k) == 1 then return {'fail', i - 1, 'exists'} end
  elseif cond == 'present' then
    if redis.call('EXISTS', k) == 0 then return {'fail', i - 1, 'missing'} end
  elseif cond == 'equals' then
    local cur = redis.call('GET', k)
    if not cur then return {'fail', i - 1, 'missing'} end
    if cur ~= ARGV[a + 3] then return {'fail', i - 1, 'changed'} end
  end
end
for i = 1, n do
  local b = 3 + (i - 1) * 3
  local k, idx = KEYS[b + 1], KEYS[b + 2]
  local a = base[i]
  local op, mode, id = ARGV[a + 1], ARGV[a + 5], ARGV[a + 7]
  -- The id got a new place in creation order (a create, also over an expired entity
  -- whose entries are still listed): every entry is written again with it.
  local recreated = false
  if op == 'put' then
    local value, ttl = ARGV[a + 4], ARGV[a + 6]
    if mode == 'keep' then
      redis.call('SET', k, value, 'KEEPTTL')
    elseif mode == 'px' then
      redis.call('SET', k, value, 'PX', ttl)
    elseif mode == 'persist' then
      redis.call('SET', k, value)
      if frozen then redis.call('HDEL', KEYS[3], k) end
    else
      redis.call('SET', k, value)
      redis.call('HSET', KEYS[3], k, ttl)
    end
    local index = ARGV[a + 9]
    if index ~= 'known' then
      local added
      if index == 'new' then
        added = redis.call('ZADD', idx, redis.call('INCR', KEYS[1]), id)
      else
        added = redis.call('ZADD', idx, 'NX', redis.call('INCR', KEYS[1]), id)
      end
      recreated = index == 'new' or added == 1
      -- The type set lists every type with an index; only a new index can add one.
      if added == 1 and redis.call('ZCARD', idx) == 1 then redis.call('SADD', KEYS[2], ARGV[a + 8]) end
    end
    local num = ARGV[a + 10]
    if num ~= '' then
      local seq = KEYS[b + 3]
      if tonumber(redis.call('GET', seq) or '0') < tonumber(num) then redis.call('SET', seq, num) end
    end
  elseif op == 'del' then
    redis.call('DEL', k)
    redis.call('ZREM', idx, id)
    if frozen then redis.call('HDEL', KEYS[3], k) end
  end
  local list = ARGV[a + 11]
  if list ~= '' and op ~= 'chk' then
    local xk, xt = ARGV[a + 12], ARGV[a + 13]
    -- The new entries; those already there stay, the others go.
    local new, keys, score = {}, {}, nil
    if op == 'put' then
      score = redis.call('ZSCORE', idx, id)
      local seq = string.format('%016.0f', tonumber(score))
      for j = 0, tonumber(ARGV[a + 14]) - 1 do
        local e = a + 15 + 3 * j
        local member = id
        if ARGV[e] == 's' then member = ARGV[e + 2] .. seq .. id end
        new[#new + 1] = {ARGV[e + 1], member, ARGV[e] == 's'}
        keys[#keys + 1] = ARGV[e + 1]
      end
      if mode == 'px' or mode == 'frozen' then
        redis.call('SADD', xt, id)
      elseif mode == 'persist' then
        redis.call('SREM', xt, id)
      end
    else
      redis.call('SREM', xt, id)
    end
    local old = redis.call('LRANGE', list, 0, -1)
    local had = {}
    if not recreated then
      for j = 1, #old, 2 do had[old[j] .. '\0' .. old[j + 1]] = true end
    end
    local same = not recreated and #old == 2 * #new
    local keep = {}
    for _, e in ipairs(new) do
      local key = e[1] .. '\0' .. e[2]
      keep[key] = true
      if not had[key] then
        same = false
        if e[3] then redis.call('ZADD', e[1], 0, e[2]) else redis.call('ZADD', e[1], score, e[2]) end
      end
    end
    for j = 1, #old, 2 do
      if not keep[old[j] .. '\0' .. old[j + 1]] then redis.call('ZREM', old[j], old[j + 1]) end
    end
    if not same then
      redis.call('DEL', list)
      if #new > 0 then
        local flat = {}
        for _, e in ipairs(new) do flat[#flat + 1] = e[1]; flat[#flat + 1] = e[2] end
        redis.call('RPUSH', list, unpack(flat))
        redis.call('SADD', xk, unpack(keys))
      end
    end
  end
end
return {'ok'}
"#;

/// One page of a type in creation order, in one round trip: `{total, {value...}}`. Ids
/// whose entity has expired are dropped from the index as they are met, and the page
/// read again, so a page is never short while live entities follow. KEYS: the index.
/// ARGV: offset, count (`-1`: all), the text before and after the id in an entity key.
const PAGE: &str = r#"
local idx, start, count, before, after = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local stop = -1
if count >= 0 then stop = start + count - 1 end
while true do
  local values = {}
  if count ~= 0 then
    local ids = redis.call('ZRANGE', idx, start, stop)
    if #ids > 0 then
      local keys = {}
      for i, id in ipairs(ids) do keys[i] = before .. id .. after end
      local got = redis.call('MGET', unpack(keys))
      local gone = {}
      for i = 1, #ids do
        if got[i] then values[#values + 1] = got[i] else gone[#gone + 1] = ids[i] end
      end
      if #gone > 0 then
        redis.call('ZREM', idx, unpack(gone))
        values = nil
      end
    end
  end
  if values then return {redis.call('ZCARD', idx), values} end
end
"#;

/// Drops from an index the ids whose entity key no longer exists (it expired), checked
/// under the script's atomicity so an id created again meanwhile stays. KEYS: the
/// index. ARGV: the text before and after the id in an entity key, then the ids.
const PRUNE: &str = r#"
local gone = {}
for i = 3, #ARGV do
  if redis.call('EXISTS', ARGV[1] .. ARGV[i] .. ARGV[2]) == 0 then gone[#gone + 1] = ARGV[i] end
end
if #gone > 0 then redis.call('ZREM', KEYS[1], unpack(gone)) end
return #gone
"#;

/// One shared connection: a self-reconnecting multiplexed connection to one server, or
/// a cluster connection that routes each command to the node owning its slot (every
/// key here shares one hash tag, so each script and pipeline stays on one node).
#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl redis::aio::ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a redis::Cmd) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// Every script, hashed once: calls send `EVALSHA` and load the script on `NOSCRIPT`
/// (a restarted or failed-over Redis has none), then retry.
struct Scripts {
    commit: Script,
    page: Script,
    eq_page: Script,
    sort_page: Script,
    count: Script,
    prune: Script,
    shift: Script,
    freeze: Script,
}

/// The `redis` backend. Cheap to clone.
#[derive(Clone)]
pub struct RedisStore {
    conn: Conn,
    keys: Keys,
    scripts: std::sync::Arc<Scripts>,
    address: String,
    /// The namespace's clock, when tests may freeze it (writes then keep their time
    /// left instead of expiring).
    clock: Option<std::sync::Arc<super::TestClock>>,
    /// The fields each type declares indexed ([`indexes`]).
    indexes: std::sync::Arc<super::DeclaredIndexes>,
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

impl RedisStore {
    /// Connects to one server, failing within `connect_timeout` when nothing answers.
    pub async fn connect(url: &str, prefix: &str, connect_timeout: Duration) -> Result<RedisStore, StoreError> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(connect_timeout))
            // redis-rs defaults to 500 ms; a large list or reset may take longer.
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let conn = within(connect_timeout, url, client.get_connection_manager_with_config(config)).await?;
        Self::ready(Conn::Single(conn), prefix, redacted(url)).await
    }

    /// Connects to a Redis Cluster through its seed nodes (comma-separated URLs).
    pub async fn connect_cluster(
        urls: &str,
        prefix: &str,
        connect_timeout: Duration,
    ) -> Result<RedisStore, StoreError> {
        let nodes: Vec<&str> = urls.split(',').map(str::trim).filter(|u| !u.is_empty()).collect();
        let client = redis::cluster::ClusterClient::builder(nodes.clone())
            .connection_timeout(connect_timeout)
            .response_timeout(Duration::from_secs(5))
            .retries(2)
            .build()
            .map_err(unavailable)?;
        let conn = within(connect_timeout, urls, client.get_async_connection()).await?;
        let address = nodes.iter().map(|u| redacted(u)).collect::<Vec<_>>().join(",");
        Self::ready(Conn::Cluster(conn), prefix, format!("cluster {address}")).await
    }

    async fn ready(mut conn: Conn, prefix: &str, address: String) -> Result<RedisStore, StoreError> {
        let _: String = redis::cmd("PING").query_async(&mut conn).await.map_err(unavailable)?;
        let scripts = Scripts {
            commit: Script::new(COMMIT),
            page: Script::new(PAGE),
            eq_page: Script::new(&indexes::eq_page_script()),
            sort_page: Script::new(&indexes::sort_page_script()),
            prune: Script::new(PRUNE),
            count: Script::new(&indexes::count_script()),
            shift: Script::new(SHIFT),
            freeze: Script::new(FREEZE),
        };
        Ok(RedisStore {
            conn,
            keys: Keys::new(prefix),
            scripts: std::sync::Arc::new(scripts),
            address,
            clock: None,
            indexes: Default::default(),
        })
    }

    /// The same connection under another key prefix (a namespace's, with a hash tag of
    /// its own); `key_pattern`s are not carried over: a namespace's keys carry its tag.
    pub fn with_prefix(&self, prefix: &str) -> RedisStore {
        RedisStore {
            conn: self.conn.clone(),
            keys: Keys::new(prefix),
            scripts: std::sync::Arc::clone(&self.scripts),
            address: self.address.clone(),
            clock: self.clock.clone(),
            indexes: std::sync::Arc::clone(&self.indexes),
        }
    }

    /// Writes follow this clock's freezes.
    pub fn with_clock(mut self, clock: std::sync::Arc<super::TestClock>) -> RedisStore {
        self.clock = Some(clock);
        self
    }

    /// Runs [`SHIFT`] or [`FREEZE`] over this prefix's keys.
    async fn expiry_script(&self, script: &Script, arg: &str) -> Result<(), StoreError> {
        let mut inv = script.prepare_invoke();
        inv.key(self.keys.entities()).key(self.keys.frozen()).arg(&self.keys.prefix).arg(arg);
        for (name, (before, after)) in self.keys.patterns.iter() {
            inv.arg(name).arg(before).arg(after);
        }
        let _: i64 = inv.invoke_async(&mut self.conn()).await.map_err(unavailable)?;
        Ok(())
    }

    /// An `EVAL` of [`WIPE`] (inside a `MULTI` block, where a `NOSCRIPT` could not be
    /// answered by loading the script): KEYS the type set and the creation counter,
    /// ARGV the prefix and the key patterns.
    fn wipe(&self) -> redis::Cmd {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(WIPE).arg(2).arg(self.keys.entities()).arg(self.keys.order()).arg(&self.keys.prefix).arg("");
        for (name, (before, after)) in self.keys.patterns.iter() {
            cmd.arg(name).arg(before).arg(after);
        }
        cmd
    }

    /// The bounded logs under this store's prefix, on the same connection.
    pub fn logs(&self) -> RedisLogs {
        RedisLogs { conn: self.conn.clone(), prefix: self.keys.prefix.clone() }
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.keys.prefix
    }

    /// Names the keys of these entity types as their profile's `key_pattern` says
    /// (`myapi:users:{user_id}` → `myapi:users:123`). Single Redis only: on a cluster
    /// such keys would leave the profile's hash slot, and atomic operations with them.
    pub fn with_key_patterns(mut self, patterns: &[(String, String)]) -> RedisStore {
        let map = patterns
            .iter()
            .filter_map(|(entity, pattern)| {
                let start = pattern.find('{')?;
                let end = start + pattern[start..].find('}')?;
                Some((entity.clone(), (pattern[..start].to_owned(), pattern[end + 1..].to_owned())))
            })
            .collect();
        self.keys.patterns = std::sync::Arc::new(map);
        self
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self.conn, Conn::Cluster(_))
    }

    /// The address, without any password.
    pub fn address(&self) -> &str {
        &self.address
    }

    fn conn(&self) -> Conn {
        self.conn.clone()
    }

    fn decode(&self, key: &str, text: &str) -> Result<Value, StoreError> {
        serde_json::from_str(text)
            .map_err(|e| StoreError::Corrupt { path: key.into(), reason: format!("not JSON: {e}") })
    }

    /// Live `(id, entity)` pairs of a type in creation order; drops expired ids from
    /// the index on the way.
    async fn rows(&self, entity: &str) -> Result<Vec<(String, Value)>, StoreError> {
        let mut conn = self.conn();
        let ids: Vec<String> = conn.zrange(self.keys.index(entity), 0, -1).await.map_err(unavailable)?;
        self.fetch(entity, ids).await
    }

    /// The entities of these ids, in one round trip (one pipeline of `MGET`s of a
    /// thousand keys each); ids whose entity expired are pruned from the index.
    async fn fetch(&self, entity: &str, ids: Vec<String>) -> Result<Vec<(String, Value)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn();
        let (before, after) = self.keys.entity_parts(entity);
        let mut pipe = redis::pipe();
        for chunk in ids.chunks(1000) {
            let mut mget = redis::cmd("MGET");
            for id in chunk {
                mget.arg(format!("{before}{id}{after}"));
            }
            pipe.add_command(mget);
        }
        let chunks: Vec<Vec<Option<String>>> = pipe.query_async(&mut conn).await.map_err(unavailable)?;
        let mut rows = Vec::with_capacity(ids.len());
        let mut gone = Vec::new();
        for (id, v) in ids.into_iter().zip(chunks.into_iter().flatten()) {
            match v {
                Some(text) => {
                    let value = self.decode(&format!("{before}{id}{after}"), &text)?;
                    rows.push((id, value));
                }
                None => gone.push(id),
            }
        }
        if !gone.is_empty() {
            // Expired entities: keep the index honest.
            let mut inv = self.scripts.prune.prepare_invoke();
            inv.key(self.keys.index(entity)).arg(&before).arg(&after).arg(&gone);
            let _: i64 = inv.invoke_async(&mut conn).await.map_err(unavailable)?;
        }
        Ok(rows)
    }

    /// Whether nothing at all is stored under this prefix (a first start).
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        let n: bool = self.conn().exists(self.keys.entities()).await.map_err(unavailable)?;
        Ok(!n)
    }

    async fn entity_names(&self) -> Result<Vec<String>, StoreError> {
        let mut names: Vec<String> = self.conn().smembers(self.keys.entities()).await.map_err(unavailable)?;
        names.sort();
        Ok(names)
    }
}

/// The [`super::SharedLog`]s of a prefix: one Redis stream per log, `<prefix>:log:<name>`;
/// a name `requests@t1` is namespace `t1`'s, under that namespace's own hash tag (so a
/// cluster spreads them, and a log never depends on the namespace registry).
#[derive(Clone)]
pub struct RedisLogs {
    conn: Conn,
    prefix: String,
}

impl RedisLogs {
    fn key(&self, log: &str) -> String {
        match log.split_once('@') {
            Some((name, ns)) => format!("{}:log:{name}", super::open::namespace_prefix(&self.prefix, ns, None)),
            None => format!("{}:log:{log}", self.prefix),
        }
    }
}

#[async_trait]
impl super::SharedLog for RedisLogs {
    async fn append(&self, records: &[(&str, &str)], cap: usize) -> Result<(), StoreError> {
        // One pipeline per stream: a cluster routes a pipeline by its first key.
        let mut by_log: Vec<(&str, redis::Pipeline)> = Vec::new();
        for (log, record) in records {
            let at = match by_log.iter().position(|(l, _)| l == log) {
                Some(i) => i,
                None => {
                    by_log.push((log, redis::pipe()));
                    by_log.len() - 1
                }
            };
            by_log[at]
                .1
                .cmd("XADD")
                .arg(self.key(log))
                .arg("MAXLEN")
                .arg("~")
                .arg(cap)
                .arg("*")
                .arg("r")
                .arg(*record)
                .ignore();
        }
        let sends = by_log.iter().map(|(_, pipe)| {
            let mut conn = self.conn.clone();
            async move { pipe.query_async::<()>(&mut conn).await }
        });
        for sent in futures_util::future::join_all(sends).await {
            sent.map_err(unavailable)?;
        }
        Ok(())
    }

    async fn newest(&self, log: &str, count: usize) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String, Vec<(String, String)>)> = redis::cmd("XREVRANGE")
            .arg(self.key(log))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(count)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(rows
            .into_iter()
            .filter_map(|(_, fields)| fields.into_iter().find(|(k, _)| k == "r").map(|(_, v)| v))
            .collect())
    }

    async fn len(&self, log: &str) -> Result<usize, StoreError> {
        redis::cmd("XLEN").arg(self.key(log)).query_async(&mut self.conn.clone()).await.map_err(unavailable)
    }

    async fn clear(&self, log: &str) -> Result<(), StoreError> {
        let _: i64 = self.conn.clone().del(self.key(log)).await.map_err(unavailable)?;
        Ok(())
    }
}

/// `redis://:secret@host` → `redis://host`, for messages and logs.
pub fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

fn cond_args(cond: &Cond) -> (&'static str, String) {
    match cond {
        Cond::Any => ("any", String::new()),
        Cond::Absent => ("absent", String::new()),
        Cond::Present => ("present", String::new()),
        // Stored text is always serde_json's output for a value, so equal values have
        // equal text.
        Cond::Equals(v) => ("equals", v.to_string()),
    }
}

#[async_trait]
impl Store for RedisStore {
    fn backend(&self) -> &'static str {
        "redis"
    }

    async fn get(&self, entity: &str, id: &str) -> Result<Option<Value>, StoreError> {
        let key = self.keys.entity(entity, id);
        let text: Option<String> = self.conn().get(&key).await.map_err(unavailable)?;
        text.map(|t| self.decode(&key, &t)).transpose()
    }

    async fn list(&self, entity: &str, query: &ListQuery) -> Result<Page, StoreError> {
        let plain = query.filters.is_empty() && query.search.is_none() && query.sort.is_none();
        if plain {
            // Just the page, in one script.
            let (before, after) = self.keys.entity_parts(entity);
            // Lua numbers are doubles: offsets and counts beyond 2^53 mean "past the end".
            const MAX: usize = 1 << 53;
            let count = query.limit.map_or(-1, |l| l.min(MAX) as i64);
            let mut inv = self.scripts.page.prepare_invoke();
            inv.key(self.keys.index(entity)).arg(query.offset.min(MAX)).arg(count).arg(&before).arg(&after);
            let (total, texts): (usize, Vec<String>) = inv.invoke_async(&mut self.conn()).await.map_err(unavailable)?;
            let items =
                texts.iter().map(|t| self.decode(&format!("{before}…{after}"), t)).collect::<Result<Vec<_>, _>>()?;
            return Ok(Page { items, total });
        }
        if let Some(page) = self.list_indexed(entity, query).await {
            return page;
        }
        let rows = self.rows(entity).await?;
        Ok(query.apply(rows.iter().map(|(_, v)| v)))
    }

    async fn commit(&self, tx: Transaction) -> Result<(), StoreError> {
        tx.check_depth()?;
        let frozen = self.clock.as_ref().is_some_and(|c| c.frozen());
        let mut inv = self.scripts.commit.prepare_invoke();
        inv.key(self.keys.order())
            .key(self.keys.entities())
            .key(self.keys.frozen())
            .arg(tx.writes.len())
            .arg(if frozen { "1" } else { "0" });
        for w in &tx.writes {
            inv.key(self.keys.entity(w.entity(), w.id()))
                .key(self.keys.index(w.entity()))
                .key(self.keys.seq(w.entity()));
            let (cond, expected) = cond_args(w.cond());
            // An entity that must exist is indexed, and its numeric id counted, already.
            let existing = matches!(w.cond(), Cond::Present | Cond::Equals(_));
            let (op, value, mode, ttl) = match w {
                Write::Put { value, ttl, .. } => {
                    let (mode, ms) = match ttl {
                        Ttl::Keep => ("keep", 0),
                        Ttl::Persist => ("persist", 0),
                        Ttl::Seconds(s) if frozen => ("frozen", s.saturating_mul(1000).max(1)),
                        Ttl::Seconds(s) => ("px", s.saturating_mul(1000).max(1)),
                    };
                    ("put", value.to_string(), mode, ms)
                }
                Write::Delete { .. } => ("del", String::new(), "keep", 0),
                Write::Check { .. } => ("chk", String::new(), "keep", 0),
            };
            let index = match w.cond() {
                Cond::Absent => "new",
                Cond::Any => "maybe",
                Cond::Present | Cond::Equals(_) => "known",
            };
            let numeric = match super::numeric_id(w.id()) {
                Some(n) if op == "put" && !existing => n.to_string(),
                _ => String::new(),
            };
            inv.arg(op)
                .arg(cond)
                .arg(expected)
                .arg(value)
                .arg(mode)
                .arg(ttl)
                .arg(w.id())
                .arg(w.entity())
                .arg(index)
                .arg(numeric);
            match self.declared(w.entity()).filter(|_| op != "chk") {
                None => {
                    inv.arg("");
                }
                Some(fields) => {
                    let entries = match w {
                        Write::Put { value, .. } => self.entries_of(w.entity(), fields, value),
                        _ => Vec::new(),
                    };
                    inv.arg(self.keys.entries(w.entity(), w.id()))
                        .arg(self.keys.index_keys(w.entity()))
                        .arg(self.keys.expiring(w.entity()))
                        .arg(entries.len());
                    for e in entries {
                        match e {
                            indexes::Entry::Eq(key) => inv.arg("e").arg(key).arg(""),
                            indexes::Entry::Sort(key, prefix) => inv.arg("s").arg(key).arg(prefix),
                        };
                    }
                }
            }
        }
        // A refused connection never carried the script; any other failure may have
        // come after Redis ran it.
        let reply: Vec<redis::Value> = inv.invoke_async(&mut self.conn()).await.map_err(|e| {
            if e.is_connection_refusal() { unavailable(e) } else { StoreError::Indeterminate(Box::new(e)) }
        })?;
        let text =
            |v: &redis::Value| -> Option<String> { redis::from_redis_value_ref::<Option<String>>(v).ok().flatten() };
        match reply.first().and_then(text).as_deref() {
            Some("ok") => Ok(()),
            Some("fail") => {
                let index = reply.get(1).and_then(|v| redis::from_redis_value_ref::<usize>(v).ok()).unwrap_or(0);
                let found = match reply.get(2).and_then(text).as_deref() {
                    Some("exists") => Found::Exists,
                    Some("missing") => Found::Missing,
                    _ => Found::Changed,
                };
                let w = &tx.writes[index.min(tx.writes.len().saturating_sub(1))];
                Err(StoreError::ConditionFailed { index, entity: w.entity().to_owned(), id: w.id().to_owned(), found })
            }
            _ => Err(StoreError::Unavailable(format!("unexpected reply from the commit script: {reply:?}").into())),
        }
    }

    async fn clock_changed(&self, change: super::ClockChange) -> Result<(), StoreError> {
        match change {
            super::ClockChange::Shift(0) => Ok(()),
            super::ClockChange::Shift(ms) => self.expiry_script(&self.scripts.shift, &ms.to_string()).await,
            super::ClockChange::Freeze => self.expiry_script(&self.scripts.freeze, "freeze").await,
            super::ClockChange::Thaw => self.expiry_script(&self.scripts.freeze, "thaw").await,
        }
    }

    async fn next_id(&self, entity: &str) -> Result<u64, StoreError> {
        self.conn().incr(self.keys.seq(entity), 1).await.map_err(unavailable)
    }

    async fn counts(&self) -> Result<Vec<(String, usize)>, StoreError> {
        let mut out = Vec::new();
        for name in self.entity_names().await? {
            let n = self.count(&name).await?;
            out.push((name, n));
        }
        Ok(out)
    }

    async fn dump(&self) -> Result<Dataset, StoreError> {
        let mut out = Dataset::new();
        for name in self.entity_names().await? {
            out.insert(name.clone(), self.rows(&name).await?.into_iter().collect());
        }
        Ok(out)
    }

    async fn replace_all(&self, data: Dataset) -> Result<(), StoreError> {
        super::check_dataset_depth(&data)?;
        // One MULTI block: the wipe script finds and deletes every key of the data as
        // it is at that moment, then the new data is written; no command of another
        // client can run in between, so nothing written meanwhile survives outside
        // the index or keeps a stale unique claim.
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.add_command(self.wipe()).ignore();
        let mut batch = indexes::Batch::default();
        let mut order = 0u64;
        for (name, rows) in &data {
            pipe.sadd(self.keys.entities(), name).ignore();
            let mut max_id = 0u64;
            let declared = self.declared(name);
            let index = self.keys.index(name);
            for (id, value) in rows {
                order += 1;
                batch.value(self.keys.entity(name, id), value.to_string());
                batch.member(&index, order, id.clone());
                max_id = max_id.max(super::numeric_id(id).unwrap_or(0));
                if let Some(fields) = declared {
                    batch.entries(self, name, id, order, self.entries_of(name, fields, value));
                }
            }
            if max_id > 0 {
                pipe.set(self.keys.seq(name), max_id).ignore();
            }
        }
        batch.into_pipe(&mut pipe);
        for (name, fields) in self.indexes.iter().filter(|(_, f)| !f.is_empty()) {
            pipe.sadd(self.keys.built(name), fields.iter().collect::<Vec<_>>()).ignore();
        }
        pipe.set(self.keys.order(), order).ignore();
        pipe.query_async::<()>(&mut self.conn()).await.map_err(unavailable)
    }

    async fn flush(&self) -> Result<(), StoreError> {
        // Durability is Redis's own (RDB/AOF); acknowledged writes are already there.
        Ok(())
    }

    async fn info(&self) -> Result<Value, StoreError> {
        let mut conn = self.conn();
        let started = std::time::Instant::now();
        let _: String = redis::cmd("PING").query_async(&mut conn).await.map_err(unavailable)?;
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let info: String =
            redis::cmd("INFO").arg("server").arg("memory").query_async(&mut conn).await.map_err(unavailable)?;
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
                .map(|v| v.trim().to_owned())
        };
        Ok(serde_json::json!({
            "connected": true,
            "address": self.address,
            "version": field("redis_version"),
            "used_memory": field("used_memory_human"),
            "ping_ms": (latency_ms * 1000.0).round() / 1000.0,
        }))
    }

    async fn put_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        let text = serde_json::to_string(snapshot).expect("JSON values always serialise");
        redis::pipe()
            .atomic()
            .set(self.keys.snapshot(&snapshot.meta.name), text)
            .ignore()
            .sadd(self.keys.snapshots(), &snapshot.meta.name)
            .ignore()
            .query_async::<()>(&mut self.conn())
            .await
            .map_err(unavailable)
    }

    async fn get_snapshot(&self, name: &str) -> Result<Option<Snapshot>, StoreError> {
        let key = self.keys.snapshot(name);
        let text: Option<String> = self.conn().get(&key).await.map_err(unavailable)?;
        text.map(|t| {
            serde_json::from_str(&t)
                .map_err(|e| StoreError::Corrupt { path: key.clone().into(), reason: format!("not a snapshot: {e}") })
        })
        .transpose()
    }

    async fn snapshots(&self) -> Result<Vec<SnapshotMeta>, StoreError> {
        let names: Vec<String> = self.conn().smembers(self.keys.snapshots()).await.map_err(unavailable)?;
        super::snapshot_listing(self, names).await
    }

    async fn delete_snapshot(&self, name: &str) -> Result<bool, StoreError> {
        let (deleted, _): (u64, u64) = redis::pipe()
            .atomic()
            .del(self.keys.snapshot(name))
            .srem(self.keys.snapshots(), name)
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(deleted > 0)
    }
}

/// Awaits a connection attempt for at most twice the connect timeout.
async fn within<T>(
    timeout: Duration,
    url: &str,
    attempt: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(timeout * 2, attempt)
        .await
        .map_err(|_| StoreError::Unavailable(format!("no answer from {} within {timeout:?}", redacted(url)).into()))?
        .map_err(unavailable)
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(redacted("redis://:s3cret@db:6379/2"), "redis://db:6379/2");
        assert_eq!(redacted("redis://user:pw@db"), "redis://db");
        assert_eq!(redacted("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }
}
