//! An OpenAPI 3.0 / 3.1 or Swagger 2.0 document read into one model: its operations
//! with their parameters, bodies, responses and security, every schema converted to
//! JSON Schema. Swagger 2.0's `body` / `formData` parameters, `definitions`,
//! `securityDefinitions` and `basePath` land where OpenAPI 3 puts them.

use super::doc::{Docs, ImportError, escape};
use super::schema::{Converter, Side, kind};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

pub const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// The document, read.
#[derive(Debug, Default)]
pub struct Spec {
    pub version: String,
    pub title: String,
    pub api_version: String,
    pub description: Option<String>,
    /// The first server's path (`/v1`), or Swagger 2.0's `basePath`.
    pub root_path: String,
    pub ops: Vec<Op>,
    pub schemes: Vec<Scheme>,
}

#[derive(Debug, Clone, Default)]
pub struct Op {
    /// Upper-case.
    pub method: String,
    pub path: String,
    /// `#/paths/~1pets/get`, for reports.
    pub at: String,
    pub operation_id: Option<String>,
    pub summary: Option<String>,
    pub tags: Vec<String>,
    pub params: Vec<Param>,
    pub body: Option<Body>,
    pub responses: Vec<Response>,
    /// Alternatives, each a list of (scheme, scopes) that must all hold.
    pub security: Vec<Vec<(String, Vec<String>)>>,
    /// `x-mockgate-*` of the operation, then of its path item (the operation's win).
    pub ext: Map<String, Value>,
}

#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    /// `path`, `query`, `header` or `cookie`.
    pub location: String,
    pub required: bool,
    pub schema: Value,
}

#[derive(Debug, Clone)]
pub struct Body {
    /// The media type read: JSON when the operation accepts it.
    pub media: String,
    pub json: bool,
    pub required: bool,
    pub schema: Value,
}

#[derive(Debug, Clone)]
pub struct Response {
    /// `200`; `None` for `default`.
    pub status: Option<u16>,
    pub media: Option<String>,
    pub json: bool,
    pub schema: Option<Value>,
    pub example: Option<Value>,
    /// Documented headers and their schemas.
    pub headers: Vec<(String, Value)>,
}

