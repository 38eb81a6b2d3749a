//! `mockctl requests`, `mockctl verify` and `mockctl unmatched`: a running server's
//! request journal (`/system/requests`), from a terminal or a CI script.

use super::remote::{Remote, RemoteArgs};
use clap::Args;
use serde_json::{Map, Value};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mockctl requests --method POST --path /api/orders
  mockctl requests --status 5xx --since 10m --namespace ci-17
  mockctl requests --json")]
pub struct RequestsArgs {
    #[arg(long)]
    pub method: Option<String>,
    /// Exactly this path.
    #[arg(long)]
    pub path: Option<String>,
    /// Paths that start so.
    #[arg(long)]
    pub path_prefix: Option<String>,
    /// Requests served by this endpoint template, e.g. /api/orders/{id}.
    #[arg(long)]
    pub route: Option<String>,
    /// A status (404) or a class (4xx).
    #[arg(long)]
    pub status: Option<String>,
    /// An RFC 3339 time, or a duration back from now (10m, 2h).
    #[arg(long)]
    pub since: Option<String>,
    /// At most this many, newest first (default 100).
    #[arg(long)]
    pub limit: Option<usize>,
    /// The namespace's journal (default: the default namespace's).
    #[arg(long)]
    pub namespace: Option<String>,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(Debug, Args)]
#[command(after_help = "Exits 0 when verified; 1, with the closest requests and what differed, when not.

Examples:
  mockctl verify --method POST --path /api/orders --count 2
  mockctl verify --path /api/orders --body '{\"sku\": \"x\"}' --at-least 1
  mockctl verify --route '/api/orders/{id}' --json-path '$.items[0].qty=2' --namespace ci-17")]
pub struct VerifyArgs {
    #[arg(long)]
    pub method: Option<String>,
    /// Exactly this path.
    #[arg(long, conflicts_with_all = ["path_pattern", "route"])]
    pub path: Option<String>,
    /// A regular expression the whole path must match.
    #[arg(long, conflicts_with = "route")]
    pub path_pattern: Option<String>,
    /// The endpoint template that served it.
    #[arg(long)]
    pub route: Option<String>,
    /// A query parameter, `name=value` (repeatable).
    #[arg(long = "query", value_name = "NAME=VALUE")]
    pub query: Vec<String>,
    /// A request header, `name=value` (repeatable).
    #[arg(long = "header", value_name = "NAME=VALUE")]
    pub headers: Vec<String>,
    /// JSON the body must contain (objects as subsets, arrays and values exactly).
    #[arg(long)]
    pub body: Option<String>,
    /// A value at a JSON path of the body, `$.items[0].sku="x"` (the value is JSON,
    /// or text when it is not; repeatable).
    #[arg(long = "json-path", value_name = "PATH=VALUE")]
    pub json_paths: Vec<String>,
    /// Only requests since (RFC 3339, or a duration back from now such as 10m).
    #[arg(long)]
    pub since: Option<String>,
    /// Exactly this many.
    #[arg(long, conflicts_with_all = ["at_least", "at_most"])]
    pub count: Option<u64>,
    #[arg(long)]
    pub at_least: Option<u64>,
    #[arg(long)]
    pub at_most: Option<u64>,
    #[arg(long)]
    pub namespace: Option<String>,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(Debug, Args)]
pub struct UnmatchedArgs {
    /// At most this many, newest first (default 100).
    #[arg(long)]
    pub limit: Option<usize>,
    #[arg(long)]
    pub namespace: Option<String>,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `?a=1&b=x`, encoded; empty when there is nothing.
fn query_string(pairs: &[(&str, Option<String>)]) -> anyhow::Result<String> {
    let set: Vec<(&str, &str)> = pairs.iter().filter_map(|(k, v)| v.as_deref().map(|v| (*k, v))).collect();
    if set.is_empty() {
        return Ok(String::new());
    }
    Ok(format!("?{}", serde_urlencoded::to_string(&set)?))
}

/// One request on one line: time, method, path, status, latency, action, id.
fn line(r: &Value) -> String {
    let text = |k: &str| r[k].as_str().unwrap_or("").to_owned();
    let query = r["query"].as_object().filter(|q| !q.is_empty()).map(|q| {
        let pairs: Vec<String> = q.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect();
        format!("?{}", pairs.join("&"))
    });
    let action = r["action"].as_str().map(|a| format!("  ({a})")).unwrap_or_default();
    let latency = r["latency_ms"].as_f64().map(|l| format!("  {l:.1}ms")).unwrap_or_default();
    format!(
        "{}  {:<6} {}{}  {}{latency}{action}  [{}]",
        text("time"),
        text("method"),
        text("path"),
        query.unwrap_or_default(),
        r["status"],
        text("id")
    )
}

pub fn requests(args: RequestsArgs) -> anyhow::Result<()> {
    let remote = Remote::connect(&args.remote)?;
    let q = query_string(&[
        ("method", args.method.clone()),
        ("path", args.path.clone()),
        ("path_prefix", args.path_prefix.clone()),
        ("route", args.route.clone()),
        ("status", args.status.clone()),
        ("since", args.since.clone()),
        ("limit", args.limit.map(|l| l.to_string())),
    ])?;
    let answer = remote.call("GET", &format!("/system/requests{q}"), None, args.namespace.as_deref())?;
    if args.remote.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    let list = answer["requests"].as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        println!("no requests recorded{}", if q.is_empty() { "" } else { " that match" });
    }
    for r in &list {
        println!("{}", line(r));
    }
    if answer["total"].as_u64().is_some_and(|t| t as usize > list.len()) {
        println!("({} of {}; --limit shows more)", list.len(), answer["total"]);
    }
    Ok(())
}

