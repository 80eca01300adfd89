//! Structured JSON-lines logging to a file (and nothing else: no global
//! subscriber machinery, the service is small).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

pub struct Logger {
    service: &'static str,
    file: Mutex<Option<File>>,
}

impl Logger {
    /// Logs go to `path`, or to stderr when the file cannot be opened.
    pub fn open(service: &'static str, path: Option<&Path>) -> Self {
        let file = path.and_then(|p| {
            if let Some(dir) = p.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            OpenOptions::new().create(true).append(true).open(p).ok()
        });
        Self {
            service,
            file: Mutex::new(file),
        }
    }

    pub fn log(&self, level: &str, msg: &str, fields: Value) {
        let mut obj = Map::new();
        obj.insert("ts".into(), json!(rfc3339_now()));
        obj.insert("level".into(), json!(level));
        obj.insert("service".into(), json!(self.service));
        obj.insert("msg".into(), json!(msg));
        if let Value::Object(extra) = fields {
            obj.extend(extra);
        }
        let mut line = Value::Object(obj).to_string();
        line.push('\n');
        let mut guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_mut() {
            Some(f) => {
                if f.write_all(line.as_bytes()).is_err() {
                    // e.g. disk full: still say something somewhere
                    let _ = std::io::stderr().write_all(line.as_bytes());
                }
            }
            None => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
        }
    }

    pub fn info(&self, msg: &str, fields: Value) {
        self.log("info", msg, fields)
    }
    pub fn warn(&self, msg: &str, fields: Value) {
        self.log("warn", msg, fields)
    }
    pub fn error(&self, msg: &str, fields: Value) {
        self.log("error", msg, fields)
    }
}

/// Current UTC time as RFC 3339 with milliseconds.
pub fn rfc3339_now() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format_rfc3339(d.as_secs() as i64, d.subsec_millis())
}

fn format_rfc3339(secs: i64, millis: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_dates() {
        assert_eq!(super::format_rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            super::format_rfc3339(1_709_210_096, 5),
            "2024-02-29T12:34:56.005Z"
        );
    }
}
