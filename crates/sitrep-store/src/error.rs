use std::path::PathBuf;
use std::time::Duration;

/// Why the store failed. Each message says what to do; none repeats its cause, because none
/// has one: sqlx's errors already print their own causes, so they are flattened into the
/// message once (see [`describe`]) rather than chained.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot connect to the database at {url}: {problem}")]
    Connect {
        url: String,
        problem: ConnectProblem,
    },
    #[error(
        "{} is not a SQLite database ({what}); move it aside (sitrep then creates a new, empty one) or restore it from a backup",
        path.display()
    )]
    NotADatabase { path: PathBuf, what: String },
    #[error("cannot open the SQLite database {}: {message}", path.display())]
    OpenFile { path: PathBuf, message: String },
    #[error("database migration {version} ({name}) failed: {message}")]
    Migrate {
        version: i64,
        name: &'static str,
        message: String,
    },
    #[error(
        "the database schema is at version {found}, newer than this sitrep knows ({known}); upgrade sitrep"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    #[error("{}", describe(.0))]
    Sql(sqlx::Error),
    /// A write that found its rows changed since they were read; the message says what to do.
    #[error("{0}")]
    Conflict(String),
    #[error("corrupt row in {table}: {message}")]
    Corrupt {
        table: &'static str,
        message: String,
    },
    /// One failure of a write that several callers shared (a group commit): each is told.
    #[error(transparent)]
    Shared(std::sync::Arc<StoreError>),
    /// The writer that commits for several callers has stopped.
    #[error("the database writer has stopped (sitrep is shutting down); send it again")]
    WriterStopped,
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Sql(e)
    }
}

/// Why a connection to the database could not be made, with what to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectProblem {
    Refused { addr: String },
    Unreachable { addr: String, detail: String },
    TimedOut { addr: String, after: Duration },
    NameNotResolved { host: String },
    AuthFailed { user: String, detail: String },
    NoDatabase { name: String },
    Tls { detail: String },
    Other { detail: String },
}

impl std::fmt::Display for ConnectProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectProblem::Refused { addr } => write!(
                f,
                "connection refused by {addr}; check that PostgreSQL is running and listening on that address and port"
            ),
            ConnectProblem::Unreachable { addr, detail } => write!(
                f,
                "{addr} is unreachable ({detail}); check the host name and the network path to it"
            ),
            ConnectProblem::TimedOut { addr, after } => write!(
                f,
                "no answer from {addr} within {} s; check that the host is up and that no firewall drops the connection",
                after.as_secs_f64()
            ),
            ConnectProblem::NameNotResolved { host } => {
                write!(
                    f,
                    "the host name {host:?} does not resolve; check its spelling and DNS"
                )
            }
            ConnectProblem::AuthFailed { user, detail } => write!(
                f,
                "authentication failed for user {user:?} ({detail}); check the user and password in the URL and the server's pg_hba.conf"
            ),
            ConnectProblem::NoDatabase { name } => write!(
                f,
                "the database {name:?} does not exist on that server; create it (CREATE DATABASE {name}) or fix its name in the URL"
            ),
            ConnectProblem::Tls { detail } => write!(
                f,
                "the TLS handshake failed ({detail}); check sslmode in the URL and the server's certificate"
            ),
            ConnectProblem::Other { detail } => f.write_str(detail),
        }
    }
}

/// One line for a sqlx error: its innermost message with what kind of failure it was, never
/// the same text twice.
pub fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => match d.code() {
            Some(code) => format!("database error {code}: {}", d.message()),
            None => format!("database error: {}", d.message()),
        },
        sqlx::Error::Io(io) => format!("I/O error talking to the database: {io}"),
        sqlx::Error::PoolTimedOut => {
            "no database connection became available in time: the database is overloaded, locked by another process, or unreachable".into()
        }
        sqlx::Error::PoolClosed => "the database connection pool is closed".into(),
        sqlx::Error::Tls(t) => format!("TLS error talking to the database: {t}"),
        sqlx::Error::Configuration(c) => format!("invalid database URL: {c}"),
        other => other.to_string(),
    }
}
