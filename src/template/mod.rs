//! Templates: every string in a response body, header, status code or persistence
//! `data` block, compiled once when the profile loads.
//!
//! Compilation sorts each string into one of four shapes:
//! - no template syntax at all: kept as a literal, rendering just clones it;
//! - exactly one `{{expr}}`: *typed*, so `"{{stored_entity}}"` renders the object
//!   itself and `"{{entity_count}}"` a number;
//! - text mixed with `{{expr}}` and `{param}` references: interpolated into a string;
//! - anything using Handlebars blocks (`{{#if}}`, `{{#each}}`, ...): registered with
//!   Handlebars and rendered by it, with the function-call and infix forms rewritten to Handlebars syntax.
//!
//! The first three never touch Handlebars at request time. Rendering is always one
//! pass over the compiled form, so values that come from a request are data and are
//! never parsed as template source.

mod expr;
mod func;

pub use expr::{Base, Expr, Path};
pub use func::{EvalError, Func, iso, iso_ms};

use crate::json::{push_text, to_text};
use chrono::{DateTime, Utc};
use handlebars::{Context, Handlebars, Helper, HelperDef, RenderContext, RenderError as HbError, ScopedJson};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::cell::OnceCell;

/// A compiled string template.
#[derive(Debug, Clone)]
pub enum Template {
    /// No template syntax.
    Literal(String),
    /// One expression and nothing else: renders to that expression's JSON value.
    Typed(Expr),
    /// Text and expressions: renders to a string.
    Interp(Vec<Part>),
    /// Rendered by Handlebars; the name it is registered under.
    Handlebars(String),
}

#[derive(Debug, Clone)]
pub enum Part {
    Text(String),
    Expr(Expr),
}

/// A compiled JSON tree whose strings may be templates.
#[derive(Debug, Clone)]
pub enum Body {
    /// A subtree without any template: cloned as is.
    Lit(Value),
    Str(Template),
    Array(Vec<Body>),
    Object(Vec<(String, Body)>),
}

/// A template could not be rendered with this request's values.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("in `{{{{{expr}}}}}`: {source}")]
    Eval { expr: String, source: EvalError },
    #[error("template rendering failed: {0}")]
    Handlebars(String),
}

/// The Handlebars registry, built while the profile loads and read-only afterwards.
pub struct TemplateEngine {
    hb: Handlebars<'static>,
}

impl std::fmt::Debug for TemplateEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateEngine").finish_non_exhaustive()
    }
}

impl Default for TemplateEngine {
    fn default() -> Self {
        Self::new()
    }
}

impl TemplateEngine {
    pub fn new() -> Self {
        let mut hb = Handlebars::new();
        // Responses are JSON, not HTML: `a&b` must stay `a&b`.
        hb.register_escape_fn(handlebars::no_escape);
        for f in func::ALL {
            hb.register_helper(f.name(), Box::new(HelperBridge(f)));
        }
        TemplateEngine { hb }
    }

    /// Compiles one string. `params` are the endpoint's path parameter names, which
    /// single-brace references (`{user_id}`) may use.
    pub fn compile(&mut self, src: &str, params: &[String]) -> Result<Template, String> {
        let pieces = scan(src, params)?;
        if pieces.iter().any(|p| matches!(p, Piece::Block(_))) {
            return self.compile_handlebars(src, &pieces);
        }
        let mut parts: Vec<Part> = Vec::with_capacity(pieces.len());
        for piece in pieces {
            match piece {
                Piece::Text(t) => parts.push(Part::Text(t)),
                Piece::Expr(e) => parts.push(Part::Expr(e)),
                Piece::Block(_) => unreachable!("handled above"),
            }
        }
        Ok(match parts.as_slice() {
            [] => Template::Literal(String::new()),
            [Part::Text(t)] => Template::Literal(t.clone()),
            [Part::Expr(e)] => Template::Typed(e.clone()),
            _ => Template::Interp(parts),
        })
    }

