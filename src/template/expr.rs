//! The expression language inside `{{ ... }}`, parsed once at profile load.
//!
//! It covers the forms profiles use in practice: paths (`request.name`,
//! `stored_entity.tags.0`), literals, helper calls in both the function-call form
//! (`timestamp_plus_seconds(86400)`) and Handlebars' form (`subtract a b`,
//! `(multiply a 2)`), and infix arithmetic with the usual precedence
//! (`current.quantity - request.quantity * 2`). Anything else (block helpers, partials)
//! is left to Handlebars by the caller.

use super::func::Func;
use std::fmt;

/// One compiled expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Lit(serde_json::Value),
    Path(Path),
    Call(Func, Vec<Expr>),
}

/// Where a path starts; resolved at load so rendering never compares root names.
#[derive(Debug, Clone, PartialEq)]
pub enum Base {
    /// `request.x`: body field, then query parameter, then path parameter.
    RequestField(String),
    RequestBody,
    RequestQuery,
    RequestHeaders,
    RequestPath,
    RequestMethod,
    /// A persistence result or other render variable (`stored_entity`, `current`, ...).
    Var(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub base: Base,
    /// Remaining segments; header names are lower-cased at load.
    pub rest: Vec<String>,
    /// The path as written, for error messages and Handlebars output.
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

/// Parses the inside of one `{{ ... }}`.
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    let tokens = tokenize(src)?;
    if tokens.is_empty() {
        return Err(ParseError("empty expression".into()));
    }
    let mut p = Parser { tokens, pos: 0 };
    let expr = p.top()?;
    if p.pos != p.tokens.len() {
        return Err(ParseError(format!("unexpected `{}`", p.tokens[p.pos])));
    }
    Ok(expr)
}

/// Builds a path expression (used for single-brace `{param}` references).
pub fn path(text: &str) -> Expr {
    let segments: Vec<String> = text.split('.').map(str::to_owned).collect();
    Expr::Path(resolve_path(segments, text))
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Num(serde_json::Number),
    Str(String),
    Op(char),
    Open,
    Close,
    Comma,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(s) => write!(f, "{s}"),
            Tok::Num(n) => write!(f, "{n}"),
            Tok::Str(s) => write!(f, "{s:?}"),
            Tok::Op(c) => write!(f, "{c}"),
            Tok::Open => write!(f, "("),
            Tok::Close => write!(f, ")"),
            Tok::Comma => write!(f, ","),
        }
    }
}

fn tokenize(src: &str) -> Result<Vec<Tok>, ParseError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '+' | '*' | '/' | '%' => {
                out.push(Tok::Op(c));
                i += 1;
            }
            '-' => {
                // A minus touching the digit after it (`-1`, `a -1`), at the start or after
                // an operator, is a negative number; `a - 1` is subtraction.
                let after_space = i > 0 && chars[i - 1].is_whitespace();
                let unary = after_space || matches!(out.last(), None | Some(Tok::Op(_) | Tok::Open | Tok::Comma));
                if unary && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
                    let (n, next) = number(&chars, i)?;
                    out.push(Tok::Num(n));
                    i = next;
                } else {
                    out.push(Tok::Op('-'));
                    i += 1;
                }
            }
            '"' | '\'' => {
                let mut s = String::new();
                let mut j = i + 1;
                loop {
                    match chars.get(j) {
                        None => return Err(ParseError("unterminated string literal".into())),
                        Some(&q) if q == c => break,
                        Some('\\') if chars.get(j + 1).is_some() => {
                            s.push(chars[j + 1]);
                            j += 2;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            j += 1;
                        }
                    }
                }
                out.push(Tok::Str(s));
                i = j + 1;
            }
            c if c.is_ascii_digit() => {
                let (n, next) = number(&chars, i)?;
                out.push(Tok::Num(n));
                i = next;
            }
            c if is_ident_start(c) => {
                let mut j = i;
                let mut s = String::new();
                while j < chars.len() {
                    let ch = chars[j];
                    if is_ident_char(ch) {
                        s.push(ch);
                        j += 1;
                    } else if ch == '[' {
                        // `items[0]` is `items.0`.
                        let end = chars[j..].iter().position(|&x| x == ']').map(|p| j + p);
                        let Some(end) = end else {
                            return Err(ParseError("unclosed `[`".into()));
                        };
                        let inner: String = chars[j + 1..end].iter().collect();
                        s.push('.');
                        s.push_str(inner.trim().trim_matches(|q| q == '"' || q == '\''));
                        j = end + 1;
                    } else {
                        break;
                    }
                }
                out.push(Tok::Ident(s));
                i = j;
            }
            other => return Err(ParseError(format!("unexpected character `{other}`"))),
        }
    }
    Ok(out)
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '@' || c == '$'
}

