//! Plain-text rendering of listings.

use sitrep_core::table::{Row, render_table};

pub fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let rows: Vec<Row> = rows
        .into_iter()
        .map(|r| {
            Row::from_pairs(
                headers
                    .iter()
                    .zip(r)
                    .map(|(h, v)| (h.to_string(), serde_json::Value::String(v))),
            )
        })
        .collect();
    render_table(&rows, usize::MAX)
}

pub fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}