/// A security scheme as the document defines it.
#[derive(Debug, Clone)]
pub struct Scheme {
    pub name: String,
    pub kind: SchemeKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemeKind {
    /// Header, query or cookie, and its name.
    ApiKey {
        location: String,
        name: String,
    },
    Basic,
    /// HTTP bearer, OAuth 2 or OpenID Connect: bearer tokens with scopes.
    Bearer {
        scopes: Vec<String>,
    },
    Unsupported(String),
}

pub fn is_json(media: &str) -> bool {
    let m = media.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    m == "application/json" || m.ends_with("+json") || m == "*/*" || m == "text/json"
}

/// Reads the document at `root`.
pub fn read(docs: &mut Docs, conv: &mut Converter, root: &Path) -> Result<Spec, ImportError> {
    let doc = docs.get(root).clone();
    let Value::Object(top) = &doc else {
        return Err(ImportError::at(root, "", format!("found {}", kind(&doc)), "an OpenAPI document (an object)"));
    };
    let (version, swagger2) = match (top.get("openapi"), top.get("swagger")) {
        (Some(Value::String(v)), _) if v.starts_with("3.") => (v.clone(), false),
        (_, Some(Value::String(v))) if v.starts_with("2.") => (v.clone(), true),
        (Some(v), _) => {
            return Err(ImportError::at(root, "/openapi", format!("found {v}"), "\"3.0.x\" or \"3.1.x\""));
        }
        (_, Some(v)) => return Err(ImportError::at(root, "/swagger", format!("found {v}"), "\"2.0\"")),
        _ => {
            return Err(ImportError::at(
                root,
                "",
                "no `openapi` or `swagger` version",
                "an OpenAPI 3.x or Swagger 2.0 document",
            ));
        }
    };
    let info = top.get("info").cloned().unwrap_or_default();
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let root_path = if swagger2 {
        text(&doc, "basePath").unwrap_or_default()
    } else {
        top.get("servers")
            .and_then(|s| s.get(0))
            .and_then(|s| s.get("url"))
            .and_then(Value::as_str)
            .map(server_path)
            .unwrap_or_default()
    };
    let root_path = root_path.trim_end_matches('/').to_owned();
    let mut spec = Spec {
        version,
        title: text(&info, "title").unwrap_or_else(|| "Imported API".into()),
        api_version: info.get("version").map(crate::json::to_text).unwrap_or_else(|| "1.0.0".into()),
        description: text(&info, "description"),
        root_path,
        ..Spec::default()
    };
    spec.schemes = schemes(&doc, swagger2);
    let global_security = security(top.get("security"));
    let produces = strings(top.get("produces"));
    let consumes = strings(top.get("consumes"));
    let Some(paths) = top.get("paths") else { return Ok(spec) };
    let Value::Object(paths) = paths else {
        return Err(ImportError::at(root, "/paths", format!("found {}", kind(paths)), "an object of paths"));
    };
    for (path, item) in paths {
        let item_at = format!("/paths/{}", escape(path));
        if !path.starts_with('/') {
            return Err(ImportError::at(root, &item_at, format!("path {path:?}"), "a path starting with /"));
        }
        let (item_file, item) = deref(docs, root, &item_at, item)?;
        let Value::Object(item) = &item else {
            return Err(ImportError::at(&item_file, &item_at, format!("found {}", kind(&item)), "a path item object"));
        };
        let shared = item.get("parameters").cloned().unwrap_or(Value::Array(vec![]));
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let at = format!("{item_at}/{method}");
            let Value::Object(o) = op else {
                return Err(ImportError::at(&item_file, &at, format!("found {}", kind(op)), "an operation object"));
            };
            let mut ext: Map<String, Value> =
                o.iter().filter(|(k, _)| k.starts_with("x-mockgate-")).map(|(k, v)| (k.clone(), v.clone())).collect();
            for (k, v) in item.iter().filter(|(k, _)| k.starts_with("x-mockgate-")) {
                ext.entry(k.clone()).or_insert_with(|| v.clone());
            }
            let mut cx = OpCx { docs: &mut *docs, conv: &mut *conv, file: &item_file, at: &at, swagger2 };
            let mut params = Vec::new();
            let mut body = None;
            let mut form = Map::new();
            let mut form_required = Vec::new();
            // Path-item parameters first; the operation's replace those with the same name and place.
            let own = o.get("parameters").cloned().unwrap_or(Value::Array(vec![]));
            for (list, list_at) in [(&shared, format!("{item_at}/parameters")), (&own, format!("{at}/parameters"))] {
                let Value::Array(list) = list else {
                    return Err(ImportError::at(&item_file, &list_at, format!("found {}", kind(list)), "an array"));
                };
                for (i, p) in list.iter().enumerate() {
                    let p_at = format!("{list_at}/{i}");
                    let (p_file, p) = deref(cx.docs, &item_file, &p_at, p)?;
                    let name = p.get("name").and_then(Value::as_str);
                    let location = p.get("in").and_then(Value::as_str);
                    let (Some(name), Some(location)) = (name, location) else {
                        return Err(ImportError::at(&p_file, &p_at, "a parameter without name or in", "name and in"));
                    };
                    let required = p.get("required") == Some(&Value::Bool(true));
                    match location {
                        "body" if swagger2 => {
                            let schema = p.get("schema").cloned().unwrap_or(Value::Object(Map::new()));
                            let schema =
                                cx.conv.convert(cx.docs, &p_file, &format!("{p_at}/schema"), &schema, Side::Request)?;
                            let media = consumes.iter().find(|m| is_json(m)).cloned();
                            let json = media.is_some() || consumes.is_empty();
                            let media = media.unwrap_or_else(|| "application/json".into());
                            body = Some(Body { media, json, required, schema });
                        }
                        "formData" if swagger2 => {
                            let schema = cx.param_schema(&p_file, &p_at, &p)?;
                            form.insert(name.to_owned(), schema);
                            if required {
                                form_required.push(Value::from(name));
                            }
                        }
                        "path" | "query" | "header" | "cookie" => {
                            let schema = cx.param_schema(&p_file, &p_at, &p)?;
                            params.retain(|q: &Param| !(q.name == name && q.location == location));
                            params.push(Param {
                                name: name.to_owned(),
                                location: location.to_owned(),
                                required,
                                schema,
                            });
                        }
                        other => {
                            return Err(ImportError::at(
                                &p_file,
                                &format!("{p_at}/in"),
                                format!("found {other:?}"),
                                if swagger2 {
                                    "path, query, header, body or formData"
                                } else {
                                    "path, query, header or cookie"
                                },
                            ));
                        }
                    }
                }
            }
            if !form.is_empty() {
                let media = "application/x-www-form-urlencoded".to_owned();
                let schema = serde_json::json!({"type": "object", "properties": form, "required": form_required});
                body = Some(Body { media, json: false, required: !form_required.is_empty(), schema });
            }
            if let Some(rb) = o.get("requestBody") {
                body = cx.request_body(rb)?;
            }
            let responses = cx.responses(o.get("responses"), &produces)?;
            let security = match o.get("security") {
                Some(s) => security(Some(s)),
                None => global_security.clone(),
            };
            spec.ops.push(Op {
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                at: format!("#{at}"),
                operation_id: o.get("operationId").and_then(Value::as_str).map(str::to_owned),
                summary: o.get("summary").and_then(Value::as_str).map(str::to_owned),
                tags: strings(o.get("tags")),
                params,
                body,
                responses,
                security,
                ext,
            });
        }
    }
    Ok(spec)
}