    fn compile_handlebars(&mut self, src: &str, pieces: &[Piece]) -> Result<Template, String> {
        let mut text = String::with_capacity(src.len() + 16);
        for piece in pieces {
            match piece {
                Piece::Text(t) => text.push_str(t),
                Piece::Expr(e) => {
                    text.push_str("{{");
                    text.push_str(&e.to_handlebars(true));
                    text.push_str("}}");
                }
                Piece::Block(b) => text.push_str(b),
            }
        }
        let name = format!("t{}", self.hb.get_templates().len());
        self.hb.register_template_string(&name, &text).map_err(|e| format!("invalid Handlebars template: {e}"))?;
        Ok(Template::Handlebars(name))
    }

    /// Compiles a JSON tree; subtrees without templates stay plain values.
    pub fn compile_body(&mut self, value: &Value, params: &[String]) -> Result<Body, (String, String)> {
        self.compile_at(value, params, String::new())
    }

    fn compile_at(&mut self, value: &Value, params: &[String], at: String) -> Result<Body, (String, String)> {
        Ok(match value {
            Value::String(s) => match self.compile(s, params).map_err(|e| (at, e))? {
                Template::Literal(_) => Body::Lit(value.clone()),
                t => Body::Str(t),
            },
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(self.compile_at(item, params, format!("{at}[{i}]"))?);
                }
                if out.iter().all(|b| matches!(b, Body::Lit(_))) { Body::Lit(value.clone()) } else { Body::Array(out) }
            }
            Value::Object(map) => {
                let mut out = Vec::with_capacity(map.len());
                for (k, v) in map {
                    out.push((k.clone(), self.compile_at(v, params, format!("{at}.{k}"))?));
                }
                if out.iter().all(|(_, b)| matches!(b, Body::Lit(_))) {
                    Body::Lit(value.clone())
                } else {
                    Body::Object(out)
                }
            }
            other => Body::Lit(other.clone()),
        })
    }
}

/// One piece of a scanned template string.
enum Piece {
    Text(String),
    Expr(Expr),
    /// A Handlebars construct that only Handlebars can render, kept verbatim.
    Block(String),
}

fn scan(src: &str, params: &[String]) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = src;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("{{") {
            let end = after.find("}}").ok_or_else(|| format!("unclosed `{{{{` in {src:?}"))?;
            let mut inner = &after[..end];
            let mut consumed = 2 + end + 2;
            // Triple-stash `{{{x}}}` means the same as `{{x}}` here (nothing is escaped).
            if inner.starts_with('{') && after[end + 2..].starts_with('}') {
                inner = &inner[1..];
                consumed += 1;
            }
            let trimmed = inner.trim();
            // A partial names a template that is never registered: it could only fail
            // at request time.
            if trimmed.starts_with('>') || trimmed.starts_with("#>") {
                return Err(format!("partials are not supported: `{{{{{trimmed}}}}}`"));
            }
            if let Some(helper) = trimmed.strip_prefix('#').filter(|h| BLOCKS_WITH_VALUE.contains(&h.trim())) {
                return Err(format!(
                    "`{{{{{trimmed}}}}}` needs a value to test or walk, as in `{{{{#{} request.x}}}}`",
                    helper.trim()
                ));
            }
            if is_block(trimmed) {
                flush(&mut text, &mut pieces);
                pieces.push(Piece::Block(rest[..consumed].to_owned()));
            } else {
                let e = expr::parse(trimmed).map_err(|e| format!("cannot read `{{{{{trimmed}}}}}`: {e}"))?;
                flush(&mut text, &mut pieces);
                pieces.push(Piece::Expr(e));
            }
            rest = &rest[consumed..];
        } else if let Some(name) = single_brace_param(rest, params) {
            flush(&mut text, &mut pieces);
            pieces.push(Piece::Expr(expr::path(&format!("request.path.{name}"))));
            rest = &rest[name.len() + 2..];
        } else {
            let ch = rest.chars().next().expect("rest is not empty");
            text.push(ch);
            rest = &rest[ch.len_utf8()..];
        }
    }
    flush(&mut text, &mut pieces);
    Ok(pieces)
}

