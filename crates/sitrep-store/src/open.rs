//! Opening a database so that failures name their cause at once: a file that is not a SQLite
//! database is recognised from its header before SQLite sees it, and the first PostgreSQL
//! connection is made directly (not through the pool, which retries refused connections until
//! its timeout and then reports only "pool timed out") and classified.

use crate::error::{ConnectProblem, StoreError, describe};
use crate::sql::redact_url;
use sqlx::{AnyConnection, Connection};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The first 16 bytes of every SQLite 3 database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
const SQLITE_BUSY: i64 = 5;
const SQLITE_CORRUPT: i64 = 11;
const SQLITE_CANTOPEN: i64 = 14;
const SQLITE_NOTADB: i64 = 26;

/// How long opening a SQLite database retries while another process holds it locked.
const SQLITE_BUSY_WAIT: Duration = Duration::from_secs(10);

/// Pragmas every SQLite connection runs. `busy_timeout` comes first so that the others wait
/// for a lock held by a concurrent first start instead of failing at once.
pub const SQLITE_PRAGMAS: &[&str] = &[
    "PRAGMA busy_timeout = 10000",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
];

/// The file a `sqlite:` URL names (`None` for an in-memory database).
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// What the database file is, as far as its header tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqliteFile {
    /// Missing or empty: SQLite creates the database.
    New,
    /// A database in WAL mode (what sitrep makes).
    Wal,
    /// A database in another journal mode.
    Other,
}

/// Refuses a file that cannot be a SQLite database, saying what it looks like. A missing or
/// empty file is fine: SQLite creates the database in it.
pub fn check_sqlite_file(path: &Path) -> Result<SqliteFile, StoreError> {
    let not_db = |what: String| StoreError::NotADatabase {
        path: path.to_path_buf(),
        what,
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(SqliteFile::New),
        Err(e) => {
            return Err(StoreError::OpenFile {
                path: path.to_path_buf(),
                message: e.to_string(),
            });
        }
    };
    if meta.is_dir() {
        return Err(not_db("it is a directory".into()));
    }
    let len = meta.len();
    if len == 0 {
        return Ok(SqliteFile::New);
    }
    let mut head = Vec::with_capacity(512);
    std::fs::File::open(path)
        .and_then(|f| f.take(512).read_to_end(&mut head))
        .map_err(|e| StoreError::OpenFile {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    if !head.starts_with(SQLITE_MAGIC) {
        return Err(not_db(if looks_like_text(&head) {
            format!("a text file of {len} bytes")
        } else {
            format!("{len} bytes without a SQLite header")
        }));
    }
    if head.len() < 100 {
        return Err(not_db(format!(
            "truncated: {len} bytes, shorter than the 100-byte SQLite header"
        )));
    }
    let page_size = match u16::from_be_bytes([head[16], head[17]]) {
        1 => 65536,
        p => u64::from(p),
    };
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(not_db(format!(
            "its header is damaged (page size {page_size})"
        )));
    }
    if len < page_size {
        return Err(not_db(format!(
            "truncated: {len} bytes, less than one {page_size}-byte page"
        )));
    }
    // file format write and read versions: 2 is WAL
    Ok(if head[18] == 2 && head[19] == 2 {
        SqliteFile::Wal
    } else {
        SqliteFile::Other
    })
}

fn looks_like_text(head: &[u8]) -> bool {
    !head.contains(&0)
        && match std::str::from_utf8(head) {
            Ok(_) => true,
            // only a character cut by the 512-byte read at the very end
            Err(e) => e.error_len().is_none(),
        }
}

/// The SQLite error code of a database error, if it is one.
fn sqlite_code(e: &sqlx::Error) -> Option<i64> {
    match e {
        sqlx::Error::Database(d) => d.code()?.parse::<i64>().ok().map(|c| c & 0xff),
        _ => None,
    }
}

/// What a SQLite error while opening means for the file.
pub fn sqlite_open_error(path: &Path, e: &sqlx::Error) -> StoreError {
    match sqlite_code(e) {
        Some(SQLITE_CORRUPT | SQLITE_NOTADB) => StoreError::NotADatabase {
            path: path.to_path_buf(),
            what: match e {
                sqlx::Error::Database(d) => d.message().to_string(),
                other => other.to_string(),
            },
        },
        Some(SQLITE_CANTOPEN) => StoreError::OpenFile {
            path: path.to_path_buf(),
            message:
                "the file cannot be created or opened; check that its folder exists and is writable"
                    .into(),
        },
        _ => StoreError::OpenFile {
            path: path.to_path_buf(),
            message: describe(e),
        },
    }
}

/// True when a migration or query failed because the file is damaged.
pub fn is_corruption(e: &sqlx::Error) -> bool {
    matches!(sqlite_code(e), Some(SQLITE_CORRUPT | SQLITE_NOTADB))
}

/// Opens one SQLite connection with the pragmas set, naming the file in every failure.
///
/// Switching a new file to WAL needs an exclusive lock, and SQLite reports "database is
/// locked" at once (without waiting its busy timeout) when several first starts race for it,
/// so a busy database is retried for up to [`SQLITE_BUSY_WAIT`].
pub async fn sqlite_connection(
    url: &str,
    path: Option<&Path>,
) -> Result<AnyConnection, StoreError> {
    let fail = |e: sqlx::Error| match path {
        Some(p) => sqlite_open_error(p, &e),
        None => StoreError::Sql(e),
    };
    let deadline = tokio::time::Instant::now() + SQLITE_BUSY_WAIT;
    let mut nap = Duration::from_millis(2);
    loop {
        let e = match try_sqlite_connection(url).await {
            Ok(conn) => return Ok(conn),
            Err(e) => e,
        };
        if sqlite_code(&e) != Some(SQLITE_BUSY) || tokio::time::Instant::now() >= deadline {
            return Err(fail(e));
        }
        tokio::time::sleep(nap).await;
        nap = (nap * 2).min(Duration::from_millis(100));
    }
}

async fn try_sqlite_connection(url: &str) -> Result<AnyConnection, sqlx::Error> {
    let mut conn = AnyConnection::connect(url).await?;
    for pragma in SQLITE_PRAGMAS {
        if let Err(e) = sqlx::query(*pragma).execute(&mut conn).await {
            let _ = conn.close_hard().await;
            return Err(e);
        }
    }
    Ok(conn)
}

/// Makes the first PostgreSQL connection directly, within `timeout`, and says why it failed.
pub async fn postgres_connection(
    url: &str,
    timeout: Duration,
) -> Result<AnyConnection, StoreError> {
    let target = Target::parse(url);
    let fail = |problem| StoreError::Connect {
        url: redact_url(url),
        problem,
    };
    match tokio::time::timeout(timeout, AnyConnection::connect(url)).await {
        Err(_) => Err(fail(ConnectProblem::TimedOut {
            addr: target.addr(),
            after: timeout,
        })),
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(fail(classify(&e, &target))),
    }
}

/// Host, port, user and database of a `postgres://` URL, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    host: String,
    port: String,
    user: String,
    database: String,
}

