//! From operations to a profile: which paths are resources (a collection `/pets` and
//! an item `/pets/{petId}` become one entity type), what each operation does to
//! them, and the static answers of the rest.

use super::report::{Report, ResourceReport, StaticOp};
use super::spec::{Op, Response, SchemeKind, Spec};
use crate::sample::{sample, type_of};
use serde_json::{Map, Value, json};

/// How new entities get their key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdKind {
    Increment,
    Uuid,
    /// A slug of this text field.
    Slug(String),
    /// The client sends it.
    Body,
}

impl IdKind {
    fn setting(&self) -> Value {
        match self {
            IdKind::Increment => json!("increment"),
            IdKind::Uuid => json!("uuid"),
            IdKind::Slug(f) => json!(format!("slug:{f}")),
            IdKind::Body => json!(false),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            IdKind::Increment => "auto-increment".into(),
            IdKind::Uuid => "uuid".into(),
            IdKind::Slug(f) => format!("slug of `{f}`"),
            IdKind::Body => "sent by the client".into(),
        }
    }
}

/// One inferred entity type.
#[derive(Debug, Clone)]
pub struct Resource {
    pub entity: String,
    pub collection: String,
    pub item: Option<String>,
    /// The entity's key field.
    pub key: String,
    pub id: IdKind,
    /// The entity as stored (inside any wrapper), response side.
    pub schema: Value,
    /// The request body's wrapper field (`{"article": {...}}`).
    pub wrapper: Option<String>,
    /// (parent entity, the path parameter naming it) for a nested collection.
    pub parent: Option<(String, String)>,
    pub unique: Vec<String>,
    pub ttl: Option<u64>,
}

/// Splits a path into segments; `{x}` are parameters.
fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

fn param(seg: &str) -> Option<&str> {
    seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')).filter(|s| !s.contains(['{', '}']))
}

/// An entity name from a path segment: letters, digits, `_`, `-`, `.`.
fn entity_name(seg: &str) -> String {
    let s: String = seg.chars().map(|c| if c.is_ascii_alphanumeric() || "_-.".contains(c) { c } else { '_' }).collect();
    if s.is_empty() { "items".into() } else { s }
}

/// The first 2xx response, else `default`, else the first.
pub fn success(op: &Op) -> Option<&Response> {
    let mut ok: Vec<&Response> =
        op.responses.iter().filter(|r| r.status.is_some_and(|s| (200..300).contains(&s))).collect();
    ok.sort_by_key(|r| r.status);
    ok.first().copied().or_else(|| op.responses.iter().find(|r| r.status.is_none())).or(op.responses.first())
}

fn ext_str<'a>(op: &'a Op, key: &str) -> Option<&'a str> {
    op.ext.get(key).and_then(Value::as_str)
}

/// The object inside a one-property wrapper: (`article`, its schema).
fn wrapped(schema: &Value) -> Option<(String, &Value)> {
    let props = schema.get("properties")?.as_object()?;
    if props.len() != 1 {
        return None;
    }
    let (k, v) = props.iter().next()?;
    (type_of(v.as_object()?) == Some("object") && v.get("properties").is_some()).then(|| (k.clone(), v))
}

/// The entity schema of a single-entity body: the schema, or the object it wraps.
fn entity_schema(schema: &Value) -> (Option<String>, &Value) {
    match wrapped(schema) {
        Some((k, inner)) => (Some(k), inner),
        None => (None, schema),
    }
}

/// A list body: an array (the item schema) or an object with one array of objects
/// (`{"articles": [...], "articlesCount": 3}`): (wrapper field, item schema, count field).
fn list_shape(schema: &Value) -> Option<(Option<String>, &Value, Option<String>)> {
    let s = schema.as_object()?;
    if type_of(s) == Some("array") {
        return Some((None, s.get("items").unwrap_or(&Value::Null), None));
    }
    let props = s.get("properties")?.as_object()?;
    let arrays: Vec<(&String, &Value)> =
        props.iter().filter(|(_, v)| v.as_object().is_some_and(|o| type_of(o) == Some("array"))).collect();
    let [(name, arr)] = arrays.as_slice() else { return None };
    let count = props
        .iter()
        .find(|(k, v)| {
            let l = k.to_ascii_lowercase();
            v.as_object().is_some_and(|o| type_of(o) == Some("integer")) && (l.contains("count") || l.contains("total"))
        })
        .map(|(k, _)| k.clone());
    Some((Some((*name).clone()), arr.get("items").unwrap_or(&Value::Null), count))
}

