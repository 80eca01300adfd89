//! Output: stdout that ends quietly on a closed pipe, tables that never invent names, JSON.

use std::io::Write;

/// Writes a line to stdout; a closed pipe becomes an error the caller turns into a quiet
/// exit (see `main::report`).
macro_rules! outln {
    () => { $crate::out::write_out(format_args!("\n")) };
    ($($t:tt)*) => { $crate::out::write_out(format_args!("{}\n", format_args!($($t)*))) };
}
pub(crate) use outln;

pub fn write_out(args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    let mut o = std::io::stdout().lock();
    o.write_fmt(args)
}

pub fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(v)?;
    outln!("{text}")?;
    Ok(())
}

/// A column of a table: its header and the widest it may be (`None`: never cut, for names
/// and ids). A cut value ends with `…`.
pub struct Col {
    pub header: &'static str,
    pub max: Option<usize>,
}

pub const fn col(header: &'static str) -> Col {
    Col { header, max: None }
}
pub const fn text(header: &'static str, max: usize) -> Col {
    Col {
        header,
        max: Some(max),
    }
}

pub fn table(cols: &[Col], rows: &[Vec<String>]) -> String {
    let cut = |v: &str, max: Option<usize>| -> String {
        let v = v.replace('\n', " ");
        match max {
            Some(m) if v.chars().count() > m => {
                v.chars().take(m.saturating_sub(1)).chain(['…']).collect()
            }
            _ => v,
        }
    };
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| cols.iter().zip(r).map(|(c, v)| cut(v, c.max)).collect())
        .collect();
    let widths: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([c.header.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let mut line = |vals: Vec<String>| {
        let parts: Vec<String> = vals
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}", w = *w))
            .collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(cols.iter().map(|c| c.header.to_string()).collect());
    line(widths.iter().map(|w| "-".repeat(*w)).collect());
    for r in cells {
        line(r);
    }
    out
}

/// The first characters of an id, as people type them.
pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// `2026-12-02 04:31:30`, from RFC 3339.
pub fn when(t: sitrep_core::Timestamp) -> String {
    t.to_rfc3339()
        .get(..19)
        .unwrap_or_default()
        .replace('T', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_never_cut_and_long_text_says_it_was() {
        let long = "x".repeat(100);
        let name = "redis-exporter-29121-scrape-with-a-long-generated-name-that-goes-on";
        let t = table(
            &[col("NAME"), text("TITLE", 20)],
            &[vec![name.into(), long]],
        );
        let row = t.lines().nth(2).unwrap();
        assert!(row.starts_with(name), "{row}");
        assert!(
            row.ends_with('…') && row.chars().count() == name.len() + 2 + 20,
            "{row}"
        );
    }
}
