//! `mockctl init [DIR] [--resource users:name,email] [--redis]`: a small, working
//! profile to start from — one resource with create, read, update, delete and a paged
//! list, its fields required, a seed record, an api key on writes, and a README that
//! says what each file does (JSON has no comments).

use anyhow::Context;
use clap::Args;
use serde_json::{Value, json};
use std::path::PathBuf;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mockctl init my-api --resource users:name,email
  mockctl init orders-mock --resource orders:customer,total --redis")]
pub struct InitArgs {
    /// The folder to create (default: ./my-api).
    #[arg(default_value = "my-api")]
    pub dir: PathBuf,
    /// The resource: a plural name and its required fields, e.g. `users:name,email`.
    #[arg(long, default_value = "items:name")]
    pub resource: String,
    /// Ask for Redis (the embedded file store is used when none is configured or answers).
    #[arg(long)]
    pub redis: bool,
}

pub fn run(args: InitArgs) -> anyhow::Result<()> {
    let (entity, fields) = parse_resource(&args.resource)?;
    if args.dir.join("endpoints.json").exists() {
        anyhow::bail!("{} already holds a profile; choose another folder", args.dir.display());
    }
    std::fs::create_dir_all(&args.dir).with_context(|| format!("Failed to create {}", args.dir.display()))?;
    let name = args.dir.file_name().map_or("my-api".into(), |n| n.to_string_lossy().into_owned());
    let api_key = format!("{name}-key-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let system_key = format!("{name}-system-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let files = [
        ("api.json", api(&name, &entity, &fields, args.redis, &system_key)),
        (
            "auth.json",
            json!({"authentication_methods": {"api_key": {"type": "api_key", "name": "X-API-Key", "location": "header", "valid_keys": [api_key]}}}),
        ),
        ("endpoints.json", endpoints(&entity, &fields)),
    ];
    for (file, value) in files {
        let path = args.dir.join(file);
        std::fs::write(&path, serde_json::to_string_pretty(&value)? + "\n")
            .with_context(|| format!("Failed to write {}", path.display()))?;
    }
    let readme = readme(&name, &entity, &fields, &api_key, &system_key, &args.dir);
    std::fs::write(args.dir.join("README.md"), readme)?;
    println!("created the profile {} ({entity}: {})", args.dir.display(), fields.join(", "));
    println!("  start it with: mockctl start {}", args.dir.display());
    println!("  try:           curl -H 'X-API-Key: {api_key}' -H 'Content-Type: application/json' \\");
    println!("                      -d '{}' http://127.0.0.1:8000/api/{entity}", example(&fields));
    Ok(())
}

fn parse_resource(spec: &str) -> anyhow::Result<(String, Vec<String>)> {
    let (entity, fields) = spec.split_once(':').unwrap_or((spec, "name"));
    let ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let fields: Vec<String> = fields.split(',').map(|f| f.trim().to_owned()).filter(|f| !f.is_empty()).collect();
    if !ok(entity) || fields.is_empty() || !fields.iter().all(|f| ok(f)) {
        anyhow::bail!("--resource {spec:?}: expected a plural name and fields, such as users:name,email");
    }
    Ok((entity.to_owned(), fields))
}

fn example(fields: &[String]) -> String {
    let body: serde_json::Map<String, Value> = fields
        .iter()
        .map(|f| {
            (f.clone(), Value::String(if f.contains("email") { "ada@example.com".into() } else { format!("a {f}") }))
        })
        .collect();
    Value::Object(body).to_string()
}

fn api(name: &str, entity: &str, fields: &[String], redis: bool, system_key: &str) -> Value {
    let mut seed = serde_json::Map::new();
    seed.insert("id".into(), json!("1"));
    for f in fields {
        seed.insert(
            f.clone(),
            json!(if f.contains("email") { "first@example.com".to_owned() } else { format!("first {f}") }),
        );
    }
    json!({
        "name": format!("{name} API"),
        "version": "1.0.0",
        "description": format!("Made by mockctl init: {entity} with create, read, update, delete and a paged list."),
        "root_path": "/api",
        "persistence": if redis { "redis" } else { "file" },
        "system": {"api_keys": [system_key]},
        "data": {entity: [Value::Object(seed)]}
    })
}

fn endpoints(entity: &str, fields: &[String]) -> Value {
    let validation = json!({"required_fields": fields});
    let write = |method: &str, path: String, action: &str, extra: Value| {
        let mut persistence = json!({"entity_name": entity, "action": action});
        if let (Value::Object(p), Value::Object(e)) = (&mut persistence, extra) {
            p.extend(e);
        }
        json!({"method": method, "path": path, "authentication": ["api_key"], "persistence": persistence})
    };
    let one = format!("/{entity}/{{id}}");
    json!({"endpoints": [
        {"method": "GET", "path": format!("/{entity}"), "persistence": {"entity_name": entity, "action": "list",
            "pagination": {"enabled": true, "default_limit": 20, "max_limit": 100}}},
        {"method": "GET", "path": one, "persistence": {"entity_name": entity, "action": "read"}},
        write("POST", format!("/{entity}"), "create", json!({"validation": validation})),
        write("PUT", one.clone(), "update", json!({"validation": validation})),
        write("PATCH", one.clone(), "update", json!({"merge_strategy": "merge"})),
        write("DELETE", one, "delete", json!({})),
    ]})
}

fn readme(
    name: &str,
    entity: &str,
    fields: &[String],
    api_key: &str,
    system_key: &str,
    dir: &std::path::Path,
) -> String {
    format!(
        "# {name}: a mockgate profile\n\n\
         Made by `mockctl init`. Start it with `mockctl start {dir}`; the Swagger UI is at\n\
         http://127.0.0.1:8000/docs/.\n\n\
         - `api.json`: the API's name, `root_path` (`/api`), where data lives (`persistence`), the\n  \
         `/system` key (`{system_key}`), and the seed data loaded on first start and on reset.\n\
         - `auth.json`: the api key writes need, sent as `X-API-Key: {api_key}`.\n\
         - `endpoints.json`: `GET /api/{entity}` (paged: `?limit=&offset=`, filters such as\n  \
         `?{f0}=...`, `?search=`, `?sort=-{f0}`), `GET /api/{entity}/{{id}}`, and with the key `POST`\n  \
         (fields {fields} required), `PUT` (replace), `PATCH` (merge) and `DELETE`.\n\n\
         Check an edit with `mockctl validate-config {dir}`; `mockctl start {dir} --watch` serves\n\
         each good edit at once.\n",
        dir = dir.display(),
        f0 = fields[0],
        fields = fields.join(", "),
    )
}