fn is_object_schema(s: &Value) -> bool {
    s.as_object().is_some_and(|o| type_of(o) == Some("object") || o.contains_key("allOf"))
}

/// The properties of an object schema, `allOf` branches merged.
pub fn properties(schema: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for b in all {
            out.extend(properties(b));
        }
    }
    if let Some(p) = schema.get("properties").and_then(Value::as_object) {
        out.extend(p.clone());
    }
    out
}

/// Finds the resources of `spec`.
pub fn resources(spec: &Spec, report: &mut Report) -> Vec<Resource> {
    let mut found: Vec<Resource> = Vec::new();
    let paths: Vec<&str> = {
        let mut p: Vec<&str> = spec.ops.iter().map(|o| o.path.as_str()).collect();
        p.dedup();
        p
    };
    fn ops_at<'s>(spec: &'s Spec, path: &'s str) -> impl Iterator<Item = &'s Op> + 's {
        spec.ops.iter().filter(move |o| o.path == path)
    }
    let mut collections: Vec<(String, Option<String>)> = Vec::new();
    for path in &paths {
        let segs = segments(path);
        if let [.., coll, last] = segs.as_slice()
            && param(last).is_some()
            && param(coll).is_none()
        {
            let collection = format!("/{}", segs[..segs.len() - 1].join("/"));
            if !collections.iter().any(|(c, _)| *c == collection) {
                collections.push((collection, Some((*path).to_owned())));
            }
        }
    }
    // A collection with a create but no item path still keeps what it is given.
    for path in &paths {
        let segs = segments(path);
        if segs.last().is_some_and(|l| param(l).is_none())
            && !collections.iter().any(|(c, _)| c == path)
            && ops_at(spec, path)
                .any(|o| o.method == "POST" && o.body.as_ref().is_some_and(|b| b.json && is_object_schema(&b.schema)))
        {
            collections.push(((*path).to_owned(), None));
        }
    }
    for (collection, item) in collections {
        let item_ops: Vec<&Op> = item.as_deref().map(|i| ops_at(spec, i).collect()).unwrap_or_default();
        let coll_ops: Vec<&Op> = ops_at(spec, &collection).collect();
        let all: Vec<&Op> = item_ops.iter().chain(coll_ops.iter()).copied().collect();
        if !all.iter().any(|o| matches!(o.method.as_str(), "GET" | "POST" | "PUT" | "PATCH" | "DELETE")) {
            continue;
        }
        let segs = segments(&collection);
        let entity = all
            .iter()
            .find_map(|o| ext_str(o, "x-mockgate-entity"))
            .map(str::to_owned)
            .unwrap_or_else(|| entity_name(segs.last().copied().unwrap_or("items")));
        // The entity's schema: what the item read answers, else what a create sends.
        let read_schema = item_ops
            .iter()
            .find(|o| o.method == "GET")
            .and_then(|o| success(o))
            .and_then(|r| r.schema.as_ref())
            .map(|s| entity_schema(s).1.clone());
        let create = coll_ops.iter().find(|o| o.method == "POST");
        let create_body = create.and_then(|o| o.body.as_ref()).filter(|b| b.json);
        let wrapper = create_body.and_then(|b| wrapped(&b.schema)).map(|(k, _)| k);
        let create_schema = create_body.map(|b| entity_schema(&b.schema).1.clone());
        let create_resp =
            create.and_then(|o| success(o)).and_then(|r| r.schema.as_ref()).map(|s| entity_schema(s).1.clone());
        let schema = read_schema.or(create_resp).or(create_schema.clone()).unwrap_or_else(|| json!({"type": "object"}));
        let props = properties(&schema);
        let item_param = item.as_deref().and_then(|i| segments(i).last().and_then(|l| param(l)).map(str::to_owned));
        let key = all
            .iter()
            .find_map(|o| ext_str(o, "x-mockgate-key"))
            .map(str::to_owned)
            .or_else(|| item_param.clone().filter(|p| props.contains_key(p)))
            .or_else(|| props.contains_key("id").then(|| "id".to_owned()))
            .or_else(|| item_param.clone())
            .unwrap_or_else(|| "id".into());
        let param_schema = item.as_deref().and_then(|i| {
            let p = item_param.as_deref()?;
            ops_at(spec, i)
                .flat_map(|o| o.params.iter())
                .find(|q| q.name == p && q.location == "path")
                .map(|q| q.schema.clone())
        });
        let key_schema = props.get(&key).cloned().or(param_schema).unwrap_or_default();
        let id = id_kind(&key, &key_schema, &props, create_body.map(|b| &b.schema));
        // `/articles/{slug}/comments`: comments belong to the article the path names.
        let parent = match segs.as_slice() {
            [.., p, _] if param(p).is_some() => {
                let parent_param = param(p).unwrap_or_default().to_owned();
                let parent_coll = format!("/{}", segs[..segs.len() - 2].join("/"));
                found
                    .iter()
                    .find(|r| r.collection == parent_coll)
                    .map(|r| (r.entity.clone(), parent_param.clone()))
                    .or_else(|| segs.len().checked_sub(3).map(|i| (entity_name(segs[i]), parent_param)))
            }
            _ => None,
        };
        let unique = all
            .iter()
            .find_map(|o| o.ext.get("x-mockgate-unique"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        let ttl = all.iter().find_map(|o| o.ext.get("x-mockgate-ttl")).and_then(Value::as_u64);
        if let Some(existing) = found.iter_mut().find(|r| r.entity == entity) {
            report.notes.push(format!(
                "`{collection}` is a second collection of `{entity}` (first: `{}`); both serve the same entities",
                existing.collection
            ));
        }
        found.push(Resource { entity, collection, item, key, id, schema, wrapper, parent, unique, ttl });
    }
    for r in &found {
        report.resources.push(ResourceReport {
            entity: r.entity.clone(),
            key: r.key.clone(),
            id: r.id.describe(),
            collection: r.collection.clone(),
            item: r.item.clone(),
            actions: Vec::new(),
            parent: r.parent.clone(),
        });
    }
    found
}

fn id_kind(key: &str, key_schema: &Value, props: &Map<String, Value>, create: Option<&Value>) -> IdKind {
    let ty = key_schema.as_object().and_then(type_of);
    let format = key_schema.get("format").and_then(Value::as_str);
    if matches!(ty, Some("integer" | "number")) {
        return IdKind::Increment;
    }
    if format == Some("uuid") {
        return IdKind::Uuid;
    }
    let read_only = key_schema.get("readOnly") == Some(&Value::Bool(true));
    if read_only {
        for f in ["title", "name", "headline", "label"] {
            if props.get(f).and_then(Value::as_object).and_then(type_of) == Some("string") {
                return IdKind::Slug(f.to_owned());
            }
        }
        return IdKind::Uuid;
    }
    // A key the create body requires is the client's; a string `id` is made; a key
    // with a name of its own (`username`, `slug`) is the client's.
    let required = create
        .map(|c| entity_schema(c).1)
        .and_then(|c| c.get("required"))
        .and_then(Value::as_array)
        .is_some_and(|r| r.iter().any(|k| k.as_str() == Some(key)));
    if required || key != "id" { IdKind::Body } else { IdKind::Uuid }
}

/// What one operation becomes.
pub enum Mapping<'r> {
    Crud { resource: &'r Resource, action: &'static str, merge: bool, key_in_body: bool },
    List { resource: &'r Resource, filters: Vec<String> },
    Static(String),
}

/// Decides what `op` does.
pub fn map<'r>(op: &Op, resources: &'r [Resource]) -> Mapping<'r> {
    let json_body = op.body.as_ref().is_none_or(|b| b.json);
    for r in resources {
        if r.item.as_deref() == Some(op.path.as_str()) {
            return match op.method.as_str() {
                "GET" => Mapping::Crud { resource: r, action: "read", merge: false, key_in_body: false },
                "PUT" if json_body && op.body.is_some() => {
                    Mapping::Crud { resource: r, action: "update", merge: false, key_in_body: false }
                }
                "PATCH" if json_body && op.body.is_some() => {
                    Mapping::Crud { resource: r, action: "update", merge: true, key_in_body: false }
                }
                "DELETE" => Mapping::Crud { resource: r, action: "delete", merge: false, key_in_body: false },
                "PUT" | "PATCH" => Mapping::Static("an update without a JSON body".into()),
                m => Mapping::Static(format!("{m} on an item path is not a create, read, update or delete")),
            };
        }
        if r.collection == op.path {
            return match op.method.as_str() {
                "GET" => match success(op).and_then(|s| s.schema.as_ref()) {
                    Some(s) if list_shape(s).is_none() => {
                        Mapping::Static("a GET on a collection whose answer is not a list".into())
                    }
                    _ => Mapping::List { resource: r, filters: filters(op, r) },
                },
                "POST" if json_body && op.body.as_ref().is_some_and(|b| is_object_schema(&b.schema)) => {
                    Mapping::Crud { resource: r, action: "create", merge: false, key_in_body: false }
                }
                "POST" => Mapping::Static("a POST without a JSON object body".into()),
                "PUT" | "PATCH" if json_body && op.body.is_some() => {
                    Mapping::Crud { resource: r, action: "update", merge: op.method == "PATCH", key_in_body: true }
                }
                m => Mapping::Static(format!("{m} on a whole collection (only list and create are mapped)")),
            };
        }
    }
    // `GET /pet/findByStatus`: a list of a resource's entities under its path.
    if op.method == "GET"
        && let Some(schema) = success(op).and_then(|s| s.schema.as_ref())
        && let Some((_, item, _)) = list_shape(schema)
    {
        let named = op.ext.get("x-mockgate-entity").and_then(Value::as_str);
        let owner = resources.iter().find(|r| named == Some(r.entity.as_str())).or_else(|| {
            resources.iter().find(|r| {
                op.path.starts_with(&format!("{}/", r.collection))
                    && (entity_schema(item).1 == &r.schema || item == &r.schema)
            })
        });
        if let Some(r) = owner {
            return Mapping::List { resource: r, filters: filters(op, r) };
        }
    }
    let why = if op.method == "GET" {
        "no collection or item path of an entity".to_owned()
    } else {
        format!("{} outside a collection or item path", op.method)
    };
    Mapping::Static(why)
}

