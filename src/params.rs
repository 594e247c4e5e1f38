//! Scenario keys: what a user may set with `--set KEY=VALUE`, with default, unit and allowed range.
//! Every built-in scenario declares its keys as [`ParamSpec`]s; parsing and range checks happen here
//! once, and all violations are collected so the user sees every mistake in one go.
//!
//! ```
//! use hemoscale::params::ParamValues;
//! use hemoscale::scenarios::find;
//!
//! let couette = find("couette").unwrap();
//! let ok = ParamValues::parse(&couette.params(), &["height=8".into()]).unwrap();
//! assert_eq!((ok.get("height"), ok.get("width")), (8.0, 10.0)); // width keeps its default
//! // Every mistake at once, each naming the key and what is allowed.
//! let bad = ParamValues::parse(&couette.params(), &["height=-1".into(), "colour=red".into()]).unwrap_err();
//! assert_eq!(bad.0.len(), 2);
//! let text = bad.to_string();
//! assert!(text.contains("height = -1: allowed range (0, 1000]") && text.contains("colour"), "{text}");
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// One bound of an allowed range.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum Bound {
    /// No bound.
    None,
    /// The value may equal it.
    Inclusive(f64),
    /// The value must be strictly beyond it.
    Exclusive(f64),
}

/// Kind of value a key takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A real number.
    Float,
    /// A whole number.
    Integer,
    /// One of these names (`--set coupling=surrogate`); the value is the name's index.
    Choice(&'static [&'static str]),
}

/// A settable key of a scenario.
#[derive(Clone, Debug, Serialize)]
pub struct ParamSpec {
    /// Name used with `--set`.
    pub key: &'static str,
    /// Value used when the key is not set.
    pub default: f64,
    /// Unit, in words (DPD reduced units for the plasma: rc, m, kT).
    pub unit: &'static str,
    /// Real or whole number.
    pub kind: Kind,
    /// Lower bound.
    pub min: Bound,
    /// Upper bound.
    pub max: Bound,
    /// What the key means.
    pub help: &'static str,
}

impl ParamSpec {
    /// The allowed range in words, e.g. `(0, 100]`.
    pub fn range_text(&self) -> String {
        if let Kind::Choice(names) = self.kind {
            return format!("one of {}", names.join(", "));
        }
        let lo = match self.min {
            Bound::None => "(-inf".to_string(),
            Bound::Inclusive(v) => format!("[{v}"),
            Bound::Exclusive(v) => format!("({v}"),
        };
        let hi = match self.max {
            Bound::None => "inf)".to_string(),
            Bound::Inclusive(v) => format!("{v}]"),
            Bound::Exclusive(v) => format!("{v})"),
        };
        let int = if self.kind == Kind::Integer { " (integer)" } else { "" };
        format!("{lo}, {hi}{int}")
    }

    fn admits(&self, v: f64) -> bool {
        let lo = match self.min {
            Bound::None => true,
            Bound::Inclusive(m) => v >= m,
            Bound::Exclusive(m) => v > m,
        };
        let hi = match self.max {
            Bound::None => true,
            Bound::Inclusive(m) => v <= m,
            Bound::Exclusive(m) => v < m,
        };
        v.is_finite() && lo && hi && (self.kind == Kind::Float || v.fract() == 0.0)
    }

    /// The default as users write it (a choice by its name).
    pub fn default_text(&self) -> String {
        match self.kind {
            Kind::Choice(names) => names[self.default as usize].to_string(),
            _ => self.default.to_string(),
        }
    }

    /// A key that takes one of `names` (default: the first).
    pub fn choice(key: &'static str, names: &'static [&'static str], help: &'static str) -> Self {
        Self {
            key,
            default: 0.0,
            unit: "",
            kind: Kind::Choice(names),
            min: Bound::Inclusive(0.0),
            max: Bound::Inclusive((names.len() - 1) as f64),
            help,
        }
    }
}

/// A value that is not allowed, with the field it belongs to and the allowed range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ValidationError {
    /// The key or field (`density`, `box edge`).
    pub field: String,
    /// The offending value as given or derived.
    pub value: String,
    /// What is allowed, in words.
    pub allowed: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}: {}", self.field, self.value, self.allowed)
    }
}

