//! Built-in helpers. One implementation serves both native expressions and
//! Handlebars templates (through [`super::HelperBridge`]), so a helper behaves the
//! same whichever engine renders the string.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Number, Value};

/// A built-in helper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    RandomUuid,
    Timestamp,
    CurrentTimestamp,
    Date,
    UnixTimestamp,
    UnixTimestampMs,
    TimestampPlusSeconds,
    Add,
    Subtract,
    Multiply,
    Divide,
    Modulo,
    Default,
    Json,
}

/// Why an expression could not be evaluated with this request's values.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    #[error("`{helper}` needs a number, got {found}")]
    NotANumber { helper: &'static str, found: String },
    #[error("division by zero")]
    DivisionByZero,
}

pub const ALL: [Func; 14] = [
    Func::RandomUuid,
    Func::Timestamp,
    Func::CurrentTimestamp,
    Func::Date,
    Func::UnixTimestamp,
    Func::UnixTimestampMs,
    Func::TimestampPlusSeconds,
    Func::Add,
    Func::Subtract,
    Func::Multiply,
    Func::Divide,
    Func::Modulo,
    Func::Default,
    Func::Json,
];

impl Func {
    pub fn name(self) -> &'static str {
        match self {
            Func::RandomUuid => "random_uuid",
            Func::Timestamp => "timestamp",
            Func::CurrentTimestamp => "current_timestamp",
            Func::Date => "date",
            Func::UnixTimestamp => "unix_timestamp",
            Func::UnixTimestampMs => "unix_timestamp_ms",
            Func::TimestampPlusSeconds => "timestamp_plus_seconds",
            Func::Add => "add",
            Func::Subtract => "subtract",
            Func::Multiply => "multiply",
            Func::Divide => "divide",
            Func::Modulo => "mod",
            Func::Default => "default",
            Func::Json => "json",
        }
    }

    pub fn by_name(name: &str) -> Option<Func> {
        match name {
            "uuid" => Some(Func::RandomUuid),
            "now" => Some(Func::CurrentTimestamp),
            "sub" => Some(Func::Subtract),
            "mul" => Some(Func::Multiply),
            "div" => Some(Func::Divide),
            "modulo" => Some(Func::Modulo),
            _ => ALL.into_iter().find(|f| f.name() == name),
        }
    }

    /// Minimum and maximum number of arguments.
    pub fn arity(self) -> (usize, usize) {
        match self {
            Func::RandomUuid
            | Func::Timestamp
            | Func::CurrentTimestamp
            | Func::Date
            | Func::UnixTimestamp
            | Func::UnixTimestampMs => (0, 0),
            Func::TimestampPlusSeconds | Func::Json => (1, 1),
            Func::Add | Func::Subtract | Func::Multiply | Func::Divide | Func::Modulo | Func::Default => (2, 2),
        }
    }

    /// Applies the helper. `now` is fixed per request so that `created_at` and the
    /// response's `{{timestamp}}` agree.
    pub fn apply(self, args: &[&Value], now: DateTime<Utc>) -> Result<Value, EvalError> {
        Ok(match self {
            Func::RandomUuid => Value::String(uuid::Uuid::new_v4().to_string()),
            Func::Timestamp | Func::CurrentTimestamp => Value::String(iso(now)),
            Func::Date => Value::String(now.format("%Y-%m-%d").to_string()),
            Func::UnixTimestamp => Value::from(now.timestamp()),
            Func::UnixTimestampMs => Value::from(now.timestamp_millis()),
            Func::TimestampPlusSeconds => {
                let secs = number(self, args[0])?;
                let millis = match secs {
                    Num::Int(i) => i.saturating_mul(1000),
                    Num::Float(f) => (f * 1000.0) as i64,
                };
                let later = now + chrono::Duration::milliseconds(millis);
                Value::String(iso(later))
            }
            Func::Add | Func::Subtract | Func::Multiply | Func::Divide | Func::Modulo => {
                arithmetic(self, number(self, args[0])?, number(self, args[1])?)?
            }
            Func::Default => match args[0] {
                Value::Null => args[1].clone(),
                Value::String(s) if s.is_empty() => args[1].clone(),
                v => v.clone(),
            },
            Func::Json => Value::String(args[0].to_string()),
        })
    }
}