fn flush(text: &mut String, pieces: &mut Vec<Piece>) {
    if !text.is_empty() {
        pieces.push(Piece::Text(std::mem::take(text)));
    }
}

/// Block helpers that cannot run without an argument.
const BLOCKS_WITH_VALUE: [&str; 4] = ["if", "unless", "each", "with"];

fn is_block(inner: &str) -> bool {
    inner.starts_with(['#', '/', '^', '!', '>', '~', '&']) || inner == "else" || inner.starts_with("else ")
}

/// `{user_id}` where `user_id` is one of the endpoint's path parameters.
fn single_brace_param<'a>(rest: &str, params: &'a [String]) -> Option<&'a str> {
    let inner = rest.strip_prefix('{')?;
    params.iter().find(|p| inner.starts_with(p.as_str()) && inner[p.len()..].starts_with('}')).map(String::as_str)
}

/// What a request contributes to templates, with every part already a JSON value.
#[derive(Debug, Clone)]
pub struct RequestData {
    pub method: Value,
    /// The parsed body, or `null`.
    pub body: Value,
    /// Query parameters (strings).
    pub query: Value,
    /// Headers with lower-case names.
    pub headers: Value,
    /// Path parameters (strings).
    pub params: Value,
    /// The authenticated session entity (`{{session_data.x}}`), or `null`.
    pub session: Value,
}

impl Default for RequestData {
    fn default() -> Self {
        RequestData {
            method: Value::String("GET".into()),
            body: Value::Null,
            query: Value::Object(Map::new()),
            headers: Value::Object(Map::new()),
            params: Value::Object(Map::new()),
            session: Value::Null,
        }
    }
}

impl RequestData {
    /// `request.x`: the body field, then the query parameter, then the path parameter.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.body.get(name).or_else(|| self.query.get(name)).or_else(|| self.params.get(name))
    }
}

static NULL: Value = Value::Null;

/// Everything a template can see while one request renders.
pub struct RenderCtx<'a> {
    pub request: &'a RequestData,
    /// Persistence results and other variables (`stored_entity`, `generated_id`, ...).
    pub vars: &'a Map<String, Value>,
    /// The request's clock reading, shared by every time helper.
    pub now: DateTime<Utc>,
    pub engine: &'a TemplateEngine,
    /// The Handlebars context, built on first use only.
    hb_context: OnceCell<Context>,
}

impl<'a> RenderCtx<'a> {
    pub fn new(
        request: &'a RequestData,
        vars: &'a Map<String, Value>,
        now: DateTime<Utc>,
        engine: &'a TemplateEngine,
    ) -> Self {
        RenderCtx { request, vars, now, engine, hb_context: OnceCell::new() }
    }

    fn lookup(&self, p: &Path) -> &Value {
        let r = self.request;
        let base = match &p.base {
            Base::RequestField(f) => r.field(f),
            Base::RequestBody => Some(&r.body),
            Base::RequestQuery => Some(&r.query),
            Base::RequestHeaders => Some(&r.headers),
            Base::RequestPath => Some(&r.params),
            Base::RequestMethod => Some(&r.method),
            Base::Var(name) => {
                self.vars.get(name.as_str()).or_else(|| (name == "session_data").then_some(&self.request.session))
            }
        };
        base.and_then(|v| crate::json::walk(v, p.rest.iter().map(String::as_str))).unwrap_or(&NULL)
    }

    fn eval<'e>(&'e self, e: &'e Expr) -> Result<Cow<'e, Value>, EvalError> {
        match e {
            Expr::Lit(v) => Ok(Cow::Borrowed(v)),
            Expr::Path(p) => Ok(Cow::Borrowed(self.lookup(p))),
            Expr::Call(f, args) => {
                let vals = args.iter().map(|a| self.eval(a)).collect::<Result<Vec<_>, _>>()?;
                let refs: Vec<&Value> = vals.iter().map(|c| c.as_ref()).collect();
                f.apply(&refs, self.now).map(Cow::Owned)
            }
        }
    }

