#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot open database {url}: {source} (check --database-url / SITREP_DATABASE_URL and that the server is running)"
    )]
    Connect { url: String, source: sqlx::Error },
    #[error("database migration {version} ({name}) failed: {source}")]
    Migrate {
        version: i64,
        name: &'static str,
        source: sqlx::Error,
    },
    #[error(
        "the database schema is at version {found}, newer than this sitrep knows ({known}); upgrade sitrep"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("corrupt row in {table}: {message}")]
    Corrupt {
        table: &'static str,
        message: String,
    },
}
