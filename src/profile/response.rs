//! One entry of an endpoint's `responses`: conditions that select it, an optional
//! persistence action of its own, and the status, headers and body it renders.

use crate::config::{CompileCx, ResponseRuleDef};
use crate::persistence::Persist;
use crate::routing::Conditions;
use crate::template::{Body, Template};
use serde_json::Value;

/// One entry of `responses`.
#[derive(Debug)]
pub struct ResponseRule {
    pub conditions: Conditions,
    /// Runs only when this rule is chosen (after the endpoint's own action).
    pub persistence: Option<Persist>,
    pub status: StatusSpec,
    pub headers: Vec<(String, Template)>,
    pub body: Option<Body>,
    /// The body as written: the example in the OpenAPI document.
    pub example: Option<Value>,
    /// Whether the body mentions an action's results (`stored_entity`,
    /// `generated_id`, ...); one that does not is Mock-and-Roll's style, and a create
    /// adds what it stored to it.
    pub mentions_results: bool,
    /// Whether the body or a header holds a Mock-and-Roll `${auth.…}` placeholder.
    pub auth_placeholders: bool,
    /// Wait this long before answering with this rule (over the endpoint's delay).
    pub delay: Option<crate::chaos::Delay>,
    /// Answer with a broken connection instead (over the endpoint's fault).
    pub fault: Option<crate::chaos::Fault>,
    /// Send the body in pieces (over the endpoint's dribble).
    pub dribble: Option<crate::chaos::Dribble>,
    /// `response.schema`: what the answered body is made to conform to.
    pub shape: Option<super::shape::Shape>,
}

#[derive(Debug)]
pub enum StatusSpec {
    /// The persistence action's default (201 create, 204 delete, 200 otherwise).
    Default,
    Fixed(u16),
    Template(Template),
}

impl ResponseRule {
    pub fn parse(def: &ResponseRuleDef, at: &str, cx: &mut CompileCx<'_>) -> Option<ResponseRule> {
        let conditions = Conditions::parse(def, at, cx);
        let mut ok = conditions.is_some();
        let persistence = match &def.persistence {
            None => None,
            Some(p) => {
                let a = Persist::parse(p, &format!("{at}.persistence"), cx);
                ok &= a.is_some();
                a
            }
        };
        use crate::chaos::{Delay, Dribble, Fault, delay::EXPECTED};
        let delay = super::knob(def.delay.as_ref(), format!("{at}.delay"), Delay::parse, EXPECTED, cx, &mut ok);
        let fault = super::knob(def.fault.as_ref(), format!("{at}.fault"), Fault::parse, Fault::NAMES, cx, &mut ok);
        let dribble =
            super::knob(def.dribble.as_ref(), format!("{at}.dribble"), Dribble::parse, Dribble::EXPECTED, cx, &mut ok);
        let r = &def.response;
        let status = StatusSpec::parse(r.status_code.as_ref(), at, cx);
        ok &= status.is_some();
        let mut headers = Vec::with_capacity(r.headers.len());
        for (name, value) in &r.headers {
            let here = format!("{at}.response.headers.{name}");
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)) {
                cx.problem(&here, format!("bad header name {name:?}"), "a token of letters, digits and -");
                ok = false;
                continue;
            }
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(_) | Value::Bool(_) => value.to_string(),
                other => {
                    cx.problem(&here, format!("found {other}"), "a string");
                    ok = false;
                    continue;
                }
            };
            match cx.template(&text, &here) {
                Some(t) => headers.push((name.clone(), t)),
                None => ok = false,
            }
        }

        let body = cx.body(r.body.as_ref(), &format!("{at}.response.body"));
        ok &= body.is_some();
        let shape = match &r.schema {
            None | Some(Value::Null) => None,
            Some(s) => match jsonschema::options().build(s) {
                Ok(_) => Some(super::shape::Shape::parse(s)).filter(|s| !s.is_any()),
                Err(e) => {
                    cx.problem(format!("{at}.response.schema"), format!("invalid JSON Schema: {e}"), "");
                    ok = false;
                    None
                }
            },
        };
        ok.then(|| ResponseRule {
            conditions: conditions.unwrap_or_default(),
            persistence,
            status: status.unwrap_or(StatusSpec::Default),
            headers,
            body: body.flatten(),
            mentions_results: r.body.as_ref().is_some_and(|b| {
                let text = b.to_string();
                ["stored_entity", "generated_id", "entity_id", "entity_list", "previous_entity"]
                    .iter()
                    .any(|v| text.contains(v))
            }),
            auth_placeholders: r.body.as_ref().is_some_and(|b| b.to_string().contains("${auth."))
                || r.headers.values().any(|v| v.as_str().is_some_and(|h| h.contains("${auth."))),
            example: r.body.clone(),
            delay,
            fault,
            dribble,
            shape,
        })
    }
}

/// Why a 1xx status cannot answer a request: clients wait for the final response.
const INFORMATIONAL: &str = "a final status from 200 to 599 (1xx statuses are informational)";

/// The statuses a response may render to (a template checks at render time).
pub const FINAL_STATUSES: std::ops::RangeInclusive<u16> = 200..=599;

impl StatusSpec {
    /// `response.status_code`: a number, a numeric string, or a template; `None` when
    /// it is none of these (reported).
    fn parse(value: Option<&Value>, at: &str, cx: &mut CompileCx<'_>) -> Option<StatusSpec> {
        let at = format!("{at}.response.status_code");
        match value {
            None | Some(Value::Null) => Some(StatusSpec::Default),
            Some(Value::Number(n)) => match n.as_u64().filter(|s| (100..=599).contains(s)) {
                Some(s) if s < 200 => {
                    cx.problem(at, format!("found {s}"), INFORMATIONAL);
                    None
                }
                Some(s) => Some(StatusSpec::Fixed(s as u16)),
                None => {
                    cx.problem(at, format!("found {n}"), "an HTTP status from 100 to 599");
                    None
                }
            },
            Some(Value::String(s)) => match s.trim().parse::<u16>() {
                Ok(n) if (100..200).contains(&n) => {
                    cx.problem(at, format!("found {s:?}"), INFORMATIONAL);
                    None
                }
                Ok(n) if (200..=599).contains(&n) => Some(StatusSpec::Fixed(n)),
                _ => match cx.template(s, &at)? {
                    Template::Literal(_) => {
                        cx.problem(at, format!("found {s:?}"), "an HTTP status from 100 to 599, or a template");
                        None
                    }
                    t => Some(StatusSpec::Template(t)),
                },
            },
            Some(other) => {
                cx.problem(at, format!("found {other}"), "an HTTP status from 100 to 599");
                None
            }
        }
    }
}
