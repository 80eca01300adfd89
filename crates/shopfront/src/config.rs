//! A tiny `key = value` configuration file format, strict on purpose: an
//! unknown key or a value of the wrong type stops the program at start with a
//! message naming the file, the line and the key (this is what the sandbox's
//! `shopfront-crashloop` fault relies on).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Raw key/value pairs plus where each came from.
pub struct RawConfig {
    path: PathBuf,
    values: BTreeMap<String, (usize, String)>,
}

impl RawConfig {
    pub fn load(path: &Path, allowed: &[&str]) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
        Self::parse(path, &text, allowed)
    }

    pub fn parse(path: &Path, text: &str, allowed: &[&str]) -> Result<Self, ConfigError> {
        let mut values = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                return Err(ConfigError(format!(
                    "{}:{}: expected `key = value`, got {line:?}",
                    path.display(),
                    i + 1
                )));
            };
            let k = k.trim().to_string();
            if !allowed.contains(&k.as_str()) {
                return Err(ConfigError(format!(
                    "{}:{}: unknown key {k:?} (known keys: {})",
                    path.display(),
                    i + 1,
                    allowed.join(", ")
                )));
            }
            let v = v.trim().trim_matches('"').to_string();
            values.insert(k, (i + 1, v));
        }
        Ok(Self {
            path: path.to_path_buf(),
            values,
        })
    }

    pub fn string(&self, key: &str, default: Option<&str>) -> Result<String, ConfigError> {
        match (self.values.get(key), default) {
            (Some((_, v)), _) => Ok(v.clone()),
            (None, Some(d)) => Ok(d.to_string()),
            (None, None) => Err(ConfigError(format!(
                "{}: missing required key {key:?}",
                self.path.display()
            ))),
        }
    }

    pub fn number<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T, ConfigError> {
        match self.values.get(key) {
            None => Ok(default),
            Some((line, v)) => v.parse::<T>().map_err(|_| {
                ConfigError(format!(
                    "{}:{line}: invalid value {v:?} for {key:?}: expected a non-negative integer",
                    self.path.display()
                ))
            }),
        }
    }

    pub fn boolean(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.values.get(key) {
            None => Ok(default),
            Some((line, v)) => match v.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => Ok(true),
                "false" | "no" | "off" | "0" => Ok(false),
                _ => Err(ConfigError(format!(
                    "{}:{line}: invalid value {v:?} for {key:?}: expected true or false",
                    self.path.display()
                ))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let p = Path::new("t.conf");
        let c = RawConfig::parse(p, "# c\n a = 1\nb = \"x y\"\n", &["a", "b"]).unwrap();
        assert_eq!(c.number::<u32>("a", 0).unwrap(), 1);
        assert_eq!(c.string("b", None).unwrap(), "x y");
        assert!(c.string("c", None).is_err());
        assert!(RawConfig::parse(p, "zz = 1", &["a"]).is_err());
        let bad = RawConfig::parse(p, "a = five", &["a"]).unwrap();
        let e = bad.number::<u32>("a", 0).unwrap_err().to_string();
        assert!(e.contains("t.conf:1") && e.contains("five"), "{e}");
    }
}