    fn eval_expr(&self, e: &Expr) -> Result<Value, RenderError> {
        self.eval(e).map(Cow::into_owned).map_err(|source| RenderError::Eval { expr: e.to_handlebars(true), source })
    }

    fn handlebars(&self, name: &str) -> Result<String, RenderError> {
        let ctx =
            self.hb_context.get_or_init(|| Context::wraps(self.handlebars_data()).expect("a JSON value always wraps"));
        self.engine.hb.render_with_context(name, ctx).map_err(|e| RenderError::Handlebars(e.to_string()))
    }

    fn handlebars_data(&self) -> Value {
        let r = self.request;
        let mut request = Map::new();
        for source in [&r.params, &r.query, &r.body] {
            if let Value::Object(m) = source {
                for (k, v) in m {
                    request.insert(k.clone(), v.clone());
                }
            }
        }
        request.insert("body".into(), r.body.clone());
        request.insert("query".into(), r.query.clone());
        request.insert("headers".into(), r.headers.clone());
        request.insert("path".into(), r.params.clone());
        request.insert("method".into(), r.method.clone());
        let mut root = self.vars.clone();
        root.insert("request".into(), Value::Object(request));
        root.entry("session_data").or_insert_with(|| r.session.clone());
        root.insert(NOW_KEY.into(), Value::from(self.now.timestamp_millis()));
        Value::Object(root)
    }
}

/// Where Handlebars helpers find the request's clock.
const NOW_KEY: &str = "__mockgate_now_ms";

impl Template {
    /// Renders to a JSON value: typed templates keep their value's type.
    pub fn render(&self, cx: &RenderCtx<'_>) -> Result<Value, RenderError> {
        match self {
            Template::Typed(e) => cx.eval_expr(e),
            _ => self.render_string(cx).map(Value::String),
        }
    }

    /// Renders to text (headers, interpolated strings).
    pub fn render_string(&self, cx: &RenderCtx<'_>) -> Result<String, RenderError> {
        match self {
            Template::Literal(s) => Ok(s.clone()),
            Template::Typed(e) => Ok(to_text(&cx.eval_expr(e)?)),
            Template::Interp(parts) => {
                let mut out = String::new();
                for part in parts {
                    match part {
                        Part::Text(t) => out.push_str(t),
                        Part::Expr(e) => {
                            let v = cx
                                .eval(e)
                                .map_err(|source| RenderError::Eval { expr: e.to_handlebars(true), source })?;
                            push_text(&mut out, &v);
                        }
                    }
                }
                Ok(out)
            }
            Template::Handlebars(name) => cx.handlebars(name),
        }
    }
}

impl Body {
    pub fn render(&self, cx: &RenderCtx<'_>) -> Result<Value, RenderError> {
        Ok(match self {
            Body::Lit(v) => v.clone(),
            Body::Str(t) => t.render(cx)?,
            Body::Array(items) => Value::Array(items.iter().map(|b| b.render(cx)).collect::<Result<_, _>>()?),
            Body::Object(fields) => {
                let mut m = Map::with_capacity(fields.len());
                for (k, b) in fields {
                    m.insert(k.clone(), b.render(cx)?);
                }
                Value::Object(m)
            }
        })
    }
}

/// Makes a [`Func`] callable from Handlebars, including as a subexpression.
struct HelperBridge(Func);