/// Every violation found in one scenario.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, e) in self.0.iter().enumerate() {
            if k > 0 {
                writeln!(f)?;
            }
            write!(f, "invalid scenario: {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

impl ValidationErrors {
    /// Records a violation.
    pub fn push(&mut self, field: impl Into<String>, value: impl ToString, allowed: impl Into<String>) {
        self.0.push(ValidationError { field: field.into(), value: value.to_string(), allowed: allowed.into() });
    }
    /// `Ok(v)` when nothing was recorded.
    pub fn into_result<T>(self, v: T) -> Result<T, Self> {
        if self.0.is_empty() {
            Ok(v)
        } else {
            Err(self)
        }
    }
}

/// Values of a scenario's keys: defaults overridden by `--set`.
#[derive(Clone, Debug)]
pub struct ParamValues {
    specs: Vec<ParamSpec>,
    values: BTreeMap<&'static str, f64>,
}

impl ParamValues {
    /// Parses `KEY=VALUE` assignments against `specs`; every unknown key, malformed value and value
    /// out of range is reported.
    pub fn parse(specs: &[ParamSpec], assignments: &[String]) -> Result<Self, ValidationErrors> {
        let mut values: BTreeMap<&'static str, f64> = specs.iter().map(|s| (s.key, s.default)).collect();
        let mut errors = ValidationErrors::default();
        for a in assignments {
            let Some((key, raw)) = a.split_once('=') else {
                errors.push(a, "", "expected KEY=VALUE");
                continue;
            };
            let (key, raw) = (key.trim(), raw.trim());
            let Some(spec) = specs.iter().find(|s| s.key == key) else {
                let known: Vec<&str> = specs.iter().map(|s| s.key).collect();
                errors.push(key, raw, format!("unknown key; known keys: {}", known.join(", ")));
                continue;
            };
            if let Kind::Choice(names) = spec.kind {
                match names.iter().position(|n| *n == raw) {
                    Some(k) => {
                        let _previous = values.insert(spec.key, k as f64);
                    }
                    None => errors.push(key, raw, spec.range_text()),
                }
                continue;
            }
            match raw.parse::<f64>() {
                Ok(v) if spec.admits(v) => {
                    let _previous = values.insert(spec.key, v);
                }
                Ok(v) => errors.push(key, v, format!("allowed range {} {}", spec.range_text(), spec.unit)),
                Err(_) => errors.push(key, raw, format!("not a number; allowed range {}", spec.range_text())),
            }
        }
        errors.into_result(Self { specs: specs.to_vec(), values })
    }

    /// Value of `key` (a key of the specs this was parsed with).
    pub fn get(&self, key: &str) -> f64 {
        match self.values.get(key) {
            Some(&v) => v,
            None => panic!("scenario code asked for undeclared key {key}"),
        }
    }

    /// Name chosen for a [`Kind::Choice`] key.
    pub fn choice(&self, key: &str) -> &'static str {
        let spec = self.specs.iter().find(|s| s.key == key);
        match spec.map(|s| s.kind) {
            Some(Kind::Choice(names)) => names[self.get(key) as usize],
            _ => panic!("scenario code asked for undeclared choice key {key}"),
        }
    }

    /// Every key with its value (a choice by its name), for summaries.
    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        self.specs
            .iter()
            .map(|s| {
                let v = match s.kind {
                    Kind::Choice(_) => serde_json::json!(self.choice(s.key)),
                    _ => serde_json::json!(self.values[s.key]),
                };
                (s.key.to_string(), v)
            })
            .collect()
    }

    /// All keys with their values, in declaration order.
    pub fn entries(&self) -> Vec<(&'static str, f64)> {
        self.specs.iter().map(|s| (s.key, self.values[s.key])).collect()
    }
}