/// The list's paging from the query parameters the operation declares: a page size
/// (`limit`, `per_page`, `pageSize`…, its `maximum` the largest page), an offset
/// (`offset`, `skip`…) or a 1-based page number (`page`).
fn pagination(op: &Op) -> Option<Value> {
    let find = |names: &[&str]| {
        op.params.iter().find(|p| p.location == "query" && names.iter().any(|n| p.name.eq_ignore_ascii_case(n)))
    };
    let limit = find(&["limit", "per_page", "perPage", "pageSize", "page_size", "size", "maxResults", "max_results"]);
    let offset = find(&["offset", "skip", "start"]);
    let page = find(&["page", "pageNumber", "page_number"]);
    if limit.is_none() && page.is_none() {
        return None;
    }
    let max = limit.and_then(|l| l.schema.get("maximum")).and_then(Value::as_u64).unwrap_or(100).max(1);
    let default = limit.and_then(|l| l.schema.get("default")).and_then(Value::as_u64).unwrap_or(if limit.is_some() {
        max
    } else {
        20.min(max)
    });
    let mut out = json!({"enabled": true, "default_limit": default.clamp(1, max), "max_limit": max});
    if let Some(l) = limit.filter(|l| l.name != "limit") {
        out["limit_param"] = json!(l.name);
    }
    if let Some(o) = offset.filter(|o| o.name != "offset") {
        out["offset_param"] = json!(o.name);
    }
    if let Some(p) = page {
        out["page_param"] = json!(p.name);
    }
    Some(out)
}