/// The path of a server URL: `https://api.example.com/v1` → `/v1`; variables keep
/// their default-less form out of it (`{scheme}://host/ds-api` → `/ds-api`).
fn server_path(url: &str) -> String {
    let rest = match url.find("://") {
        Some(i) => &url[i + 3..],
        None if url.starts_with('/') => return url.to_owned(),
        None => url,
    };
    match rest.find('/') {
        Some(i) if !url.starts_with('/') => rest[i..].to_owned(),
        _ => String::new(),
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
}

fn security(v: Option<&Value>) -> Vec<Vec<(String, Vec<String>)>> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .map(|req| req.iter().map(|(k, scopes)| (k.clone(), strings(Some(scopes)))).collect())
        .collect()
}

fn schemes(doc: &Value, swagger2: bool) -> Vec<Scheme> {
    let defs = if swagger2 { doc.get("securityDefinitions") } else { doc.pointer("/components/securitySchemes") };
    let mut out = Vec::new();
    for (name, s) in defs.and_then(Value::as_object).into_iter().flatten() {
        let text = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let flows_scopes = || -> Vec<String> {
            let mut scopes = Vec::new();
            let mut add = |m: Option<&Value>| {
                for k in m.and_then(Value::as_object).into_iter().flat_map(|m| m.keys()) {
                    if !scopes.contains(k) {
                        scopes.push(k.clone());
                    }
                }
            };
            add(s.get("scopes"));
            for flow in s.get("flows").and_then(Value::as_object).into_iter().flat_map(|f| f.values()) {
                add(flow.get("scopes"));
            }
            scopes
        };
        let kind = match text("type").as_str() {
            "apiKey" => SchemeKind::ApiKey { location: text("in"), name: text("name") },
            "basic" => SchemeKind::Basic,
            "http" if text("scheme").eq_ignore_ascii_case("basic") => SchemeKind::Basic,
            "http" if text("scheme").eq_ignore_ascii_case("bearer") => SchemeKind::Bearer { scopes: vec![] },
            "oauth2" | "openIdConnect" => SchemeKind::Bearer { scopes: flows_scopes() },
            "http" => SchemeKind::Unsupported(format!("HTTP scheme {:?}", text("scheme"))),
            other => SchemeKind::Unsupported(format!("type {other:?}")),
        };
        out.push(Scheme { name: name.clone(), kind });
    }
    out
}

/// Follows a `$ref` chain (parameters, responses, request bodies, path items).
fn deref(docs: &mut Docs, file: &Path, at: &str, v: &Value) -> Result<(PathBuf, Value), ImportError> {
    let (mut file, mut v, mut at) = (file.to_owned(), v.clone(), at.to_owned());
    for _ in 0..32 {
        let Some(r) = v.get("$ref").and_then(Value::as_str) else { return Ok((file, v)) };
        let (f, pointer, target) = docs.resolve(&file, &at, r)?;
        (file, v, at) = (f, target, pointer);
    }
    Err(ImportError::at(&file, &at, "a $ref chain longer than 32", "references that end"))
}

struct OpCx<'a> {
    docs: &'a mut Docs,
    conv: &'a mut Converter,
    file: &'a Path,
    at: &'a str,
    swagger2: bool,
}

