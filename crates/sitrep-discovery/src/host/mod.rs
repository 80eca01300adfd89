//! The local host: processes, listening sockets and established TCP connections from `/proc`,
//! and what the processes' configuration says about the servers around them.
//!
//! A process that listens becomes a resource (its children, such as PostgreSQL backends or
//! nginx workers, belong to it); a long-running process that only connects out, or is
//! configured to use a data store, becomes one too (a worker such as `batch`). An established
//! connection from a process of A to a listener of B is the edge A depends-on B (or A monitors
//! B when A is Prometheus or an exporter), and so is a DSN in A's configuration. A server that
//! configuration names but that does not listen now (down, restarting, crash-looping) stays on
//! the map under the name and kind it has when it is up, with `status.health = "down"`.
//! Reading other users' `/proc/PID/fd` needs root or CAP_SYS_PTRACE; without it only the
//! caller's own processes show their connections.

mod build;
mod classify;
mod down;
pub mod evidence;
pub mod files;
pub mod nginx_conf;
pub mod postgres;
mod probe;
pub mod procfs;
mod read;

pub use build::{POSTGRES_DATABASE, build};
pub use read::read_snapshot;

use crate::DiscoveryError;
use crate::config::HostConfig;
use evidence::Facts;
use postgres::PgFacts;
use procfs::TcpEntry;
use sitrep_core::map::Inventory;
use std::collections::{BTreeSet, HashMap};

pub const SOURCE: &str = "host";

/// One process as read from `/proc`.
#[derive(Debug, Clone)]
pub struct Proc {
    pub pid: u32,
    pub ppid: u32,
    pub comm: String,
    /// Basename of `/proc/PID/exe` (falls back to argv[0], then comm).
    pub exe: String,
    pub exe_path: String,
    pub args: Vec<String>,
    pub user: String,
    /// Seconds since it started.
    pub age_s: f64,
}

/// A command a supervisor process runs (found in its command line), with what that command's
/// configuration files say.
#[derive(Debug, Clone, Default)]
pub struct Supervised {
    pub args: Vec<String>,
    pub facts: Facts,
}

/// Everything the host indexer reads, so that building the inventory is a pure function.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub hostname: String,
    pub kernel: String,
    pub procs: HashMap<u32, Proc>,
    pub sockets: Vec<TcpEntry>,
    pub inode_pids: HashMap<u64, Vec<u32>>,
    /// The scanning process: it and its descendants are never mapped.
    pub self_pid: u32,
    /// nginx config text by root pid (read during the scan).
    pub nginx_confs: HashMap<u32, nginx_conf::NginxConf>,
    /// What each process's environment, command line and configuration files name (exclusions
    /// apply when building).
    pub facts: HashMap<u32, Facts>,
    /// Commands supervisors run, by supervisor pid.
    pub supervised: HashMap<u32, Supervised>,
    /// PostgreSQL servers' own files, by postmaster pid.
    pub postgres: HashMap<u32, PgFacts>,
    /// MySQL/MariaDB servers' databases (their data directory), by server pid.
    pub mysql: HashMap<u32, Vec<String>>,
    /// Ports of local servers an earlier discovery found: a young process listening there is
    /// that server restarted.
    pub known_ports: BTreeSet<u16>,
}

#[cfg(test)]
mod tests;

pub struct HostIndexer {
    pub config: HostConfig,
    pub client: reqwest::Client,
    /// Ports of local servers already on the map (see [`Snapshot::known_ports`]).
    pub known_ports: BTreeSet<u16>,
}

#[async_trait::async_trait]
impl crate::Indexer for HostIndexer {
    fn source(&self) -> String {
        SOURCE.into()
    }

    async fn index(&self) -> Result<Inventory, DiscoveryError> {
        let cfg = self.config.clone();
        // /proc reads and the sampling sleeps block: keep them off the runtime's workers.
        let mut snap = tokio::task::spawn_blocking(move || read_snapshot(&cfg))
            .await
            .map_err(|e| DiscoveryError::Io {
                what: "/proc".into(),
                source: std::io::Error::other(e.to_string()),
            })??;
        snap.known_ports = self.known_ports.clone();
        let mut inv = build(&snap, &self.config);
        inv = files::attach(inv).await;
        if self.config.probe_http {
            probe::probe_http(&self.client, &crate::run::insecure_http_client(), &mut inv).await;
        }
        Ok(inv)
    }
}
