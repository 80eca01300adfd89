//! `when` expressions of declarative tasks: `idle >= 5 and app != 'batch'`.
//!
//! Comparisons of columns, numbers and quoted strings combined with `and`, `or`, `not` and
//! parentheses. A null column makes its comparison false. Strings that both look like numbers
//! compare as numbers (databases return NUMERIC as text).

use crate::table::Row;
use serde_json::Value;
use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp(Operand, CmpOp, Operand),
    Truthy(Operand),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Column(String),
    Num(f64),
    Str(String),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Num(f64),
    Str(String),
    Op(CmpOp),
    LParen,
    RParen,
}

fn tokenize(src: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1
            }
            '\'' | '"' => {
                let quote = c;
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(format!(
                                "unterminated string starting at column {}",
                                i + 1
                            ));
                        }
                        Some(&ch) if ch == quote => {
                            i += 1;
                            break;
                        }
                        Some('\\') if chars.get(i + 1).is_some() => {
                            s.push(chars[i + 1]);
                            i += 2;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(s));
            }
            '=' | '!' | '<' | '>' => {
                let next = chars.get(i + 1).copied();
                let (op, len) = match (c, next) {
                    ('=', Some('=')) => (CmpOp::Eq, 2),
                    ('=', _) => (CmpOp::Eq, 1),
                    ('!', Some('=')) => (CmpOp::Ne, 2),
                    ('<', Some('>')) => (CmpOp::Ne, 2),
                    ('<', Some('=')) => (CmpOp::Le, 2),
                    ('>', Some('=')) => (CmpOp::Ge, 2),
                    ('<', _) => (CmpOp::Lt, 1),
                    ('>', _) => (CmpOp::Gt, 1),
                    _ => {
                        return Err(format!(
                            "unexpected {c:?} at column {} (did you mean != ?)",
                            i + 1
                        ));
                    }
                };
                out.push(Tok::Op(op));
                i += len;
            }
            c if c.is_ascii_digit()
                || (c == '-' || c == '.')
                    && chars
                        .get(i + 1)
                        .is_some_and(|n| n.is_ascii_digit() || *n == '.') =>
            {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_digit()
                        || matches!(chars[i], '.' | 'e' | 'E')
                        || (matches!(chars[i], '-' | '+') && matches!(chars[i - 1], 'e' | 'E')))
                {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let n = text
                    .parse::<f64>()
                    .map_err(|_| format!("invalid number {text:?}"))?;
                out.push(Tok::Num(n));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '.'))
                {
                    i += 1;
                }
                out.push(Tok::Ident(chars[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected {other:?} at column {}", i + 1)),
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s.eq_ignore_ascii_case(kw))
    }
    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.not()?;
        while self.keyword("and") {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }
    fn not(&mut self) -> Result<Expr, String> {
        if self.keyword("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let e = self.or()?;
            if self.peek() != Some(&Tok::RParen) {
                return Err("missing ')'".into());
            }
            self.pos += 1;
            return Ok(e);
        }
        let left = self.operand()?;
        if let Some(Tok::Op(op)) = self.peek().cloned() {
            self.pos += 1;
            let right = self.operand()?;
            Ok(Expr::Cmp(left, op, right))
        } else {
            Ok(Expr::Truthy(left))
        }
    }
    fn operand(&mut self) -> Result<Operand, String> {
        let t = self.peek().cloned().ok_or("expression ends too early")?;
        self.pos += 1;
        Ok(match t {
            Tok::Num(n) => Operand::Num(n),
            Tok::Str(s) => Operand::Str(s),
            Tok::Ident(s) => match s.to_ascii_lowercase().as_str() {
                "true" => Operand::Bool(true),
                "false" => Operand::Bool(false),
                "null" => Operand::Null,
                "and" | "or" | "not" => return Err(format!("expected a value before {s:?}")),
                _ => Operand::Column(s),
            },
            other => return Err(format!("expected a value, found {other:?}")),
        })
    }
}

pub fn parse(src: &str) -> Result<Expr, String> {
    let toks = tokenize(src)?;
    if toks.is_empty() {
        return Err("empty expression".into());
    }
    let mut p = Parser { toks, pos: 0 };
    let e = p.or()?;
    if p.pos != p.toks.len() {
        return Err(format!(
            "unexpected {:?} after the expression",
            p.toks[p.pos]
        ));
    }
    Ok(e)
}