/// The query parameters that filter a list: those naming a field that is not an array.
fn filters(op: &Op, r: &Resource) -> Vec<String> {
    let props = properties(&r.schema);
    op.params
        .iter()
        .filter(|p| p.location == "query")
        .filter(|p| props.get(&p.name).and_then(Value::as_object).is_some_and(|o| type_of(o) != Some("array")))
        .map(|p| p.name.clone())
        .collect()
}

/// The endpoint for `op`.
pub fn endpoint(op: &Op, mapping: &Mapping<'_>, auth: &Auth, checked: &mut Checked, report: &mut Report) -> Value {
    let mut ep = Map::new();
    ep.insert("method".into(), json!(op.method));
    let (route, loose) = route(&op.path);
    if route != op.path {
        report.notes.push(format!(
            "{} {}: served as `{route}` (a parameter must be a whole segment of letters, digits, `_` or `-`)",
            op.method, op.path
        ));
    }
    ep.insert("path".into(), json!(route));
    if let Some(id) = &op.operation_id {
        ep.insert("name".into(), json!(id));
    }
    if let Some(s) = &op.summary {
        ep.insert("summary".into(), json!(s));
    }
    if !op.tags.is_empty() {
        ep.insert("tag".into(), json!(op.tags));
    }
    let ok = success(op);
    let status = ok.and_then(|r| r.status).filter(|s| (200..300).contains(s));
    let what = match mapping {
        Mapping::Crud { resource, action, merge, .. } => {
            let how = if *merge { " (merge)" } else { "" };
            format!("{action}{how} of `{}`", resource.entity)
        }
        Mapping::List { resource, filters } if filters.is_empty() => format!("list of `{}`", resource.entity),
        Mapping::List { resource, filters } => {
            format!("list of `{}` filtered by {}", resource.entity, filters.join(", "))
        }
        Mapping::Static(why) => format!("served statically: {why}"),
    };
    ep.insert(
        "description".into(),
        json!(format!(
            "{} {} ({}): {what}. Imported from {}.",
            op.method,
            op.path,
            op.operation_id.as_deref().unwrap_or("no operationId"),
            op.at
        )),
    );
    let (methods, scopes) = auth.for_op(op, report);
    if !methods.is_empty() {
        ep.insert("authentication".into(), json!(methods));
        if !scopes.is_empty() {
            ep.insert("required_scopes".into(), json!(scopes));
        }
    }
    let params: Vec<Value> = op
        .params
        .iter()
        .filter(|p| {
            !(p.location == "header"
                && matches!(p.name.to_ascii_lowercase().as_str(), "accept" | "content-type" | "authorization"))
        })
        .filter(|p| !(p.location == "path" && loose.contains(&p.name)))
        .map(|p| {
            let what = format!("{} {}: the {} parameter `{}`", op.method, op.path, p.location, p.name);
            let schema = if checked.usable(&p.schema, &what, report) { p.schema.clone() } else { Value::Null };
            json!({"name": p.name, "in": p.location, "required": p.required, "schema": schema})
        })
        .collect();
    if !params.is_empty() {
        ep.insert("parameters".into(), Value::Array(params));
    }
    if let Some(b) = &op.body {
        if b.json {
            let mut schema = b.schema.clone();
            if !b.required
                && let Value::Object(s) = &mut schema
            {
                // An optional body may be left out.
                s.insert(
                    "type".into(),
                    match s.get("type") {
                        Some(Value::String(t)) => json!([t, "null"]),
                        _ => json!(["object", "array", "string", "number", "integer", "boolean", "null"]),
                    },
                );
            }
            if checked.usable(&schema, &format!("{} {}: the request body", op.method, op.path), report) {
                ep.insert("request_body_schema".into(), schema);
            }
        } else {
            report
                .notes
                .push(format!("{} {}: the {} body is accepted without validation", op.method, op.path, b.media));
        }
    }
    let headers: Map<String, Value> = ok
        .map(|r| r.headers.iter().map(|(n, s)| (n.clone(), json!(crate::json::to_text(&sample(s, Some(n)))))).collect())
        .unwrap_or_default();
    let schema = ok.and_then(|r| r.schema.clone());
    let mut response = Map::new();
    let mut persistence = None;
    let mut not_found = None;
    match mapping {
        Mapping::Crud { resource: r, action, merge, key_in_body } => {
            let mut p = Map::new();
            p.insert("entity_name".into(), json!(r.entity));
            p.insert("action".into(), json!(action));
            match *action {
                "create" => {
                    p.insert("key_field".into(), json!(r.key));
                    p.insert("auto_generate_id".into(), r.id.setting());
                    if let Some(ttl) = r.ttl {
                        p.insert("ttl".into(), json!(ttl));
                    }
                    if !r.unique.is_empty() {
                        p.insert("validation".into(), json!({"unique_fields": r.unique}));
                    }
                    if let Some((parent, field)) = &r.parent {
                        p.insert(
                            "relationships".into(),
                            json!({field: {"entity": parent, "required": true, "on_delete": "cascade"}}),
                        );
                    }
                }
                "update" => {
                    let key =
                        if *key_in_body { r.key.clone() } else { r.item_param().unwrap_or_else(|| r.key.clone()) };
                    p.insert("key_field".into(), json!(key));
                    p.insert("merge_strategy".into(), json!(if *merge { "merge" } else { "replace" }));
                }
                _ => {
                    p.insert("key_field".into(), json!(r.item_param().unwrap_or_else(|| r.key.clone())));
                    not_found = not_found_response(op, &r.entity);
                }
            }
            if let Some(w) = r.wrapper.as_ref().filter(|_| matches!(*action, "create" | "update")) {
                p.insert("request_wrapper".into(), json!(w));
            }
            persistence = Some(Value::Object(p));
            let body = match (*action, schema.as_ref()) {
                ("delete", Some(s)) => Some(sample(s, None)),
                ("delete", None) => None,
                (_, Some(s)) => Some(match wrapped(s) {
                    Some((k, _)) => json!({k: "{{stored_entity}}"}),
                    None => json!("{{stored_entity}}"),
                }),
                (_, None) => Some(json!("{{stored_entity}}")),
            };
            let default_status = match *action {
                "create" => 201,
                "delete" => 204,
                _ => 200,
            };
            response.insert("status_code".into(), json!(status.unwrap_or(default_status)));
            if let Some(b) = body {
                response.insert("body".into(), b);
            }
        }
        Mapping::List { resource: r, filters } => {
            let mut p = json!({"entity_name": r.entity, "action": "list", "filter_by_query_params": filters});
            if let Some(pagination) = pagination(op) {
                p["pagination"] = pagination;
            }
            persistence = Some(p);
            let body = match schema.as_ref().and_then(list_shape) {
                Some((Some(field), _, count)) => {
                    let mut b = Map::new();
                    b.insert(field, json!("{{entity_list}}"));
                    if let Some(c) = count {
                        b.insert(c, json!("{{entity_count}}"));
                    }
                    Value::Object(b)
                }
                _ => json!("{{entity_list}}"),
            };
            response.insert("status_code".into(), json!(status.unwrap_or(200)));
            response.insert("body".into(), body);
        }
        Mapping::Static(why) => {
            report.statics.push(StaticOp { method: op.method.clone(), path: op.path.clone(), why: why.clone() });
            let st = ok.and_then(|r| r.status).unwrap_or(200);
            response.insert("status_code".into(), json!(st));
            let body = ok.and_then(|r| r.example.clone()).or_else(|| schema.as_ref().map(|s| sample(s, None)));
            if let Some(b) = body {
                // A stored example is an answer, never a template.
                response.insert("body".into(), escape_templates(b));
            }
            if ok.is_some_and(|r| r.media.is_some() && !r.json) {
                report.notes.push(format!(
                    "{} {}: answers {} in the document; served as JSON",
                    op.method,
                    op.path,
                    ok.and_then(|r| r.media.as_deref()).unwrap_or("")
                ));
            }
        }
    }
    if !headers.is_empty() {
        response.insert("headers".into(), Value::Object(headers));
    }
    if let Some(s) = schema
        && checked.usable(&s, &format!("{} {}: the response", op.method, op.path), report)
    {
        response.insert("schema".into(), s);
    }
    if let Some(p) = persistence {
        ep.insert("persistence".into(), p);
    }
    ep.insert("responses".into(), json!([{"response": response}]));
    if let Some(nf) = not_found {
        ep.insert("not_found_response".into(), nf);
    }
    Value::Object(ep)
}