/// Header names contain `-`, so a `-` touching an identifier belongs to it;
/// subtraction is written with spaces (`a - b`), as profiles do.
fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '$' | '@')
}

fn number(chars: &[char], start: usize) -> Result<(serde_json::Number, usize), ParseError> {
    let mut j = start + 1;
    while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == '.') {
        j += 1;
    }
    let text: String = chars[start..j].iter().collect();
    let n = if let Ok(i) = text.parse::<i64>() {
        serde_json::Number::from(i)
    } else {
        text.parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .ok_or_else(|| ParseError(format!("bad number `{text}`")))?
    };
    Ok((n, j))
}

struct Parser {
    tokens: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    /// Top level: a Handlebars-style call `helper arg arg` or an infix expression.
    fn top(&mut self) -> Result<Expr, ParseError> {
        if let (Some(Tok::Ident(name)), Some(next)) = (self.tokens.first(), self.tokens.get(1))
            && let Some(func) = Func::by_name(name)
            && starts_term(next)
        {
            let name = name.clone();
            self.pos = 1;
            let args = self.spaced_args()?;
            return call(func, &name, args);
        }
        self.sum()
    }

    fn spaced_args(&mut self) -> Result<Vec<Expr>, ParseError> {
        let mut args = Vec::new();
        while let Some(t) = self.peek() {
            if !starts_term(t) {
                break;
            }
            args.push(self.atom()?);
        }
        Ok(args)
    }

    fn sum(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.product()?;
        while let Some(Tok::Op(op @ ('+' | '-'))) = self.peek().cloned() {
            self.pos += 1;
            let right = self.product()?;
            left = Expr::Call(if op == '+' { Func::Add } else { Func::Subtract }, vec![left, right]);
        }
        Ok(left)
    }

    fn product(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.atom()?;
        while let Some(Tok::Op(op @ ('*' | '/' | '%'))) = self.peek().cloned() {
            self.pos += 1;
            let right = self.atom()?;
            let func = match op {
                '*' => Func::Multiply,
                '/' => Func::Divide,
                _ => Func::Modulo,
            };
            left = Expr::Call(func, vec![left, right]);
        }
        Ok(left)
    }

    fn atom(&mut self) -> Result<Expr, ParseError> {
        match self.next() {
            Some(Tok::Num(n)) => Ok(Expr::Lit(serde_json::Value::Number(n))),
            Some(Tok::Str(s)) => Ok(Expr::Lit(serde_json::Value::String(s))),
            Some(Tok::Open) => {
                // `(helper a b)` is a Handlebars subexpression; `(a - b)` is grouping.
                let inner = if let (Some(Tok::Ident(name)), Some(next)) =
                    (self.peek().cloned(), self.tokens.get(self.pos + 1).cloned())
                    && let Some(func) = Func::by_name(&name)
                    && starts_term(&next)
                {
                    self.pos += 1;
                    let args = self.spaced_args()?;
                    call(func, &name, args)?
                } else {
                    self.sum()?
                };
                match self.next() {
                    Some(Tok::Close) => Ok(inner),
                    _ => Err(ParseError("expected `)`".into())),
                }
            }
            Some(Tok::Ident(name)) => match name.as_str() {
                "true" => Ok(Expr::Lit(serde_json::Value::Bool(true))),
                "false" => Ok(Expr::Lit(serde_json::Value::Bool(false))),
                "null" => Ok(Expr::Lit(serde_json::Value::Null)),
                _ => {
                    if self.peek() == Some(&Tok::Open) {
                        // Seed form: `timestamp_plus_seconds(86400)`.
                        let func =
                            Func::by_name(&name).ok_or_else(|| ParseError(format!("unknown helper `{name}`")))?;
                        self.pos += 1;
                        let mut args = Vec::new();
                        if self.peek() != Some(&Tok::Close) {
                            loop {
                                args.push(self.sum()?);
                                match self.next() {
                                    Some(Tok::Comma) => continue,
                                    Some(Tok::Close) => break,
                                    _ => return Err(ParseError("expected `,` or `)`".into())),
                                }
                            }
                        } else {
                            self.pos += 1;
                        }
                        return call(func, &name, args);
                    }
                    if let Some(func) = Func::by_name(&name).filter(|f| f.arity() == (0, 0)) {
                        return Ok(Expr::Call(func, Vec::new()));
                    }
                    let segments: Vec<String> = name.split('.').map(str::to_owned).collect();
                    if segments.iter().any(String::is_empty) {
                        return Err(ParseError(format!("bad path `{name}`")));
                    }
                    Ok(Expr::Path(resolve_path(segments, &name)))
                }
            },
            Some(t) => Err(ParseError(format!("unexpected `{t}`"))),
            None => Err(ParseError("expression ends too early".into())),
        }
    }
}

