//! The one configuration loader (docs/configuration.md lists every setting): settings come from environment variables with the
//! same names in Lambda and locally, and a missing or malformed one fails at start with an
//! error naming it. (Named `settings`, not `config`, so that it shadows no crates.io crate.)

use std::collections::BTreeSet;
use std::sync::Mutex;

/// A setting that is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("missing setting {0}: set the environment variable")]
    Missing(&'static str),
    #[error("malformed setting {name}: {problem}")]
    Malformed { name: &'static str, problem: String },
}

impl ConfigError {
    pub fn malformed(name: &'static str, problem: impl Into<String>) -> ConfigError {
        ConfigError::Malformed {
            name,
            problem: problem.into(),
        }
    }
}

/// Where settings are read from: the process environment, or a map in tests.
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct Env;

impl Source for Env {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl<const N: usize> Source for [(&str, &str); N] {
    fn get(&self, name: &str) -> Option<String> {
        self.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

/// A source that remembers every setting asked of it: the test that proves each function's
/// declared settings (`[package.metadata.lambda]`) are the ones its wiring reads.
pub struct Recorder<S> {
    inner: S,
    asked: Mutex<BTreeSet<String>>,
}

impl<S: Source> Recorder<S> {
    pub fn new(inner: S) -> Recorder<S> {
        Recorder {
            inner,
            asked: Mutex::new(BTreeSet::new()),
        }
    }

    /// The names asked so far, sorted.
    pub fn asked(&self) -> Vec<String> {
        self.asked
            .lock()
            .map(|a| a.iter().cloned().collect())
            .unwrap_or_default()
    }
}

impl<S: Source> Source for Recorder<S> {
    fn get(&self, name: &str) -> Option<String> {
        if let Ok(mut asked) = self.asked.lock() {
            asked.insert(name.to_owned());
        }
        self.inner.get(name)
    }
}

/// A required, non-blank setting.
pub fn required(source: &dyn Source, name: &'static str) -> Result<String, ConfigError> {
    match source.get(name) {
        Some(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
        Some(_) => Err(ConfigError::malformed(name, "is blank")),
        None => Err(ConfigError::Missing(name)),
    }
}

/// An optional setting; blank counts as absent.
pub fn optional(source: &dyn Source, name: &'static str) -> Option<String> {
    source
        .get(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// A required comma-separated list of non-blank items.
pub fn list(source: &dyn Source, name: &'static str) -> Result<Vec<String>, ConfigError> {
    let items: Vec<String> = required(source, name)?
        .split(',')
        .map(|s| s.trim().to_owned())
        .collect();
    if items.iter().any(String::is_empty) {
        return Err(ConfigError::malformed(name, "has an empty item"));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_setting() {
        let src = [("A", "x"), ("BLANK", "  "), ("L", "a, b"), ("BAD", "a,,b")];
        assert_eq!(required(&src, "A").unwrap(), "x");
        assert_eq!(required(&src, "NOPE"), Err(ConfigError::Missing("NOPE")));
        assert!(
            required(&src, "BLANK")
                .unwrap_err()
                .to_string()
                .contains("BLANK")
        );
        assert_eq!(optional(&src, "BLANK"), None);
        assert_eq!(list(&src, "L").unwrap(), ["a", "b"]);
        assert!(list(&src, "BAD").unwrap_err().to_string().contains("BAD"));
    }

    #[test]
    fn a_recorder_remembers_what_was_asked() {
        let recorder = Recorder::new([("A", "x")]);
        assert_eq!(optional(&recorder, "B"), None);
        assert_eq!(required(&recorder, "A").unwrap(), "x");
        assert_eq!(recorder.asked(), ["A", "B"]);
    }
}