impl Expr {
    /// The columns the expression reads.
    pub fn columns(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.walk(&mut |o| {
            if let Operand::Column(c) = o {
                out.push(c.as_str())
            }
        });
        out
    }
    fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Operand)) {
        match self {
            Expr::Or(a, b) | Expr::And(a, b) => {
                a.walk(f);
                b.walk(f)
            }
            Expr::Not(a) => a.walk(f),
            Expr::Cmp(a, _, b) => {
                f(a);
                f(b)
            }
            Expr::Truthy(a) => f(a),
        }
    }

    pub fn eval(&self, row: &Row) -> Result<bool, String> {
        Ok(match self {
            Expr::Or(a, b) => a.eval(row)? || b.eval(row)?,
            Expr::And(a, b) => a.eval(row)? && b.eval(row)?,
            Expr::Not(a) => !a.eval(row)?,
            Expr::Truthy(a) => truthy(&resolve(a, row)?),
            Expr::Cmp(a, op, b) => compare(&resolve(a, row)?, *op, &resolve(b, row)?),
        })
    }
}

fn resolve(o: &Operand, row: &Row) -> Result<Value, String> {
    Ok(match o {
        Operand::Column(c) => row.get(c).cloned().ok_or_else(|| {
            format!(
                "no column {c:?} in the result (columns: {})",
                row.names().collect::<Vec<_>>().join(", ")
            )
        })?,
        Operand::Num(n) => serde_json::json!(n),
        Operand::Str(s) => Value::String(s.clone()),
        Operand::Bool(b) => Value::Bool(*b),
        Operand::Null => Value::Null,
    })
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty() && s != "0" && !s.eq_ignore_ascii_case("false"),
        _ => true,
    }
}

fn compare(a: &Value, op: CmpOp, b: &Value) -> bool {
    if a.is_null() || b.is_null() {
        // Only `x == null` / `x != null` say anything about nulls.
        return match op {
            CmpOp::Eq => a.is_null() && b.is_null(),
            CmpOp::Ne => a.is_null() != b.is_null(),
            _ => false,
        };
    }
    let ord = match (as_number(a), as_number(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y),
        _ => Some(text(a).cmp(&text(b))),
    };
    let Some(ord) = ord else { return false };
    match op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn row() -> Row {
        Row::from_pairs([
            ("app", json!("batch")),
            ("idle", json!(12)),
            ("lag", json!("3.5")),
            ("gone", Value::Null),
        ])
    }

    #[test]
    fn evaluates() {
        let r = row();
        let t = |s: &str| parse(s).unwrap().eval(&r).unwrap();
        assert!(t("idle >= 5"));
        assert!(!t("idle < 5"));
        assert!(t("idle >= 5 and app == 'batch'"));
        assert!(t("app != \"shop\" and (idle > 100 or lag > 3)"));
        assert!(t("not idle > 100"));
        assert!(!t("gone > 1"));
        assert!(!t("gone < 1"));
        assert!(t("gone == null"));
        assert!(t("idle"));
        assert!(t("-1 < idle"));
        assert!(t("lag = 3.5"));
    }

    #[test]
    fn errors_are_clear() {
        assert!(parse("idle >=").unwrap_err().contains("ends too early"));
        assert!(parse("(idle > 1").unwrap_err().contains("missing ')'"));
        assert!(parse("idle ! 3").is_err());
        assert!(parse("'open").unwrap_err().contains("unterminated"));
        let e = parse("nope > 1").unwrap().eval(&row()).unwrap_err();
        assert!(e.contains("no column \"nope\""), "{e}");
        assert_eq!(
            parse("a > 1 and b < c").unwrap().columns(),
            vec!["a", "b", "c"]
        );
    }

    proptest! {
        #[test]
        fn parser_never_panics(s in "[a-z0-9 ()<>=!'\".-]{0,40}") {
            if let Ok(e) = parse(&s) {
                let _ = e.eval(&row());
            }
        }

        #[test]
        fn numeric_thresholds_match_rust(v in -1e6f64..1e6, t in -1e6f64..1e6) {
            let r = Row::from_pairs([("v", json!(v))]);
            let e = parse(&format!("v > {t}")).unwrap();
            prop_assert_eq!(e.eval(&r).unwrap(), v > t);
        }
    }
}