/// The route mockgate serves for an OpenAPI path, and the path parameters it cannot
/// check one by one: a segment that mixes text and parameters (`{name}.{ext}`) is
/// one parameter, named after its first; a name with other characters is renamed.
pub fn route(path: &str) -> (String, Vec<String>) {
    let ok = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    let mut loose = Vec::new();
    let mut out = String::new();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        match param(seg) {
            Some(name) if !name.is_empty() && name.chars().all(ok) => out.push_str(seg),
            _ if seg.contains('{') => {
                let names: Vec<&str> =
                    seg.split('{').skip(1).filter_map(|s| s.split_once('}').map(|(n, _)| n)).collect();
                loose.extend(names.iter().map(|n| (*n).to_owned()));
                let first = names.first().copied().filter(|n| !n.is_empty()).unwrap_or("param");
                let clean: String = first.chars().map(|c| if ok(c) { c } else { '_' }).collect();
                out.push_str(&format!("{{{clean}}}"));
            }
            _ => out.push_str(seg),
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    (out, loose)
}

impl Resource {
    fn item_param(&self) -> Option<String> {
        self.item.as_deref().and_then(|i| segments(i).last().and_then(|l| param(l)).map(str::to_owned))
    }
}

/// The document's own error shape for a missing entity (its 404, else `default`).
fn not_found_response(op: &Op, entity: &str) -> Option<Value> {
    let r = op
        .responses
        .iter()
        .find(|r| r.status == Some(404) && r.schema.is_some())
        .or_else(|| op.responses.iter().find(|r| r.status.is_none() && r.schema.is_some()))?;
    let schema = r.schema.as_ref()?;
    let mut body = r.example.clone().unwrap_or_else(|| sample(schema, None));
    if let Value::Object(m) = &mut body {
        for (k, v) in m.iter_mut() {
            match k.to_ascii_lowercase().as_str() {
                "code" | "status" | "statuscode" if v.is_number() => *v = json!(404),
                "message" | "error" | "detail" | "title" if v.is_string() => *v = json!(format!("{entity} not found")),
                _ => {}
            }
        }
    }
    Some(json!({"status_code": 404, "body": escape_templates(body)}))
}

/// `{{` in an example stays text when the profile renders it.
fn escape_templates(v: Value) -> Value {
    match v {
        Value::String(s) if s.contains("{{") => Value::String(s.replace("{{", "\\{{")),
        Value::Array(a) => Value::Array(a.into_iter().map(escape_templates).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, escape_templates(v))).collect()),
        other => other,
    }
}

