//! Lines into cells: the space-separated format (cells split by a tab or two or more spaces)
//! and the pipe-separated one (`| cell | cell |`), comments dropped.

use super::model::Cell;

/// One physical line that holds cells.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    /// The line began with whitespace (or an empty pipe cell): a step of a task or keyword,
    /// not the start of a new one.
    pub indented: bool,
    pub cells: Vec<Cell>,
}

impl Row {
    /// A `...` row continues the statement before it; returns the cells after the `...`.
    pub fn continuation(&self) -> Option<&[Cell]> {
        match self.cells.split_first() {
            Some((first, rest)) if first.text == "..." => Some(rest),
            _ => None,
        }
    }
}

/// Splits `text` into rows; lines with no cells (blank, or only a comment) are left out.
pub(crate) fn rows(text: &str) -> impl Iterator<Item = Row> + '_ {
    text.lines().enumerate().filter_map(|(i, raw)| {
        let line = i + 1;
        let raw = raw.trim_end_matches('\r');
        let (indented, texts) = if raw == "|" || raw.starts_with("| ") || raw.starts_with("|\t") {
            pipe_cells(raw)
        } else {
            (raw.starts_with([' ', '\t']), space_cells(raw))
        };
        let cells: Vec<Cell> = texts
            .into_iter()
            .take_while(|t| !t.starts_with('#'))
            .map(|text| Cell { text, line })
            .collect();
        (!cells.is_empty()).then_some(Row { indented, cells })
    })
}

/// Cells separated by a tab or at least two spaces; a single space belongs to the cell.
fn space_cells(raw: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cur = String::new();
    let mut spaces = 0;
    for c in raw.chars() {
        match c {
            ' ' => spaces += 1,
            '\t' => spaces += 2,
            _ => {
                if spaces >= 2 && !cur.is_empty() {
                    cells.push(std::mem::take(&mut cur));
                } else if !cur.is_empty() {
                    cur.extend(std::iter::repeat_n(' ', spaces));
                }
                spaces = 0;
                cur.push(c);
            }
        }
    }
    if !cur.is_empty() {
        cells.push(cur);
    }
    cells
}

/// `| a | b |`: cells between pipes that have whitespace (or the line's end) on both sides;
/// an empty first cell indents the row.
fn pipe_cells(raw: &str) -> (bool, Vec<String>) {
    let chars: Vec<char> = raw.chars().collect();
    let mut parts = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let before = i == 0 || chars[i - 1].is_whitespace();
        let after = chars.get(i + 1).is_none_or(|n| n.is_whitespace());
        if c == '|' && before && after {
            parts.push(std::mem::take(&mut cur).trim().to_string());
        } else {
            cur.push(c);
        }
    }
    parts.push(cur.trim().to_string());
    // Before the leading pipe there is nothing; after a trailing one, nothing either.
    let cells = &parts[1..];
    let cells = match cells.split_last() {
        Some((last, rest)) if last.is_empty() => rest,
        _ => cells,
    };
    let indented = cells.first().is_some_and(String::is_empty);
    (
        indented,
        cells.iter().filter(|p| !p.is_empty()).cloned().collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<(usize, bool, Vec<String>)> {
        rows(text)
            .map(|r| {
                (
                    r.cells[0].line,
                    r.indented,
                    r.cells.into_iter().map(|c| c.text).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn spaces_and_tabs_separate_cells_single_spaces_do_not() {
        assert_eq!(
            texts(
                "Metadata            Display Name    cURL HTTP OK\n    ${x}=\tSet Variable  a b\n"
            ),
            vec![
                (
                    1,
                    false,
                    vec![
                        "Metadata".into(),
                        "Display Name".into(),
                        "cURL HTTP OK".into()
                    ]
                ),
                (
                    2,
                    true,
                    vec!["${x}=".into(), "Set Variable".into(), "a b".into()]
                ),
            ]
        );
    }

    #[test]
    fn comments_and_blank_lines_are_dropped_with_line_numbers_kept() {
        assert_eq!(
            texts("\n    # a comment\n    Log    hi    # trailing\n   \n"),
            vec![(3, true, vec!["Log".into(), "hi".into()])]
        );
    }

    #[test]
    fn pipe_format() {
        assert_eq!(
            texts("| *** Tasks *** |\n| My Task |\n|  | Log | hello world |\n"),
            vec![
                (1, false, vec!["*** Tasks ***".into()]),
                (2, false, vec!["My Task".into()]),
                (3, true, vec!["Log".into(), "hello world".into()]),
            ]
        );
    }

    #[test]
    fn continuation_rows() {
        let r: Vec<Row> = rows("    ...    type=string\n    ...\n").collect();
        assert_eq!(r[0].continuation().unwrap()[0].text, "type=string");
        assert!(r[1].continuation().unwrap().is_empty());
    }
}