fn starts_term(t: &Tok) -> bool {
    matches!(t, Tok::Ident(_) | Tok::Num(_) | Tok::Str(_) | Tok::Open)
}

fn call(func: Func, name: &str, args: Vec<Expr>) -> Result<Expr, ParseError> {
    let (min, max) = func.arity();
    if args.len() < min || args.len() > max {
        let want = if min == max { format!("{min}") } else { format!("{min} to {max}") };
        return Err(ParseError(format!("`{name}` takes {want} argument(s), got {}", args.len())));
    }
    Ok(Expr::Call(func, args))
}

fn resolve_path(mut segments: Vec<String>, text: &str) -> Path {
    let first = segments.remove(0);
    let base = if first == "request" && !segments.is_empty() {
        let second = segments.remove(0);
        match second.as_str() {
            "body" => Base::RequestBody,
            "query" => Base::RequestQuery,
            "headers" => {
                if let Some(h) = segments.first_mut() {
                    *h = h.to_ascii_lowercase();
                }
                Base::RequestHeaders
            }
            "path" | "params" | "path_params" => Base::RequestPath,
            "method" if segments.is_empty() => Base::RequestMethod,
            _ => Base::RequestField(second),
        }
    } else {
        Base::Var(first)
    };
    Path { base, rest: segments, text: text.to_owned() }
}

impl Expr {
    /// Writes the expression in Handlebars syntax (for templates Handlebars renders).
    pub fn to_handlebars(&self, top: bool) -> String {
        match self {
            Expr::Lit(v) => v.to_string(),
            Expr::Path(p) => match &p.base {
                Base::RequestPath => format!("request.path.{}", p.rest.join(".")),
                _ => p.text.clone(),
            },
            Expr::Call(f, args) => {
                let mut s = f.name().to_owned();
                for a in args {
                    s.push(' ');
                    s.push_str(&a.to_handlebars(false));
                }
                if top || args.is_empty() { s } else { format!("({s})") }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn var(text: &str) -> Expr {
        path(text)
    }

    #[test]
    fn parses_the_forms_profiles_use() {
        let cases: Vec<(&str, Expr)> = vec![
            ("request.name", var("request.name")),
            ("  stored_entity ", var("stored_entity")),
            ("42", Expr::Lit(json!(42))),
            ("'hi'", Expr::Lit(json!("hi"))),
            ("random_uuid", Expr::Call(Func::RandomUuid, vec![])),
            ("timestamp_plus_seconds(86400)", Expr::Call(Func::TimestampPlusSeconds, vec![Expr::Lit(json!(86400))])),
            (
                "current.quantity - request.quantity",
                Expr::Call(Func::Subtract, vec![var("current.quantity"), var("request.quantity")]),
            ),
            (
                "subtract current.quantity request.quantity",
                Expr::Call(Func::Subtract, vec![var("current.quantity"), var("request.quantity")]),
            ),
            (
                "a + b * 2",
                Expr::Call(Func::Add, vec![var("a"), Expr::Call(Func::Multiply, vec![var("b"), Expr::Lit(json!(2))])]),
            ),
            (
                "(a + b) * 2",
                Expr::Call(Func::Multiply, vec![Expr::Call(Func::Add, vec![var("a"), var("b")]), Expr::Lit(json!(2))]),
            ),
            (
                "add (multiply a 2) -1",
                Expr::Call(
                    Func::Add,
                    vec![Expr::Call(Func::Multiply, vec![var("a"), Expr::Lit(json!(2))]), Expr::Lit(json!(-1))],
                ),
            ),
            ("items[0].name", var("items.0.name")),
        ];
        for (src, want) in cases {
            assert_eq!(parse(src), Ok(want), "parsing `{src}`");
        }
    }

    #[test]
    fn header_paths_are_case_insensitive() {
        let Expr::Path(p) = parse("request.headers.X-Request-Id").unwrap() else { panic!() };
        assert_eq!(p.base, Base::RequestHeaders);
        assert_eq!(p.rest, vec!["x-request-id"]);
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        for src in ["", "a +", "nope(1)", "subtract a", "(a", "a ) b", "'open"] {
            assert!(parse(src).is_err(), "`{src}` should not parse");
        }
    }
}
