//! `mockctl chaos add|list|delete|clear`: a running server's fault rules
//! (`/system/chaos`), per namespace.

use super::remote::{Remote, RemoteArgs};
use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mockctl chaos add --path /api/v1/orders --method POST --status 503 --response-header Retry-After=2 --times 2
  mockctl chaos add --route '/api/v1/orders/{id}' --delay '{\"lognormal\": {\"median_ms\": 300, \"sigma\": 0.5}}'
  mockctl chaos add --path /api/v1/users --probability 0.3 --seed 42 --fault connection_reset --namespace ci-17
  mockctl chaos add --path-prefix /api/v1 --rate-limit 10/1
  mockctl chaos list
  mockctl chaos clear")]
pub struct ChaosArgs {
    #[command(subcommand)]
    pub action: ChaosAction,
    /// The namespace whose rules (default: the default namespace's).
    #[arg(long, global = true)]
    pub namespace: Option<String>,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(Debug, Subcommand)]
pub enum ChaosAction {
    /// Add a rule; prints its id (and the seed chosen when none was given).
    Add(Box<AddArgs>),
    /// List the rules.
    List,
    /// Remove one rule.
    Delete { id: String },
    /// Remove every rule.
    Clear,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    #[arg(long)]
    pub method: Option<String>,
    /// An exact path, or a template such as /orders/{id}.
    #[arg(long)]
    pub path: Option<String>,
    #[arg(long)]
    pub path_prefix: Option<String>,
    /// The endpoint template that serves the request.
    #[arg(long)]
    pub route: Option<String>,
    /// A request header the rule requires, NAME=VALUE (repeatable).
    #[arg(long = "header", value_name = "NAME=VALUE")]
    pub headers: Vec<String>,
    /// From 0 to 1 (default 1).
    #[arg(long)]
    pub probability: Option<f64>,
    /// Replays the same decisions for the same requests.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Apply this many times, then retire.
    #[arg(long)]
    pub times: Option<u64>,
    #[arg(long)]
    pub ttl_seconds: Option<u64>,
    /// Milliseconds, or a delay object such as '{"uniform_ms": [100, 300]}'.
    #[arg(long)]
    pub delay: Option<String>,
    /// Answer with this status instead of the endpoint's.
    #[arg(long)]
    pub status: Option<u16>,
    /// The body of that answer (JSON).
    #[arg(long, requires = "status")]
    pub body: Option<String>,
    /// A header of that answer, NAME=VALUE (repeatable).
    #[arg(long = "response-header", value_name = "NAME=VALUE", requires = "status")]
    pub response_headers: Vec<String>,
    /// connection_reset, empty_response, malformed_chunk or random_data_then_close.
    #[arg(long)]
    pub fault: Option<String>,
    /// conflict or unavailable: the persistence action fails, nothing is written.
    #[arg(long)]
    pub store: Option<String>,
    /// REQUESTS/SECONDS, e.g. 10/1: 429 with Retry-After beyond it.
    #[arg(long, value_name = "REQUESTS/SECONDS")]
    pub rate_limit: Option<String>,
}

fn pairs(list: &[String], flag: &str) -> anyhow::Result<Map<String, Value>> {
    let mut m = Map::new();
    for text in list {
        match text.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                m.insert(k.to_owned(), Value::String(v.to_owned()));
            }
            _ => anyhow::bail!("{flag} {text:?}: expected NAME=VALUE"),
        }
    }
    Ok(m)
}

