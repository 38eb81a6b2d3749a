//! Field indexes on Redis, for the fields a profile declares (`"indexes"`).
//!
//! Per declared field of a type, under the store's prefix (so per namespace):
//! - `x:<entity>:<len>:<field>:<key>`: a sorted set of the ids whose field holds
//!   that equality key ([`index::keys`], as on the embedded store), scored by creation
//!   order like the type's creation index, so a filtered page is a `ZRANGE` and its
//!   count a `ZCARD`;
//! - `xo:<entity>:<len>:<field>`: a sorted set with every score 0, so ordered by
//!   member: [`index::sort_member_prefix`] of the field's sort key, the creation
//!   sequence in 16 digits, the id. A sorted page walks it and stops at the page's end.
//!
//! Per entity, `xm:<entity>:<id>` lists its entries (index key, member), so the commit
//! script replaces exactly those an update changes and a delete removes them all; per
//! type, `xk:<entity>` lists every index key (for a reset), `xt:<entity>` the ids
//! written with a TTL and `xb:<entity>` the fields whose index is complete. An expired
//! entity leaves its entries behind until the next indexed list, whose script first
//! removes the entries of every id in `xt` whose key is gone: counts are exact.
//!
//! A store that starts with data its indexes do not cover (declared after the data was
//! written) builds them once, at start.

use super::{Keys, RedisStore, unavailable};
use crate::store::index::{self, DeclaredIndexes};
use crate::store::{ListQuery, Page, SortKey, StoreError};
use redis::AsyncCommands;
use serde_json::Value;

impl Keys {
    fn field_part(entity: &str, field: &str) -> String {
        format!("{entity}:{}:{field}", field.len())
    }

    pub(super) fn eq_index(&self, entity: &str, field: &str, key: &str) -> String {
        format!("{}:x:{}:{key}", self.prefix, Self::field_part(entity, field))
    }

    pub(super) fn sort_index(&self, entity: &str, field: &str) -> String {
        format!("{}:xo:{}", self.prefix, Self::field_part(entity, field))
    }

    pub(super) fn entries(&self, entity: &str, id: &str) -> String {
        format!("{}:xm:{entity}:{id}", self.prefix)
    }

    pub(super) fn index_keys(&self, entity: &str) -> String {
        format!("{}:xk:{entity}", self.prefix)
    }

    pub(super) fn expiring(&self, entity: &str) -> String {
        format!("{}:xt:{entity}", self.prefix)
    }

    pub(super) fn built(&self, entity: &str) -> String {
        format!("{}:xb:{entity}", self.prefix)
    }
}

/// One entry of an entity in a field index.
pub(super) enum Entry {
    /// In the equality index at this key (member: the id).
    Eq(String),
    /// In the sort index at this key, its member starting with this prefix.
    Sort(String, String),
}

/// The head of the list and count scripts. KEYS: the creation index, the TTL set.
/// ARGV: the text before and after the id in an entity key, the entry lists' key
/// prefix. `prune_expired` removes the entries of every id in the TTL set whose
/// entity is gone, so what follows counts only live entities; `values_of` reads the
/// values of ids.
const HEAD: &str = r#"
local idx, xt = KEYS[1], KEYS[2]
local before, after, lists = ARGV[1], ARGV[2], ARGV[3]
local function prune_expired()
  for _, id in ipairs(redis.call('SMEMBERS', xt)) do
    if redis.call('EXISTS', before .. id .. after) == 0 then
      local list = lists .. id
      local old = redis.call('LRANGE', list, 0, -1)
      for j = 1, #old, 2 do redis.call('ZREM', old[j], old[j + 1]) end
      redis.call('DEL', list)
      redis.call('ZREM', idx, id)
      redis.call('SREM', xt, id)
    end
  end
