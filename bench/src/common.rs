//! Shared helpers for the analytics benchmark binaries: data-dir resolution, tiny
//! argument parsing, timing and table printing.

use std::path::{Path, PathBuf};

/// Parsed common flags: `--data DIR`, `--quick`, plus free `--key value` options.
#[derive(Debug, Default)]
pub struct Args {
    pub data: Option<PathBuf>,
    pub quick: bool,
    pub json: bool,
    pub rest: Vec<(String, Option<String>)>,
}

impl Args {
    /// Parse `std::env::args()`. Unknown `--key value` pairs are kept in `rest`.
    pub fn parse(usage: &str) -> Args {
        let mut a = Args::default();
        let mut it = std::env::args().skip(1).peekable();
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--data" => {
                    a.data = Some(PathBuf::from(
                        it.next()
                            .unwrap_or_else(|| die(usage, "--data needs a directory")),
                    ))
                }
                "--quick" => a.quick = true,
                "--json" => a.json = true,
                "-h" | "--help" => {
                    println!("{usage}");
                    std::process::exit(0);
                }
                k if k.starts_with("--") => {
                    let v = match it.peek() {
                        Some(v) if !v.starts_with("--") => it.next(),
                        _ => None,
                    };
                    a.rest.push((k.to_string(), v));
                }
                other => die(usage, &format!("unexpected argument '{other}'")),
            }
        }
        a
    }

    pub fn opt(&self, key: &str) -> Option<&str> {
        self.rest
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.as_deref())
    }

    /// The data folder for one data set: `--data` if given (used as is), else
    /// `$SITREP_DATA_DIR/<sub>`, else `<repo>/../shared/data/<sub>`.
    pub fn data_dir(&self, sub: &str) -> PathBuf {
        let dir = match &self.data {
            Some(d) => d.clone(),
            None => std::env::var_os("SITREP_DATA_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"))
                .join(sub),
        };
        if !dir.is_dir() {
            eprintln!(
                "error: data folder {} not found; pass --data DIR or set SITREP_DATA_DIR (the folder holding {sub}/)",
                dir.display()
            );
            std::process::exit(2);
        }
        dir
    }
}

/// The value after `NAME` on the command line (`--n 30`), parsed; `default` when it is not
/// given. A value that does not parse ends the bench with a message.
pub fn flag<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    match args
        .iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
    {
        None => default,
        Some(v) => v.parse().unwrap_or_else(|_| {
            die(
                &format!("usage: ... {name} VALUE"),
                &format!("{name} {v:?} is not a valid value"),
            )
        }),
    }
}

pub fn die(usage: &str, msg: &str) -> ! {
    eprintln!("error: {msg}\n\n{usage}");
    std::process::exit(2)
}

pub fn read(p: &Path) -> String {
    match std::fs::read(p) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", p.display());
            std::process::exit(1)
        }
    }
}

/// Sorted sub-directories of `dir`.
pub fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

pub fn name(p: &Path) -> String {
    p.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Print a plain-text table with a header row.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut w: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < w.len() {
                w[i] = w[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let s: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == 0 {
                    format!("{:<w$}", c, w = w[i])
                } else {
                    format!("{:>w$}", c, w = w[i])
                }
            })
            .collect();
        println!("{}", s.join("  "));
    };
    line(header.iter().map(|s| s.to_string()).collect());
    println!(
        "{}",
        w.iter()
            .map(|&n| "-".repeat(n))
            .collect::<Vec<_>>()
            .join("  ")
    );
    for r in rows {
        line(r.clone());
    }
}