impl OpCx<'_> {
    fn param_schema(&mut self, file: &Path, at: &str, p: &Value) -> Result<Value, ImportError> {
        if let Some(s) = p.get("schema") {
            return self.conv.convert(self.docs, file, &format!("{at}/schema"), s, Side::Request);
        }
        if let Some(content) = p.get("content").and_then(Value::as_object)
            && let Some(s) = content.values().find_map(|m| m.get("schema"))
        {
            return self.conv.convert(self.docs, file, &format!("{at}/content"), s, Side::Request);
        }
        // Swagger 2.0: the schema keywords sit on the parameter itself.
        let keys = ["type", "format", "items", "enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"];
        let more =
            ["minLength", "maxLength", "pattern", "minItems", "maxItems", "uniqueItems", "multipleOf", "default"];
        let inline: Map<String, Value> = p
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| keys.contains(&k.as_str()) || more.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        self.conv.convert(self.docs, file, at, &Value::Object(inline), Side::Request)
    }

    fn request_body(&mut self, rb: &Value) -> Result<Option<Body>, ImportError> {
        let at = format!("{}/requestBody", self.at);
        let (file, rb) = deref(self.docs, self.file, &at, rb)?;
        let required = rb.get("required") == Some(&Value::Bool(true));
        let Some(content) = rb.get("content").and_then(Value::as_object) else { return Ok(None) };
        let chosen = content.iter().find(|(m, _)| is_json(m)).or_else(|| content.iter().next());
        let Some((media, m)) = chosen else { return Ok(None) };
        let schema = match m.get("schema") {
            Some(s) => {
                let s_at = format!("{at}/content/{}/schema", escape(media));
                self.conv.convert(self.docs, &file, &s_at, s, Side::Request)?
            }
            None => Value::Object(Map::new()),
        };
        Ok(Some(Body { media: media.clone(), json: is_json(media), required, schema }))
    }

    fn responses(&mut self, v: Option<&Value>, produces: &[String]) -> Result<Vec<Response>, ImportError> {
        let at = format!("{}/responses", self.at);
        let Some(v) = v else { return Ok(vec![]) };
        let Value::Object(map) = v else {
            return Err(ImportError::at(self.file, &at, format!("found {}", kind(v)), "an object of responses"));
        };
        let mut out = Vec::new();
        for (code, r) in map {
            if code.starts_with("x-") {
                continue;
            }
            let r_at = format!("{at}/{}", escape(code));
            let status = if code == "default" {
                None
            } else {
                // `2XX` ranges answer with the range's first status.
                let normalised = code.to_ascii_uppercase().replace("XX", "00");
                match normalised.parse::<u16>() {
                    Ok(s) if (100..600).contains(&s) => Some(s),
                    _ => {
                        return Err(ImportError::at(
                            self.file,
                            &r_at,
                            format!("status {code:?}"),
                            "a status code, 2XX or default",
                        ));
                    }
                }
            };
            let (file, r) = deref(self.docs, self.file, &r_at, r)?;
            let mut headers = Vec::new();
            for (name, h) in r.get("headers").and_then(Value::as_object).into_iter().flatten() {
                let h_at = format!("{r_at}/headers/{}", escape(name));
                let (h_file, h) = deref(self.docs, &file, &h_at, h)?;
                let schema = self.param_schema(&h_file, &h_at, &h)?;
                headers.push((name.clone(), schema));
            }
            let (media, schema_at, schema, example) = if self.swagger2 {
                let media = produces.iter().find(|m| is_json(m)).cloned().or_else(|| produces.first().cloned());
                let example = r.get("examples").and_then(Value::as_object).and_then(|e| {
                    e.iter().find(|(m, _)| is_json(m)).or_else(|| e.iter().next()).map(|(_, v)| v.clone())
                });
                (media.or(Some("application/json".into())), format!("{r_at}/schema"), r.get("schema").cloned(), example)
            } else {
                let content = r.get("content").and_then(Value::as_object);
                let chosen = content.and_then(|c| c.iter().find(|(m, _)| is_json(m)).or_else(|| c.iter().next()));
                match chosen {
                    None => (None, String::new(), None, None),
                    Some((media, m)) => {
                        let example = m.get("example").cloned().or_else(|| {
                            let first = m.get("examples").and_then(Value::as_object)?.values().next()?.clone();
                            let (_, first) = deref(self.docs, &file, &r_at, &first).ok()?;
                            first.get("value").cloned()
                        });
                        let s_at = format!("{r_at}/content/{}/schema", escape(media));
                        (Some(media.clone()), s_at, m.get("schema").cloned(), example)
                    }
                }
            };
            let schema = match schema {
                Some(s) => Some(self.conv.convert(self.docs, &file, &schema_at, &s, Side::Response)?),
                None => None,
            };
            let json = media.as_deref().is_some_and(is_json);
            out.push(Response { status, media, json, schema, example, headers });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_paths() {
        assert_eq!(server_path("http://petstore.swagger.io/v1"), "/v1");
        assert_eq!(server_path("{scheme}://developer.uspto.gov/ds-api"), "/ds-api");
        assert_eq!(server_path("https://api.example.com"), "");
        assert_eq!(server_path("/api/v3"), "/api/v3");
    }
}