/// The timestamp format used everywhere: RFC 3339, UTC, milliseconds, `Z`.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// [`iso`] of a time in epoch milliseconds; `None` out of chrono's range.
pub fn iso_ms(ms: i64) -> Option<String> {
    DateTime::from_timestamp_millis(ms).map(iso)
}

#[derive(Debug, Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

/// Numbers, and strings holding numbers (query parameters are strings).
fn number(helper: Func, v: &Value) -> Result<Num, EvalError> {
    let parsed = match v {
        Value::Number(n) => n.as_i64().map(Num::Int).or_else(|| n.as_f64().map(Num::Float)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>()
                .map(Num::Int)
                .ok()
                .or_else(|| s.parse::<f64>().ok().filter(|f| f.is_finite()).map(Num::Float))
        }
        _ => None,
    };
    parsed.ok_or_else(|| EvalError::NotANumber {
        helper: helper.name(),
        found: match v {
            Value::Null => "nothing (null or missing)".to_owned(),
            other => other.to_string(),
        },
    })
}

/// Integers stay integers (`3`, not `3.0`) unless the result needs a fraction.
fn arithmetic(op: Func, a: Num, b: Num) -> Result<Value, EvalError> {
    if let (Num::Int(x), Num::Int(y)) = (a, b) {
        let exact = match op {
            Func::Add => x.checked_add(y),
            Func::Subtract => x.checked_sub(y),
            Func::Multiply => x.checked_mul(y),
            Func::Divide if y == 0 => return Err(EvalError::DivisionByZero),
            Func::Divide if x % y == 0 => x.checked_div(y),
            Func::Modulo if y == 0 => return Err(EvalError::DivisionByZero),
            Func::Modulo => x.checked_rem(y),
            _ => None,
        };
        if let Some(v) = exact {
            return Ok(Value::from(v));
        }
    }
    let (x, y) = (a.as_f64(), b.as_f64());
    let r = match op {
        Func::Add => x + y,
        Func::Subtract => x - y,
        Func::Multiply => x * y,
        Func::Divide if y == 0.0 => return Err(EvalError::DivisionByZero),
        Func::Divide => x / y,
        Func::Modulo if y == 0.0 => return Err(EvalError::DivisionByZero),
        _ => x % y,
    };
    Ok(Number::from_f64(r).map(Value::Number).unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-02T03:04:05.678Z").unwrap().with_timezone(&Utc)
    }

    #[test]
    fn arithmetic_keeps_integers_integral() {
        let cases = [
            (Func::Subtract, json!(10), json!(3), json!(7)),
            (Func::Subtract, json!(10), json!("3"), json!(7)),
            (Func::Add, json!(1.5), json!(1), json!(2.5)),
            (Func::Divide, json!(10), json!(4), json!(2.5)),
            (Func::Divide, json!(10), json!(5), json!(2)),
            (Func::Multiply, json!(6), json!(7), json!(42)),
            (Func::Modulo, json!(7), json!(4), json!(3)),
        ];
        for (f, a, b, want) in cases {
            assert_eq!(f.apply(&[&a, &b], now()), Ok(want.clone()), "{f:?} {a} {b}");
        }
    }

    #[test]
    fn arithmetic_on_missing_values_says_what_it_got() {
        let err = Func::Subtract.apply(&[&json!(5), &Value::Null], now()).unwrap_err();
        assert_eq!(err.to_string(), "`subtract` needs a number, got nothing (null or missing)");
        assert_eq!(Func::Divide.apply(&[&json!(5), &json!(0)], now()), Err(EvalError::DivisionByZero));
    }

    #[test]
    fn time_helpers_use_the_request_clock() {
        assert_eq!(Func::Timestamp.apply(&[], now()), Ok(json!("2026-01-02T03:04:05.678Z")));
        assert_eq!(Func::Date.apply(&[], now()), Ok(json!("2026-01-02")));
        assert_eq!(Func::UnixTimestamp.apply(&[], now()), Ok(json!(1767323045)));
        assert_eq!(Func::TimestampPlusSeconds.apply(&[&json!(86400)], now()), Ok(json!("2026-01-03T03:04:05.678Z")));
    }
}