impl Target {
    fn parse(url: &str) -> Target {
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        let rest = rest.split('?').next().unwrap_or(rest);
        let (authority, database) = rest.split_once('/').unwrap_or((rest, ""));
        let (creds, hostport) = authority.rsplit_once('@').unwrap_or(("", authority));
        let user = creds.split(':').next().unwrap_or("").to_string();
        let (host, port) = match hostport.strip_prefix('[') {
            // [::1]:5432
            Some(v6) => {
                let (h, p) = v6.split_once(']').unwrap_or((v6, ""));
                (h.to_string(), p.trim_start_matches(':').to_string())
            }
            None => match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.to_string()),
                None => (hostport.to_string(), String::new()),
            },
        };
        Target {
            host: if host.is_empty() {
                "localhost".into()
            } else {
                host
            },
            port: if port.is_empty() { "5432".into() } else { port },
            user,
            database: database.to_string(),
        }
    }

    fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

fn classify(e: &sqlx::Error, t: &Target) -> ConnectProblem {
    use std::io::ErrorKind;
    match e {
        sqlx::Error::Io(io) => match io.kind() {
            ErrorKind::ConnectionRefused => ConnectProblem::Refused { addr: t.addr() },
            ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => {
                ConnectProblem::Unreachable {
                    addr: t.addr(),
                    detail: io.to_string(),
                }
            }
            ErrorKind::TimedOut => ConnectProblem::TimedOut {
                addr: t.addr(),
                after: Duration::ZERO,
            },
            _ if io.to_string().contains("lookup") => ConnectProblem::NameNotResolved {
                host: t.host.clone(),
            },
            _ => ConnectProblem::Other {
                detail: describe(e),
            },
        },
        sqlx::Error::Database(d) => match d.code().as_deref() {
            // invalid_password, invalid_authorization_specification (no pg_hba entry, no role)
            Some("28P01" | "28000") => ConnectProblem::AuthFailed {
                user: t.user.clone(),
                detail: d.message().to_string(),
            },
            Some("3D000") => ConnectProblem::NoDatabase {
                name: t.database.clone(),
            },
            _ => ConnectProblem::Other {
                detail: describe(e),
            },
        },
        sqlx::Error::Tls(x) => ConnectProblem::Tls {
            detail: x.to_string(),
        },
        _ => ConnectProblem::Other {
            detail: describe(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_target() {
        let t = Target::parse("postgres://app:pw@db.example:6432/shop?sslmode=disable");
        assert_eq!(t.addr(), "db.example:6432");
        assert_eq!((t.user.as_str(), t.database.as_str()), ("app", "shop"));
        let t = Target::parse("postgresql://x@[::1]/y");
        assert_eq!(t.addr(), "::1:5432");
        assert_eq!(Target::parse("postgres:///y").addr(), "localhost:5432");
    }

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            sqlite_path("sqlite:///a/b.db?mode=rwc"),
            Some(PathBuf::from("/a/b.db"))
        );
        assert_eq!(sqlite_path("sqlite:rel.db"), Some(PathBuf::from("rel.db")));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
    }

    #[test]
    fn files_that_are_not_databases_say_what_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.db");
        let what = |bytes: &[u8]| {
            std::fs::write(&p, bytes).unwrap();
            match check_sqlite_file(&p) {
                Err(StoreError::NotADatabase { what, .. }) => what,
                other => panic!("{other:?}"),
            }
        };
        assert!(what(b"hello\nworld\n").contains("a text file of 12 bytes"));
        assert!(what(&[0xff, 0, 1, 2]).contains("without a SQLite header"));
        let mut header = SQLITE_MAGIC.to_vec();
        header.resize(100, 0);
        header[16] = 0x10; // 4096-byte pages
        assert!(what(&header).contains("truncated: 100 bytes"));
        assert!(what(&header[..40]).contains("shorter than the 100-byte"));
        std::fs::write(&p, b"").unwrap();
        assert_eq!(check_sqlite_file(&p).unwrap(), SqliteFile::New);
        assert_eq!(
            check_sqlite_file(&dir.path().join("missing.db")).unwrap(),
            SqliteFile::New
        );
    }
}
