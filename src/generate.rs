//! Generated data (`generate_data` in `api.json`): realistic, deterministic data sets
//! of any size, made when the profile's initial data is needed (first start, reset).
//!
//! ```json
//! "generate_data": {
//!   "seed": 42,
//!   "counts": {"users": 50, "posts": 200},
//!   "entities": {
//!     "users": {"username": {"type": "username"}, "email": {"type": "email", "domain": "example.com"},
//!               "role": {"type": "pickOne", "values": ["admin", "user"], "weights": [1, 9]}},
//!     "posts": {"user_id": {"type": "ref", "entity": "users"}, "title": {"type": "lorem", "words": 5}}
//!   }
//! }
//! ```
//!
//! The same seed gives the same data: one named RNG (Xoshiro256++) drives every field,
//! in a fixed order. Ids are 1..n unless an `id` generator is given.

use crate::config::CompileCx;
use crate::store::Dataset;
use chrono::{NaiveDate, TimeZone, Utc};
use fake::Fake;
use fake::faker::internet::en::{SafeEmail, Username};
use fake::faker::lorem::en::{Sentence, Words};
use fake::faker::name::en::{FirstName, LastName, Name};
use indexmap::IndexMap;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

/// One field's generator.
#[derive(Debug, Clone)]
enum Gen {
    Const(Value),
    Uuid,
    Sequence,
    Username,
    Email(Option<String>),
    Name,
    FirstName,
    LastName,
    /// Days since the epoch, inclusive range; `datetime` adds a time of day.
    Date {
        from: i64,
        to: i64,
        datetime: bool,
    },
    Words(usize),
    Sentences(usize),
    Int(i64, i64),
    Float(f64, f64),
    Bool(f64),
    PickOne(Vec<Value>, Vec<f64>),
    Ref(String),
}

/// What to generate, checked at load.
#[derive(Debug, Clone)]
pub struct Generator {
    seed: u64,
    plan: Vec<EntityPlan>,
    /// Entity types whose records are keyed by a field other than `id`.
    keys: IndexMap<String, String>,
}

/// Entity type, how many, the field whose value is the key, and its fields'
/// generators in order.
#[derive(Debug, Clone)]
struct EntityPlan {
    entity: String,
    count: usize,
    key: String,
    fields: Vec<(String, Gen)>,
}

/// The most entities of one type a profile may generate: all of them are made in
/// memory at start.
pub const MAX_COUNT: usize = 10_000_000;

const TYPES: &str = "uuid, sequence, username, email, name, first_name, last_name, date, datetime, lorem, number, boolean, pickOne, ref, constant";

impl Generator {
    /// Checks a `generate_data` block; problems are reported against `api.json`.
    pub fn parse(def: &Value, seeded: &[String], cx: &mut CompileCx<'_>) -> Option<Generator> {
        let at = "generate_data";
        if def.get("enabled") == Some(&Value::Bool(false)) {
            return None;
        }
        let seed = def.get("seed").and_then(Value::as_u64).unwrap_or(42);
        let counts: IndexMap<String, usize> = match def.get("counts").map(|c| serde_json::from_value(c.clone())) {
            Some(Ok(c)) => c,
            None => IndexMap::new(),
            Some(Err(e)) => {
                cx.problem(format!("{at}.counts"), e.to_string(), "an object of entity: count");
                return None;
            }
        };
        let mut known: Vec<String> = seeded.to_vec();
        let mut plan = Vec::new();
        for (entity, count) in counts {
            if count > MAX_COUNT {
                cx.problem(format!("{at}.counts.{entity}"), format!("found {count}"), format!("at most {MAX_COUNT}"));
                continue;
            }
            if !crate::store::valid_entity_name(&entity) {
                cx.problem(
                    format!("{at}.counts.{entity}"),
                    format!("bad entity name {entity:?}"),
                    "letters, digits, `_`, `-` or `.`",
                );
                continue;
            }
            let mut fields = Vec::new();
            let specs = def
                .get("entities")
                .and_then(|e| e.get(&entity))
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            // `"keys": {"users": "username"}`: the record is stored under that field's
            // value (an entity type keyed by something other than `id`).
            let key = def.get("keys").and_then(|k| k.get(&entity)).and_then(Value::as_str).unwrap_or("id").to_owned();
            if !specs.contains_key(&key) {
                fields.push((key.clone(), Gen::Sequence));
            }
            for (field, spec) in specs {
                let here = format!("{at}.entities.{entity}.{field}");
                match field_gen(&spec, &known) {
                    Ok(g) => fields.push((field, g)),
                    Err((found, expected)) => cx.problem(here, found, expected),
                }
            }
            known.push(entity.clone());
            plan.push(EntityPlan { entity, count, key, fields });
        }
        let keys = plan.iter().filter(|p| p.key != "id").map(|p| (p.entity.clone(), p.key.clone())).collect();
        Some(Generator { seed, plan, keys })
    }