impl HelperDef for HelperBridge {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, HbError> {
        let args: Vec<&Value> = h.params().iter().map(|p| p.value()).collect();
        let (min, max) = self.0.arity();
        if args.len() < min || args.len() > max {
            return Err(handlebars::RenderErrorReason::Other(format!(
                "`{}` takes {min} to {max} argument(s), got {}",
                self.0.name(),
                args.len()
            ))
            .into());
        }
        let now = ctx
            .data()
            .get(NOW_KEY)
            .and_then(Value::as_i64)
            .and_then(DateTime::from_timestamp_millis)
            .unwrap_or_else(Utc::now);
        let v = self.0.apply(&args, now).map_err(|e| handlebars::RenderErrorReason::Other(e.to_string()))?;
        Ok(ScopedJson::Derived(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request() -> RequestData {
        RequestData {
            method: json!("POST"),
            body: json!({"name": "Ada", "quantity": 3, "tags": ["a", "b"]}),
            query: json!({"limit": "10", "name": "from-query"}),
            headers: json!({"x-request-id": "r-1"}),
            params: json!({"user_id": "u42"}),
            session: json!({"id": "s1", "user_id": "ada"}),
        }
    }

    fn render(src: &Value, vars: Value) -> Value {
        let mut engine = TemplateEngine::new();
        let body = engine.compile_body(src, &["user_id".to_owned()]).expect("compiles");
        let req = request();
        let vars = vars.as_object().cloned().unwrap_or_default();
        let now = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z").unwrap().with_timezone(&Utc);
        let cx = RenderCtx::new(&req, &vars, now, &engine);
        body.render(&cx).expect("renders")
    }

    #[test]
    fn typed_substitution_keeps_json_types() {
        let out = render(
            &json!({"user": "{{stored_entity}}", "total": "{{entity_count}}", "more": "{{has_more_entities}}", "q": "{{request.quantity}}"}),
            json!({"stored_entity": {"id": "1", "n": 2}, "entity_count": 7, "has_more_entities": false}),
        );
        assert_eq!(out, json!({"user": {"id": "1", "n": 2}, "total": 7, "more": false, "q": 3}));
    }

    #[test]
    fn request_names_resolve_body_then_query_then_path() {
        let out = render(
            &json!([
                "{{request.name}}",
                "{{request.limit}}",
                "{{request.user_id}}",
                "{{request.query.name}}",
                "{{request.headers.X-Request-Id}}",
                "{{request.missing}}"
            ]),
            json!({}),
        );
        assert_eq!(out, json!(["Ada", "10", "u42", "from-query", "r-1", null]));
    }

    #[test]
    fn single_brace_path_params_and_interpolation() {
        let out = render(
            &json!({"id": "{user_id}", "msg": "user {user_id} has {{request.quantity}} items", "other": "{not_a_param}"}),
            json!({}),
        );
        assert_eq!(out, json!({"id": "u42", "msg": "user u42 has 3 items", "other": "{not_a_param}"}));
    }

    #[test]
    fn seed_arithmetic_and_helpers() {
        let out = render(
            &json!({"left": "{{current.quantity - request.quantity}}", "h": "{{subtract current.quantity request.quantity}}", "exp": "{{timestamp_plus_seconds(60)}}"}),
            json!({"current": {"quantity": 10}}),
        );
        assert_eq!(out, json!({"left": 7, "h": 7, "exp": "2026-01-02T03:05:05.000Z"}));
    }

    #[test]
    fn handlebars_blocks_render_with_the_same_helpers() {
        let out = render(
            &json!(
                "{{#if request.name}}hi {{request.name}} ({{current.quantity - request.quantity}} left) #{user_id}{{/if}}"
            ),
            json!({"current": {"quantity": 10}}),
        );
        assert_eq!(out, json!("hi Ada (7 left) #u42"));
    }

    #[test]
    fn request_values_are_never_template_source() {
        let mut engine = TemplateEngine::new();
        let t = engine.compile("{{request.name}}!", &[]).unwrap();
        let req = RequestData { body: json!({"name": "{{random_uuid}}"}), ..RequestData::default() };
        let vars = Map::new();
        let cx = RenderCtx::new(&req, &vars, Utc::now(), &engine);
        assert_eq!(t.render(&cx).unwrap(), json!("{{random_uuid}}!"));
    }

    #[test]
    fn html_is_not_escaped() {
        assert_eq!(render(&json!("{{#if true}}{{request.name}} & <b>{{/if}}"), json!({})), json!("Ada & <b>"));
    }

    #[test]
    fn bad_templates_fail_at_compile_time() {
        let mut engine = TemplateEngine::new();
        for src in ["{{unclosed", "{{a +}}", "{{nope(1)}}", "{{#if x}}no end"] {
            assert!(engine.compile(src, &[]).is_err(), "{src} should not compile");
        }
    }
}