end
local function values_of(ids)
  local values = {}
  for i = 1, #ids, 1000 do
    local keys = {}
    for j = i, math.min(i + 999, #ids) do keys[#keys + 1] = before .. ids[j] .. after end
    local got = redis.call('MGET', unpack(keys))
    for j = 1, #got do values[#values + 1] = got[j] end
  end
  return values
end
"#;

/// A page through an equality index: `{total, {value...}}` in creation order. KEYS
/// and ARGV as for [`HEAD`], then ARGV: offset, count (`-1`: all), the equality keys a
/// filter's text is found under (usually one exists; several are merged by creation
/// order).
pub(super) fn eq_page_script() -> String {
    format!(
        "{HEAD}{}",
        r#"
local start, count = tonumber(ARGV[4]), tonumber(ARGV[5])
prune_expired()
local present = {}
for i = 6, #ARGV do
  if redis.call('EXISTS', ARGV[i]) == 1 then present[#present + 1] = ARGV[i] end
end
local stop = -1
if count >= 0 then stop = start + count - 1 end
if #present == 0 then return {0, {}} end
if #present == 1 then
  local total = redis.call('ZCARD', present[1])
  if count == 0 then return {total, {}} end
  return {total, values_of(redis.call('ZRANGE', present[1], start, stop))}
end
-- Several keys (a field holding 25 in some entities and "25" in others): merged.
local seen, all = {}, {}
for _, key in ipairs(present) do
  local got = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
  for j = 1, #got, 2 do
    if not seen[got[j]] then
      seen[got[j]] = true
      all[#all + 1] = {tonumber(got[j + 1]), got[j]}
    end
  end
end
table.sort(all, function(x, y) return x[1] < y[1] end)
local ids = {}
local last = #all
if stop >= 0 then last = math.min(last, stop + 1) end
for j = start + 1, last do ids[#ids + 1] = all[j][2] end
return {#all, values_of(ids)}
"#
    )
}

/// A page through a sort index, with no filter: `{total, {value...}}`. KEYS and ARGV
/// as for [`HEAD`], then KEYS: the sort index; ARGV: offset, count (`-1`: all), `1`
/// for descending. Descending walks the keys from the greatest and each key's entries
/// forwards, so equal keys keep creation order either way.
pub(super) fn sort_page_script() -> String {
    format!(
        "{HEAD}{}",
        r#"
local sx = KEYS[3]
local start, count, desc = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6] == '1'
prune_expired()
local total = redis.call('ZCARD', idx)
local function id_of(m)
  local z = string.find(m, '\0', 1, true)
  return string.sub(m, z + 17)
end
local members = {}
if count ~= 0 then
  if not desc then
    local stop = -1
    if count >= 0 then stop = start + count - 1 end
    members = redis.call('ZRANGE', sx, start, stop)
  else
    local skip, need = start, count
    local top = redis.call('ZRANGE', sx, -1, -1)[1]
    while top and need ~= 0 do
      local z = string.find(top, '\0', 1, true)
      local key = string.sub(top, 1, z)
      local lo, hi = '[' .. key, '(' .. key .. '\255'
      local run = redis.call('ZLEXCOUNT', sx, lo, hi)
      if skip >= run then
        skip = skip - run
      else
        local got = redis.call('ZRANGEBYLEX', sx, lo, hi, 'LIMIT', skip, need)
        for _, m in ipairs(got) do members[#members + 1] = m end
        skip = 0
        if need > 0 then need = need - #got end
      end
      top = redis.call('ZREVRANGEBYLEX', sx, '(' .. key, '-', 'LIMIT', 0, 1)[1]
    end
  end
end
local ids = {}
for i, m in ipairs(members) do ids[i] = id_of(m) end
return {total, values_of(ids)}
"#
    )
}

/// How many live entities a type has, without reading them: `ZCARD` of the creation
/// index once expired ids are gone. KEYS and ARGV as for [`HEAD`], then ARGV: `1` when
/// the type declares indexes (its TTL set lists every id that may have expired), else
/// every id is checked.
pub(super) fn count_script() -> String {
    format!(
        "{HEAD}{}",
        r#"
if ARGV[4] == '1' then
  prune_expired()
else
  local ids = redis.call('ZRANGE', idx, 0, -1)
  local gone = {}
  for _, id in ipairs(ids) do
    if redis.call('EXISTS', before .. id .. after) == 0 then gone[#gone + 1] = id end
  end
  for i = 1, #gone, 1000 do redis.call('ZREM', idx, unpack(gone, i, math.min(i + 999, #gone))) end
end
return redis.call('ZCARD', idx)
"#
    )
}

impl RedisStore {
    /// The number of live entities of `entity` ([`count_script`]).
    pub(super) async fn count(&self, entity: &str) -> Result<usize, StoreError> {
        let (before, after) = self.keys.entity_parts(entity);
        let mut inv = self.scripts.count.prepare_invoke();
        inv.key(self.keys.index(entity))
            .key(self.keys.expiring(entity))
            .arg(before)
            .arg(after)
            .arg(self.keys.entries(entity, ""))
            .arg(if self.declared(entity).is_some() { "1" } else { "0" });
        inv.invoke_async(&mut self.conn()).await.map_err(unavailable)
    }

    /// Declares these fields indexed (carried to every namespace's store).
    pub fn with_indexes(mut self, declared: DeclaredIndexes) -> RedisStore {
        self.indexes = std::sync::Arc::new(declared);
        self
    }

    pub(super) fn declared(&self, entity: &str) -> Option<&std::collections::BTreeSet<String>> {
        self.indexes.get(entity).filter(|f| !f.is_empty())
    }

    /// The index entries of `value`, an entity of a type declaring `fields`.
    pub(super) fn entries_of(
        &self,
        entity: &str,
        fields: &std::collections::BTreeSet<String>,
        value: &Value,
    ) -> Vec<Entry> {
        let mut out = Vec::new();
        for field in fields {
            let v = crate::json::field_at(value, field);
            let mut keys = index::keys(v);
            keys.sort_unstable();
            keys.dedup();
            out.extend(keys.into_iter().map(|k| Entry::Eq(self.keys.eq_index(entity, field, &k))));
            let prefix = index::sort_member_prefix(&SortKey::of(v));
            out.push(Entry::Sort(self.keys.sort_index(entity, field), prefix));
        }
        out
    }

    /// A page through the type's declared indexes, where they answer the query: a
    /// sort with no filter and no search walks the sort index; a filter on a declared
    /// field reads its equality index (the page itself when it is the only condition,
    /// else the candidates, which the query then checks, sorts and pages). `None`
    /// where no declared index helps.
    pub(super) async fn list_indexed(&self, entity: &str, query: &ListQuery) -> Option<Result<Page, StoreError>> {
        let fields = self.declared(entity)?;
        const MAX: usize = 1 << 53;
        let (before, after) = self.keys.entity_parts(entity);
        let lists = self.keys.entries(entity, "");
        let common = |inv: &mut redis::ScriptInvocation<'_>, offset: usize, count: i64| {
            inv.key(self.keys.index(entity))
                .key(self.keys.expiring(entity))
                .arg(&before)
                .arg(&after)
                .arg(&lists)
                .arg(offset.min(MAX))
                .arg(count);
        };
        let count = query.limit.map_or(-1, |l| l.min(MAX) as i64);
        if query.filters.is_empty()
            && query.search.is_none()
            && let Some(sort) = query.sort.as_ref().filter(|s| fields.contains(&s.field))
        {
            let mut inv = self.scripts.sort_page.prepare_invoke();
            common(&mut inv, query.offset, count);
            inv.key(self.keys.sort_index(entity, &sort.field)).arg(if sort.descending { "1" } else { "0" });
            return Some(self.page_reply(entity, inv, None).await);
        }
        let (field, want) = query.filters.iter().find(|(f, _)| fields.contains(f))?;
        let alone = query.filters.len() == 1 && query.search.is_none() && query.sort.is_none();
        let mut inv = self.scripts.eq_page.prepare_invoke();
        if alone {
            common(&mut inv, query.offset, count);
        } else {
            common(&mut inv, 0, -1);
        }
        for key in index::wanted(want) {
            inv.arg(self.keys.eq_index(entity, field, &key));
        }
        Some(self.page_reply(entity, inv, (!alone).then_some(query)).await)
    }

    /// Runs a page script; with `then`, its values are candidates that query pages.
    async fn page_reply(
        &self,
        entity: &str,
        inv: redis::ScriptInvocation<'_>,
        then: Option<&ListQuery>,
    ) -> Result<Page, StoreError> {
        let (total, texts): (usize, Vec<Option<String>>) =
            inv.invoke_async(&mut self.conn()).await.map_err(unavailable)?;
        let (before, after) = self.keys.entity_parts(entity);
        let items = texts
            .iter()
            .flatten()
            .map(|t| self.decode(&format!("{before}…{after}"), t))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(match then {
            Some(query) => query.apply(items.iter()),
            None => Page { items, total },
        })
    }

    /// Builds the declared indexes that the stored data lacks (a field declared after
    /// its entities were written): reads each such type once and writes its entries,
    /// then marks the fields built. Entities written meanwhile by an instance that
    /// does not declare the field are not covered; every instance sharing the data
    /// should run the same profile.
    pub async fn build_indexes(&self) -> Result<(), StoreError> {
        let mut conn = self.conn();
        for (entity, fields) in self.indexes.iter() {
            let built: Vec<String> = conn.smembers(self.keys.built(entity)).await.map_err(unavailable)?;
            let missing: std::collections::BTreeSet<String> =
                fields.iter().filter(|f| !built.contains(f)).cloned().collect();
            if missing.is_empty() {
                continue;
            }
            // Marked even with no data yet: from here on every commit keeps them.
            let ids: Vec<(String, f64)> =
                conn.zrange_withscores(self.keys.index(entity), 0, -1).await.map_err(unavailable)?;
            let rows = self.fetch(entity, ids.iter().map(|(id, _)| id.clone()).collect()).await?;
            let scores: std::collections::HashMap<&str, f64> = ids.iter().map(|(id, s)| (id.as_str(), *s)).collect();
            let mut batch = Batch::default();
            for (id, value) in &rows {
                let score = scores.get(id.as_str()).copied().unwrap_or_default() as u64;
                batch.entries(self, entity, id, score, self.entries_of(entity, &missing, value));
            }
            let mut pipe = redis::pipe();
            pipe.atomic();
            batch.into_pipe(&mut pipe);
            pipe.sadd(self.keys.built(entity), missing.iter().collect::<Vec<_>>()).ignore();
            pipe.query_async::<()>(&mut conn).await.map_err(unavailable)?;
            if !rows.is_empty() {
                tracing::info!(entity, fields = ?missing, entities = rows.len(), "built declared indexes on Redis");
            }
        }
        Ok(())
    }
}

/// Writes of many entities grouped into few commands (a reset, a seed, an index
/// build): values by `MSET`, sorted-set members by one `ZADD` per key and thousand,
/// each entity's entry list by one `RPUSH`, a type's index keys by one `SADD`. At
/// 200,000 users with two indexed fields that is about 200,000 commands, not 2.4 million.
#[derive(Default)]
pub(super) struct Batch {
    values: Vec<(String, String)>,
    members: std::collections::HashMap<String, Vec<(u64, String)>>,
    lists: Vec<(String, Vec<String>)>,
    index_keys: std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
}

impl Batch {
    pub fn value(&mut self, key: String, text: String) {
        self.values.push((key, text));
    }

    pub fn member(&mut self, key: &str, score: u64, member: String) {
        match self.members.get_mut(key) {
            Some(m) => m.push((score, member)),
            None => {
                self.members.insert(key.to_owned(), vec![(score, member)]);
            }
        }
    }

    /// The index `entries` of entity `id`, created `score`th.
    pub fn entries(&mut self, store: &RedisStore, entity: &str, id: &str, score: u64, entries: Vec<Entry>) {
        if entries.is_empty() {
            return;
        }
        let mut list = Vec::with_capacity(entries.len() * 2);
        for e in entries {
            let (key, member, score) = match e {
                Entry::Eq(key) => (key, id.to_owned(), score),
                Entry::Sort(key, prefix) => (key, format!("{prefix}{score:016}{id}"), 0),
            };
            self.member(&key, score, member.clone());
            list.push(key);
            list.push(member);
        }
        let keys = self.index_keys.entry(store.keys.index_keys(entity)).or_default();
        for key in list.iter().step_by(2) {
            if !keys.contains(key) {
                keys.insert(key.clone());
            }
        }
        self.lists.push((store.keys.entries(entity, id), list));
    }

    pub fn into_pipe(self, pipe: &mut redis::Pipeline) {
        for chunk in self.values.chunks(500) {
            pipe.mset(chunk).ignore();
        }
        for (key, members) in &self.members {
            for chunk in members.chunks(1000) {
                let mut cmd = redis::cmd("ZADD");
                cmd.arg(key);
                for (score, member) in chunk {
                    cmd.arg(*score).arg(member);
                }
                pipe.add_command(cmd).ignore();
            }
        }
        for (list, items) in &self.lists {
            pipe.rpush(list, items).ignore();
        }
        for (key, members) in &self.index_keys {
            for chunk in members.iter().collect::<Vec<_>>().chunks(1000) {
                pipe.sadd(key, chunk).ignore();
            }
        }
    }
}