    /// Makes the data set; the same generator always makes the same data. References
    /// may point into `seeded` as well as at types generated before.
    pub fn generate(&self, seeded: &Dataset) -> Dataset {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(self.seed);
        let mut out = Dataset::new();
        for EntityPlan { entity, count, key, fields } in &self.plan {
            let started = std::time::Instant::now();
            let mut rows = IndexMap::with_capacity(*count);
            for n in 1..=*count {
                let mut row = serde_json::Map::with_capacity(fields.len());
                for (field, g) in fields {
                    row.insert(field.clone(), value(g, n, &mut rng, (&out, seeded, &self.keys)));
                }
                let id = row.get(key).and_then(crate::store::id_key).unwrap_or_else(|| n.to_string());
                rows.insert(id, Value::Object(row));
                if *count >= 10_000 && n % (*count / 10) == 0 {
                    tracing::info!("generating {entity}: {n}/{count}");
                }
            }
            tracing::info!("generated {count} {entity} in {:.1?}", started.elapsed());
            out.insert(entity.clone(), rows);
        }
        out
    }
}

fn field_gen(spec: &Value, known: &[String]) -> Result<Gen, (String, String)> {
    let Value::Object(o) = spec else { return Ok(Gen::Const(spec.clone())) };
    let kind = o.get("type").and_then(Value::as_str).unwrap_or("");
    let opts = o.get("options").and_then(Value::as_object).unwrap_or(o);
    let num = |k: &str| opts.get(k).and_then(Value::as_f64);
    let date = |k: &str, default: &str| -> Result<i64, (String, String)> {
        let text = opts.get(k).and_then(Value::as_str).unwrap_or(default);
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(|d| (d - NaiveDate::default()).num_days())
            .map_err(|_| (format!("bad date {text:?} in {k}"), "YYYY-MM-DD".to_owned()))
    };
    Ok(match kind {
        "uuid" => Gen::Uuid,
        "sequence" | "increment" => Gen::Sequence,
        "username" => Gen::Username,
        "email" => Gen::Email(opts.get("domain").and_then(Value::as_str).map(str::to_owned)),
        "name" => Gen::Name,
        "first_name" => Gen::FirstName,
        "last_name" => Gen::LastName,
        "date" | "datetime" => {
            let (from, to) = (date("from", "2020-01-01")?, date("to", "2025-12-31")?);
            if from > to {
                return Err(("`from` is after `to`".into(), "from <= to".into()));
            }
            Gen::Date { from, to, datetime: kind == "datetime" }
        }
        "lorem" => match (opts.get("sentences").and_then(Value::as_u64), opts.get("words").and_then(Value::as_u64)) {
            (Some(s), _) => Gen::Sentences(s.max(1) as usize),
            (None, w) => Gen::Words(w.unwrap_or(3).max(1) as usize),
        },
        "number" => {
            let (min, max) = (num("min").unwrap_or(0.0), num("max").unwrap_or(100.0));
            if min > max {
                return Err(("`min` is above `max`".into(), "min <= max".into()));
            }
            let integral = opts.get("decimals").and_then(Value::as_u64).unwrap_or(0) == 0
                && min.fract() == 0.0
                && max.fract() == 0.0;
            if integral { Gen::Int(min as i64, max as i64) } else { Gen::Float(min, max) }
        }
        "boolean" => Gen::Bool(num("probability").unwrap_or(0.5).clamp(0.0, 1.0)),
        "pickOne" | "pick_one" => {
            let values = opts.get("values").and_then(Value::as_array).cloned().unwrap_or_default();
            if values.is_empty() {
                return Err(("pickOne without values".into(), "\"values\": [..]".into()));
            }
            let weights: Vec<f64> = match opts.get("weights").and_then(Value::as_array) {
                Some(w) if w.len() == values.len() => w.iter().map(|x| x.as_f64().unwrap_or(0.0)).collect(),
                Some(_) => return Err(("weights and values differ in length".into(), "one weight per value".into())),
                None => vec![1.0; values.len()],
            };
            if weights.iter().sum::<f64>() <= 0.0 {
                return Err(("weights add up to 0".into(), "positive weights".into()));
            }
            Gen::PickOne(values, weights)
        }
        "ref" | "reference" => {
            let target = opts.get("entity").and_then(Value::as_str).unwrap_or("").to_owned();
            if !known.contains(&target) {
                return Err((
                    format!("reference to {target:?}, which is not generated or seeded before it"),
                    "an entity listed earlier in counts, or seeded".into(),
                ));
            }
            Gen::Ref(target)
        }
        "constant" => Gen::Const(opts.get("value").cloned().unwrap_or(Value::Null)),
        other => return Err((format!("unknown generator {other:?}"), format!("one of {TYPES}"))),
    })
}