/// `name=value` → (name, value).
fn pair(text: &str, flag: &str) -> anyhow::Result<(String, String)> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => anyhow::bail!("{flag} {text:?}: expected NAME=VALUE"),
    }
}

/// The pattern and expectation `POST /system/requests/verify` takes.
fn verify_body(args: &VerifyArgs) -> anyhow::Result<Value> {
    let mut body = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            body.insert(k.to_owned(), v);
        }
    };
    put("method", args.method.clone().map(Value::String));
    put("path", args.path.clone().map(Value::String));
    put("path_pattern", args.path_pattern.clone().map(Value::String));
    put("route", args.route.clone().map(Value::String));
    put("since", args.since.clone().map(Value::String));
    put("count", args.count.map(Value::from));
    put("at_least", args.at_least.map(Value::from));
    put("at_most", args.at_most.map(Value::from));
    if let Some(b) = &args.body {
        let v: Value = serde_json::from_str(b).map_err(|e| anyhow::anyhow!("--body is not JSON: {e}"))?;
        body.insert("body".into(), v);
    }
    for (flag, key, list) in [("--query", "query", &args.query), ("--header", "headers", &args.headers)] {
        if !list.is_empty() {
            let mut m = Map::new();
            for text in list {
                let (k, v) = pair(text, flag)?;
                m.insert(k, Value::String(v));
            }
            body.insert(key.into(), Value::Object(m));
        }
    }
    if !args.json_paths.is_empty() {
        let mut m = Map::new();
        for text in &args.json_paths {
            let (k, v) = pair(text, "--json-path")?;
            m.insert(k, serde_json::from_str(&v).unwrap_or(Value::String(v)));
        }
        body.insert("body_json_path".into(), Value::Object(m));
    }
    Ok(Value::Object(body))
}

pub fn verify(args: VerifyArgs) -> anyhow::Result<()> {
    let remote = Remote::connect(&args.remote)?;
    let body = verify_body(&args)?;
    let (status, answer) =
        remote.call_any("POST", "/system/requests/verify", Some(&body), args.namespace.as_deref())?;
    if args.remote.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    }
    match status {
        200 => {
            if !args.remote.json {
                println!("verified: {} matching request(s)", answer["count"]);
            }
            Ok(())
        }
        417 => {
            if !args.remote.json {
                print_failure(&answer);
            }
            anyhow::bail!("not verified: {} matching request(s), expected {}", answer["count"], answer["expected"])
        }
        _ => {
            let why = answer["error"]["message"].as_str().map_or_else(|| answer.to_string(), str::to_owned);
            let problems: Vec<String> = answer["error"]["violations"]
                .as_array()
                .map(|v| v.iter().map(|p| format!("{}: {}", p["path"].as_str().unwrap_or(""), p["message"])).collect())
                .unwrap_or_default();
            anyhow::bail!(
                "the server answered {status}: {why}{}",
                if problems.is_empty() { String::new() } else { format!(" ({})", problems.join("; ")) }
            )
        }
    }
}

fn print_failure(answer: &Value) {
    println!("not verified: {} matching request(s), expected {}", answer["count"], answer["expected"]);
    let misses = answer["near_misses"].as_array().cloned().unwrap_or_default();
    if !misses.is_empty() {
        println!("closest requests:");
    }
    for m in &misses {
        println!("  {}", line(&m["request"]));
        for d in m["differences"].as_array().into_iter().flatten() {
            let why = d["why"].as_str().map(|w| format!(" ({w})")).unwrap_or_default();
            println!("    {}: expected {}, got {}{why}", d["field"].as_str().unwrap_or(""), d["expected"], d["actual"]);
        }
    }
    for m in answer["matches"].as_array().into_iter().flatten() {
        println!("  matched: {}", line(m));
    }
}

pub fn unmatched(args: UnmatchedArgs) -> anyhow::Result<()> {
    let remote = Remote::connect(&args.remote)?;
    let q = query_string(&[("limit", args.limit.map(|l| l.to_string()))])?;
    let answer = remote.call("GET", &format!("/system/requests/unmatched{q}"), None, args.namespace.as_deref())?;
    if args.remote.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    let list = answer["requests"].as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        println!("no unmatched requests");
    }
    for r in &list {
        println!("{}  {}", line(r), r["reason"].as_str().unwrap_or(""));
        for c in r["closest"].as_array().into_iter().flatten() {
            let why: Vec<&str> = c["why"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            println!(
                "    closest: {} {}: {}",
                c["method"].as_str().unwrap_or(""),
                c["route"].as_str().unwrap_or(""),
                why.join("; ")
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use serde_json::json;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        v: VerifyArgs,
    }

    #[test]
    fn verify_flags_become_a_pattern() {
        let w = Wrap::parse_from([
            "x",
            "--method",
            "POST",
            "--path",
            "/orders",
            "--count",
            "2",
            "--body",
            r#"{"sku":"x"}"#,
            "--query",
            "a=1",
            "--json-path",
            "$.items[0].n=3",
            "--json-path",
            "$.note=hello",
        ]);
        assert_eq!(
            verify_body(&w.v).unwrap(),
            json!({
                "method": "POST", "path": "/orders", "count": 2, "body": {"sku": "x"}, "query": {"a": "1"},
                "body_json_path": {"$.items[0].n": 3, "$.note": "hello"},
            })
        );
        assert!(Wrap::try_parse_from(["x", "--path", "/a", "--route", "/a"]).is_err());
        let bad = Wrap::parse_from(["x", "--header", "novalue"]);
        assert!(verify_body(&bad.v).is_err());
    }
}
