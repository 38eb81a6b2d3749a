//! Delays: a fixed time, uniform between two, or log-normal (a median and a spread),
//! as a profile's `delay` / `latency` or a chaos rule's `delay` gives them.

use serde_json::Value;
use std::time::Duration;

/// How long to wait before answering.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Delay {
    Fixed(u64),
    Uniform(u64, u64),
    LogNormal { median_ms: f64, sigma: f64 },
}

/// The longest delay any form may give: a test's timeout, not a hang.
pub const MAX_MS: u64 = 600_000;

/// What a delay may be, for error messages.
pub const EXPECTED: &str = "milliseconds (at most 600000), {\"fixed_ms\": n}, {\"uniform_ms\": [min, max]} or {\"lognormal\": {\"median_ms\": m, \"sigma\": s from 0 to 3}}";

impl Delay {
    /// A number of milliseconds or one of the objects; `Err` says what was found
    /// ([`EXPECTED`] says what may be).
    pub fn parse(v: &Value) -> Result<Delay, String> {
        let ms = |v: &Value| v.as_u64().filter(|n| *n <= MAX_MS);
        let bad = || format!("found {v}");
        match v {
            Value::Number(_) => ms(v).map(Delay::Fixed).ok_or_else(bad),
            Value::Object(m) if m.len() == 1 => {
                let (k, inner) = m.iter().next().ok_or_else(bad)?;
                match (k.as_str(), inner) {
                    ("fixed_ms", n) => ms(n).map(Delay::Fixed).ok_or_else(bad),
                    ("uniform_ms", Value::Array(pair)) if pair.len() == 2 => match (ms(&pair[0]), ms(&pair[1])) {
                        (Some(a), Some(b)) if a <= b => Ok(Delay::Uniform(a, b)),
                        _ => Err(bad()),
                    },
                    ("lognormal", Value::Object(p)) => {
                        let median =
                            p.get("median_ms").and_then(Value::as_f64).filter(|m| *m > 0.0 && *m <= MAX_MS as f64);
                        let sigma = p.get("sigma").and_then(Value::as_f64).filter(|s| (0.0..=3.0).contains(s));
                        match (median, sigma, p.len()) {
                            (Some(median_ms), Some(sigma), 2) => Ok(Delay::LogNormal { median_ms, sigma }),
                            _ => Err(bad()),
                        }
                    }
                    _ => Err(bad()),
                }
            }
            _ => Err(bad()),
        }
    }

    /// The delay for two uniform draws in [0, 1).
    pub fn sample(&self, u1: f64, u2: f64) -> Duration {
        let ms = match *self {
            Delay::Fixed(n) => n as f64,
            Delay::Uniform(a, b) => a as f64 + (b - a) as f64 * u1,
            Delay::LogNormal { median_ms, sigma } => {
                // Box–Muller: a standard normal from two uniforms.
                let z = (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                median_ms * (sigma * z).exp()
            }
        };
        Duration::from_secs_f64(ms.clamp(0.0, MAX_MS as f64) / 1000.0)
    }

    /// A delay drawn from the thread's generator (profile delays, not replayed).
    pub fn sample_any(&self) -> Duration {
        self.sample(rand::random::<f64>(), rand::random::<f64>())
    }
}

/// What a client sees instead of a proper answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A TCP reset, no response.
    ConnectionReset,
    /// The connection closed without a byte.
    EmptyResponse,
    /// A valid status line and headers, then a broken chunked body.
    MalformedChunk,
    /// Bytes that are not HTTP, then the connection closed.
    RandomDataThenClose,
}

impl Fault {
    pub const NAMES: &'static str = "connection_reset, empty_response, malformed_chunk or random_data_then_close";

    pub fn parse(v: &Value) -> Result<Fault, String> {
        match v.as_str() {
            Some("connection_reset") => Ok(Fault::ConnectionReset),
            Some("empty_response") => Ok(Fault::EmptyResponse),
            Some("malformed_chunk") => Ok(Fault::MalformedChunk),
            Some("random_data_then_close") => Ok(Fault::RandomDataThenClose),
            _ => Err(format!("found {v}")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Fault::ConnectionReset => "connection_reset",
            Fault::EmptyResponse => "empty_response",
            Fault::MalformedChunk => "malformed_chunk",
            Fault::RandomDataThenClose => "random_data_then_close",
        }
    }
}

/// The body sent in `chunks` pieces spread over `duration_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dribble {
    pub chunks: u32,
    pub duration_ms: u64,
}

impl Dribble {
    pub const EXPECTED: &'static str = "{\"chunks\": 1 to 1000, \"duration_ms\": at most 600000}";

    pub fn parse(v: &Value) -> Result<Dribble, String> {
        let m = v.as_object().filter(|m| m.len() == 2).ok_or_else(|| format!("found {v}"))?;
        let chunks = m.get("chunks").and_then(Value::as_u64).filter(|c| (1..=1000).contains(c));
        let duration = m.get("duration_ms").and_then(Value::as_u64).filter(|d| *d <= MAX_MS);
        match (chunks, duration) {
            (Some(c), Some(d)) => Ok(Dribble { chunks: c as u32, duration_ms: d }),
            _ => Err(format!("found {v}")),
        }
    }
}

/// SplitMix64: the `n`th number of the sequence `seed` names, so a seed replays the
/// same decisions whichever instance takes the `n`th matching request.
pub fn mix(seed: u64, n: u64) -> u64 {
    let mut z = seed.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// [`mix`] as a uniform draw in [0, 1).
pub fn unit(seed: u64, n: u64) -> f64 {
    (mix(seed, n) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_form_parses_and_bad_ones_say_what_was_expected() {
        assert_eq!(Delay::parse(&json!(250)), Ok(Delay::Fixed(250)));
        assert_eq!(Delay::parse(&json!({"uniform_ms": [10, 20]})), Ok(Delay::Uniform(10, 20)));
        assert!(matches!(
            Delay::parse(&json!({"lognormal": {"median_ms": 100, "sigma": 0.5}})),
            Ok(Delay::LogNormal { .. })
        ));
        for bad in [json!(-1), json!({"uniform_ms": [20, 10]}), json!({"fixed": 3}), json!("1s"), json!(700_000)] {
            assert!(Delay::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn samples_follow_their_distribution() {
        let d = Delay::Uniform(100, 200);
        let xs: Vec<f64> = (0..2000).map(|n| d.sample(unit(7, n), unit(8, n)).as_secs_f64() * 1000.0).collect();
        assert!(xs.iter().all(|x| (100.0..=200.0).contains(x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((mean - 150.0).abs() < 5.0, "{mean}");
        let d = Delay::LogNormal { median_ms: 100.0, sigma: 0.5 };
        let mut ys: Vec<f64> = (0..2001).map(|n| d.sample(unit(1, n), unit(2, n)).as_secs_f64() * 1000.0).collect();
        ys.sort_by(f64::total_cmp);
        assert!((ys[1000] - 100.0).abs() < 8.0, "median {}", ys[1000]);
        assert_eq!(unit(42, 5), unit(42, 5), "a seed replays");
    }
}