/// The data made so far, the seed data, and the key fields that are not `id`.
type Known<'a> = (&'a Dataset, &'a Dataset, &'a IndexMap<String, String>);

fn value(g: &Gen, n: usize, rng: &mut Xoshiro256PlusPlus, (done, seeded, keys): Known<'_>) -> Value {
    match g {
        Gen::Const(v) => v.clone(),
        Gen::Uuid => Value::String(uuid::Builder::from_random_bytes(rng.random::<[u8; 16]>()).into_uuid().to_string()),
        Gen::Sequence => json!(n),
        Gen::Username => Value::String(Username().fake_with_rng(rng)),
        Gen::Email(None) => Value::String(SafeEmail().fake_with_rng(rng)),
        Gen::Email(Some(domain)) => {
            let user: String = Username().fake_with_rng(rng);
            Value::String(format!("{}{n}@{domain}", user.to_lowercase()))
        }
        Gen::Name => Value::String(Name().fake_with_rng(rng)),
        Gen::FirstName => Value::String(FirstName().fake_with_rng(rng)),
        Gen::LastName => Value::String(LastName().fake_with_rng(rng)),
        Gen::Date { from, to, datetime } => {
            let day = NaiveDate::default() + chrono::Duration::days(rng.random_range(*from..=*to));
            if *datetime {
                let secs = rng.random_range(0..86_400);
                let t = Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight exists"))
                    + chrono::Duration::seconds(secs);
                Value::String(crate::template::iso(t))
            } else {
                Value::String(day.format("%Y-%m-%d").to_string())
            }
        }
        Gen::Words(k) => {
            let words: Vec<String> = Words(*k..*k + 1).fake_with_rng(rng);
            Value::String(words.join(" "))
        }
        Gen::Sentences(k) => {
            let s: Vec<String> = (0..*k).map(|_| Sentence(4..10).fake_with_rng(rng)).collect();
            Value::String(s.join(" "))
        }
        Gen::Int(min, max) => json!(rng.random_range(*min..=*max)),
        Gen::Float(min, max) => json!((rng.random_range(*min..=*max) * 100.0).round() / 100.0),
        Gen::Bool(p) => Value::Bool(rng.random_bool(*p)),
        Gen::PickOne(values, weights) => {
            let total: f64 = weights.iter().sum();
            let mut x = rng.random_range(0.0..total);
            for (v, w) in values.iter().zip(weights) {
                if x < *w {
                    return v.clone();
                }
                x -= w;
            }
            values.last().cloned().unwrap_or(Value::Null)
        }
        Gen::Ref(target) => match done.get(target).or_else(|| seeded.get(target)).filter(|t| !t.is_empty()) {
            Some(rows) => {
                let (key, row) = rows.get_index(rng.random_range(0..rows.len())).expect("index in range");
                let field = keys.get(target).map_or("id", String::as_str);
                row.get(field).cloned().unwrap_or_else(|| Value::String(key.clone()))
            }
            None => Value::Null,
        },
    }
}
