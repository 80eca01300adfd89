//! sitrep-analytics: pure analytics that turn raw signals into compact insights.
//!
//! * [`anomaly`]: online, bounded-memory anomaly scores for SLI and metric series.
//! * [`nab`]: a faithful port of the Numenta Anomaly Benchmark scorer (windows,
//!   scaled sigmoid, threshold sweep, normalisation).
//! * [`rca`]: metric root-cause ranking over a dependency graph.
//! * [`logs`]: streaming log-template mining (Drain-style fixed-depth tree).
//! * [`csv`]: tiny CSV helpers used by the above.
//!
//! Everything here is pure: no file or network I/O, no clock reads, no async.
//! Callers read files and pass text in.

pub mod anomaly;
pub mod cad;
pub mod csv;
pub mod error;
pub mod logs;
pub mod nab;
pub mod rca;

#[cfg(test)]
mod test_noise;

pub use error::AnalyticsError;