/// Which converted schemas mockgate's validator accepts (a pattern the regex engine
/// cannot read, say); one compile per distinct schema.
#[derive(Debug, Default)]
pub struct Checked {
    seen: std::collections::HashMap<String, bool>,
}

impl Checked {
    /// Whether `schema` compiles; one that does not is left out and noted (`what` it was).
    pub fn usable(&mut self, schema: &Value, what: &str, report: &mut Report) -> bool {
        let key = schema.to_string();
        if let Some(ok) = self.seen.get(&key) {
            return *ok;
        }
        let result = jsonschema::options().should_validate_formats(true).build(schema);
        if let Err(e) = &result {
            report.notes.push(format!("{what}: its schema is not checked ({e})"));
        }
        self.seen.insert(key, result.is_ok());
        result.is_ok()
    }
}

/// The security schemes as `auth.json` methods, with their demo credentials.
#[derive(Debug, Default)]
pub struct Auth {
    /// Scheme name → method definition.
    pub methods: Map<String, Value>,
    /// Scheme name → bearer (its scopes apply).
    bearer: Vec<String>,
}

impl Auth {
    pub fn new(spec: &Spec, report: &mut Report) -> Auth {
        let mut auth = Auth::default();
        for s in &spec.schemes {
            let slug = crate::persistence::slugify(&s.name);
            let method = match &s.kind {
                SchemeKind::ApiKey { location, name } => {
                    let key = format!("{slug}-demo-key");
                    report.credentials.push(format!("`{}`: {location} `{name}: {key}`", s.name));
                    json!({"type": "api_key", "name": name, "location": location, "valid_keys": [key]})
                }
                SchemeKind::Basic => {
                    report.credentials.push(format!("`{}`: basic `demo` / `demo-password`", s.name));
                    json!({"type": "http_basic", "valid_credentials": [{"username": "demo", "password": "demo-password"}]})
                }
                SchemeKind::Bearer { scopes } => {
                    let token = format!("{slug}-demo-token");
                    let scope = scopes.join(" ");
                    let shown = if scope.is_empty() { String::new() } else { format!(" (scopes: {scope})") };
                    report.credentials.push(format!("`{}`: `Authorization: Bearer {token}`{shown}", s.name));
                    auth.bearer.push(s.name.clone());
                    json!({"type": "oidc", "valid_tokens": [{"access_token": token, "scope": scope}]})
                }
                SchemeKind::Unsupported(why) => {
                    report.notes.push(format!("security scheme `{}` ({why}) is not checked", s.name));
                    continue;
                }
            };
            auth.methods.insert(s.name.clone(), method);
        }
        auth
    }