/// The rule `POST /system/chaos` takes.
fn rule(a: &AddArgs) -> anyhow::Result<Value> {
    let mut matcher = Map::new();
    let put = |m: &mut Map<String, Value>, k: &str, v: Option<Value>| {
        if let Some(v) = v {
            m.insert(k.to_owned(), v);
        }
    };
    put(&mut matcher, "method", a.method.clone().map(Value::String));
    put(&mut matcher, "path", a.path.clone().map(Value::String));
    put(&mut matcher, "path_prefix", a.path_prefix.clone().map(Value::String));
    put(&mut matcher, "route", a.route.clone().map(Value::String));
    if !a.headers.is_empty() {
        matcher.insert("header".into(), Value::Object(pairs(&a.headers, "--header")?));
    }
    let mut action = Map::new();
    if let Some(d) = &a.delay {
        let v: Value = serde_json::from_str(d).map_err(|e| anyhow::anyhow!("--delay is not a number or JSON: {e}"))?;
        action.insert("delay".into(), v);
    }
    put(&mut action, "status", a.status.map(Value::from));
    if let Some(b) = &a.body {
        let v: Value = serde_json::from_str(b).map_err(|e| anyhow::anyhow!("--body is not JSON: {e}"))?;
        action.insert("body".into(), v);
    }
    if !a.response_headers.is_empty() {
        action.insert("headers".into(), Value::Object(pairs(&a.response_headers, "--response-header")?));
    }
    put(&mut action, "fault", a.fault.clone().map(Value::String));
    put(&mut action, "store", a.store.clone().map(Value::String));
    if let Some(r) = &a.rate_limit {
        let parsed = r.split_once('/').and_then(|(n, s)| Some((n.parse::<u64>().ok()?, s.parse::<f64>().ok()?)));
        let Some((n, s)) = parsed else { anyhow::bail!("--rate-limit {r:?}: expected REQUESTS/SECONDS, e.g. 10/1") };
        action.insert("rate_limit".into(), json!({"requests": n, "per_seconds": s}));
    }
    let mut body = Map::new();
    body.insert("match".into(), Value::Object(matcher));
    body.insert("action".into(), Value::Object(action));
    put(&mut body, "probability", a.probability.map(Value::from));
    put(&mut body, "seed", a.seed.map(Value::from));
    put(&mut body, "times", a.times.map(Value::from));
    put(&mut body, "ttl_seconds", a.ttl_seconds.map(Value::from));
    Ok(Value::Object(body))
}

/// One rule on one line.
fn line(r: &Value) -> String {
    format!(
        "{}  match {}  action {}{}{}",
        r["id"].as_str().unwrap_or("?"),
        r["match"],
        r["action"],
        r["probability"].as_f64().map(|p| format!("  probability {p}")).unwrap_or_default(),
        r["times"].as_u64().map(|t| format!("  times {t}")).unwrap_or_default(),
    )
}

pub fn run(args: ChaosArgs) -> anyhow::Result<()> {
    let remote = Remote::connect(&args.remote)?;
    let ns = args.namespace.as_deref();
    let answer = match &args.action {
        ChaosAction::Add(a) => remote.call("POST", "/system/chaos", Some(&rule(a)?), ns)?,
        ChaosAction::List => remote.call("GET", "/system/chaos", None, ns)?,
        ChaosAction::Delete { id } => remote.call("DELETE", &format!("/system/chaos/{id}"), None, ns)?,
        ChaosAction::Clear => remote.call("DELETE", "/system/chaos", None, ns)?,
    };
    if args.remote.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    match &args.action {
        ChaosAction::Add(_) => {
            println!("added chaos rule {} (seed {})", answer["id"].as_str().unwrap_or("?"), answer["seed"])
        }
        ChaosAction::List => {
            let rules = answer["rules"].as_array().cloned().unwrap_or_default();
            if rules.is_empty() {
                println!("no chaos rules");
            }
            for r in &rules {
                println!("{}", line(r));
            }
        }
        ChaosAction::Delete { id } => println!("removed chaos rule {id}"),
        ChaosAction::Clear => println!("removed {} chaos rule(s)", answer["removed"]),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(subcommand)]
        a: ChaosAction,
    }

    #[test]
    fn flags_become_a_rule() {
        let w = Wrap::parse_from([
            "x",
            "add",
            "--path",
            "/orders/{id}",
            "--status",
            "503",
            "--response-header",
            "Retry-After=2",
            "--times",
            "2",
            "--rate-limit",
            "10/1",
            "--delay",
            "250",
        ]);
        let ChaosAction::Add(a) = w.a else { panic!() };
        assert_eq!(
            rule(&a).unwrap(),
            json!({"match": {"path": "/orders/{id}"}, "times": 2, "action": {
                "delay": 250, "status": 503, "headers": {"Retry-After": "2"}, "rate_limit": {"requests": 10, "per_seconds": 1.0}}})
        );
        assert!(Wrap::try_parse_from(["x", "add", "--body", "{}"]).is_err(), "a body needs a status");
    }
}
