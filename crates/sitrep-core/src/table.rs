//! Result rows of declarative tasks (SQL rows, PromQL series) and their text rendering.

use serde::Serialize;
use serde_json::Value;

/// One row: ordered (column, value) pairs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Row {
    pub columns: Vec<(String, Value)>,
}

impl Row {
    pub fn from_pairs<S: Into<String>>(pairs: impl IntoIterator<Item = (S, Value)>) -> Self {
        Row {
            columns: pairs.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        }
    }
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.columns.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|(k, _)| k.as_str())
    }
}

/// A cell as text: strings bare, null empty, everything else as JSON.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() != 0.0 => {
                format!("{}", (f * 1000.0).round() / 1000.0)
            }
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// Renders rows as an aligned text table, at most `max_rows` of them.
pub fn render_table(rows: &[Row], max_rows: usize) -> String {
    let Some(first) = rows.first() else {
        return "(no rows)\n".to_string();
    };
    let headers: Vec<&str> = first.names().collect();
    let shown = &rows[..rows.len().min(max_rows)];
    let cells: Vec<Vec<String>> = shown
        .iter()
        .map(|r| {
            headers
                .iter()
                .map(|h| r.get(h).map(cell).unwrap_or_default().replace('\n', " "))
                .collect()
        })
        .collect();
    let widths: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([h.len()])
                .max()
                .unwrap_or(0)
                .min(60)
        })
        .collect();
    let mut out = String::new();
    let line = |vals: Vec<&str>, out: &mut String| {
        let parts: Vec<String> = vals
            .iter()
            .zip(&widths)
            .map(|(v, w)| {
                // A cut value says so: a shortened name must not read as another name.
                let v: String = if v.chars().count() > *w {
                    v.chars().take(w.saturating_sub(1)).chain(['…']).collect()
                } else {
                    v.to_string()
                };
                format!("{v:<w$}", w = *w)
            })
            .collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(headers.clone(), &mut out);
    line(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .iter()
            .map(|s| s.as_str())
            .collect(),
        &mut out,
    );
    for r in &cells {
        line(r.iter().map(|s| s.as_str()).collect(), &mut out);
    }
    if rows.len() > max_rows {
        out.push_str(&format!("… {} more rows\n", rows.len() - max_rows));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_aligned() {
        let rows = vec![
            Row::from_pairs([("app", json!("batch")), ("idle", json!(12))]),
            Row::from_pairs([("app", json!("shopfront")), ("idle", json!(1.25))]),
        ];
        let t = render_table(&rows, 10);
        assert_eq!(
            t,
            "app        idle\n---------  ----\nbatch      12\nshopfront  1.25\n"
        );
        assert_eq!(
            render_table(&rows, 1).lines().last().unwrap(),
            "… 1 more rows"
        );
    }

    #[test]
    fn a_cut_value_is_marked() {
        let long = "redis-".to_string() + &"7".repeat(70);
        let t = render_table(&[Row::from_pairs([("name", json!(long))])], 10);
        let cell = t.lines().nth(2).unwrap();
        assert_eq!(cell.chars().count(), 60);
        assert!(cell.ends_with('…'), "{cell}");
    }
}