    /// The methods an operation accepts (any one is enough) and the scopes a bearer token needs.
    fn for_op(&self, op: &Op, report: &mut Report) -> (Vec<String>, Vec<String>) {
        // `security: [{}]`, or an alternative that needs nothing: anonymous is allowed.
        if op.security.is_empty() || op.security.iter().any(|alt| alt.is_empty()) {
            return (vec![], vec![]);
        }
        let mut methods: Vec<String> = Vec::new();
        let mut scopes: Vec<String> = Vec::new();
        for alt in &op.security {
            if alt.len() > 1 {
                report.notes.push(format!(
                    "{} {}: requires {} together; mockgate accepts any one of them",
                    op.method,
                    op.path,
                    alt.iter().map(|(n, _)| format!("`{n}`")).collect::<Vec<_>>().join(" and ")
                ));
            }
            for (name, s) in alt {
                if !self.methods.contains_key(name) {
                    continue;
                }
                if !methods.contains(name) {
                    methods.push(name.clone());
                }
                if self.bearer.contains(name) {
                    for sc in s {
                        if !scopes.contains(sc) {
                            scopes.push(sc.clone());
                        }
                    }
                }
            }
        }
        (methods, scopes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_make_every_parameter_a_whole_segment() {
        assert_eq!(route("/pets/{petId}"), ("/pets/{petId}".into(), vec![]));
        assert_eq!(route("/files/{name}.{ext}"), ("/files/{name}".into(), vec!["name".into(), "ext".into()]));
        assert_eq!(route("/users/{user.id}"), ("/users/{user_id}".into(), vec!["user.id".into()]));
        assert_eq!(route("/"), ("/".into(), vec![]));
    }
}
