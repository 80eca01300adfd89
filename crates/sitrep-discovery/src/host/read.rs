//! Reading the machine: `/proc` (processes, sockets, environments), the configuration files
//! command lines name, nginx's configuration and PostgreSQL's data directories. Blocking: call
//! from `spawn_blocking`. Everything here only gathers; `build` decides.

use super::classify::basename;
use super::evidence::{self, Facts, MAX_CONFIG_BYTES};
use super::postgres::{self, ConfValues, PgFacts};
use super::{Proc, Snapshot, Supervised, nginx_conf, procfs};
use crate::DiscoveryError;
use crate::config::HostConfig;
use procfs::{TCP_ESTABLISHED, TCP_LISTEN};
use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Configuration files read in one scan at most (a machine with thousands of processes
/// started with `--config` must not turn discovery into a file crawl).
const MAX_FILES_PER_SCAN: usize = 400;

/// Reads `/proc`. Sockets are sampled `samples` times so that connections that come and go
/// (a pool's idle connection, a scrape) are caught.
pub fn read_snapshot(cfg: &HostConfig) -> Result<Snapshot, DiscoveryError> {
    let proc_root = Path::new("/proc");
    let io = |what: &str, e: std::io::Error| DiscoveryError::Io {
        what: what.to_string(),
        source: e,
    };
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .map_err(|e| io("/proc/uptime", e))?
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0);
    // SAFETY: sysconf only reads a constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let users: HashMap<u32, String> = std::fs::read_to_string("/etc/passwd")
        .map(|t| procfs::parse_passwd(&t).into_iter().collect())
        .unwrap_or_default();
    let mut snap = Snapshot {
        hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "localhost".into()),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        self_pid: std::process::id(),
        ..Snapshot::default()
    };
    let pids: Vec<u32> = std::fs::read_dir(proc_root)
        .map_err(|e| io("/proc", e))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    let mut cwds: HashMap<u32, PathBuf> = HashMap::new();
    for &pid in &pids {
        let dir = proc_root.join(pid.to_string());
        // Processes exit while we read: anything missing just skips the process.
        let Some(stat) = std::fs::read_to_string(dir.join("stat"))
            .ok()
            .and_then(|s| procfs::parse_stat(&s))
        else {
            continue;
        };
        let args = std::fs::read(dir.join("cmdline"))
            .map(|b| procfs::parse_cmdline(&b))
            .unwrap_or_default();
        if args.is_empty() {
            continue; // kernel threads
        }
        let exe_path = std::fs::read_link(dir.join("exe"))
            .map(|p| {
                p.to_string_lossy()
                    .trim_end_matches(" (deleted)")
                    .to_string()
            })
            .unwrap_or_else(|_| args[0].clone());
        let exe = basename(&exe_path);
        let uid = std::fs::read_to_string(dir.join("status"))
            .ok()
            .and_then(|s| procfs::parse_uid(&s));
        if let Ok(cwd) = std::fs::read_link(dir.join("cwd")) {
            cwds.insert(pid, cwd);
        }
        snap.procs.insert(
            pid,
            Proc {
                pid,
                ppid: stat.ppid,
                comm: stat.comm,
                exe,
                exe_path,
                args,
                user: uid
                    .map(|u| users.get(&u).cloned().unwrap_or_else(|| u.to_string()))
                    .unwrap_or_default(),
                age_s: uptime - stat.start_ticks as f64 / ticks,
            },
        );
    }
    let mut seen = BTreeSet::new();
    for i in 0..cfg.samples.max(1) {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(cfg.sample_interval_ms));
        }
        for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
            if let Ok(text) = std::fs::read_to_string(file) {
                for e in procfs::parse_tcp(&text) {
                    if (e.state == TCP_LISTEN || e.state == TCP_ESTABLISHED)
                        && e.inode != 0
                        && seen.insert(e.inode)
                    {
                        snap.sockets.push(e);
                    }
                }
            }
        }
        // Sockets opened between samples have new inodes: map them to processes again.
        for &pid in snap.procs.keys() {
            let Ok(fds) = std::fs::read_dir(proc_root.join(pid.to_string()).join("fd")) else {
                continue;
            };
            for fd in fds.flatten() {
                if let Some(inode) = std::fs::read_link(fd.path())
                    .ok()
                    .and_then(|l| procfs::socket_inode(&l.to_string_lossy()))
                {
                    let v = snap.inode_pids.entry(inode).or_default();
                    if !v.contains(&pid) {
                        v.push(pid);
                    }
                }
            }
        }
    }
    let mut budget = MAX_FILES_PER_SCAN;
    let procs: Vec<Proc> = snap.procs.values().cloned().collect();
    for p in &procs {
        let is_root = snap.procs.get(&p.ppid).is_none_or(|pp| pp.exe != p.exe);
        if p.exe == "nginx" && is_root {
            if let Some(conf) = read_nginx_conf(p) {
                snap.nginx_confs.insert(p.pid, conf);
            }
        }
        if is_postgres(p) && is_root {
            snap.postgres.insert(p.pid, read_postgres(p, proc_root));
        }
        if matches!(p.exe.as_str(), "mysqld" | "mariadbd") && is_root {
            snap.mysql.insert(p.pid, read_mysql_databases(p));
        }
        // What the process is configured to use; children sharing their parent's program and
        // command line add nothing.
        let same_as_parent = snap
            .procs
            .get(&p.ppid)
            .is_some_and(|pp| pp.exe == p.exe && pp.args == p.args);
        if same_as_parent {
            continue;
        }
        let cwd = cwds.get(&p.pid).map(PathBuf::as_path);
        // A supervisor's own arguments end where the command it runs begins; what that
        // command's configuration says belongs to the program, not to the supervisor.
        let own = [
            p.exe_path.as_str(),
            p.args.get(1).map_or("", String::as_str),
        ];
        let embedded = evidence::embedded_command(&p.args, &own, is_executable);
        let own_args = &p.args[..p.args.len() - embedded.as_ref().map_or(0, Vec::len)];
        let mut facts = evidence::argv(own_args);
        if let Ok(raw) = std::fs::read(proc_root.join(p.pid.to_string()).join("environ")) {
            facts.extend(evidence::environ(&raw));
        }
        facts.extend(read_configs(own_args, cwd, &mut budget));
        if !facts.is_empty() {
            snap.facts.insert(p.pid, facts);
        }
        if let Some(cmd) = embedded {
            let mut facts = evidence::argv(&cmd);
            facts.extend(read_configs(&cmd, cwd, &mut budget));
            snap.supervised
                .insert(p.pid, Supervised { args: cmd, facts });
        }
    }
    Ok(snap)
}

fn is_executable(path: &str) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The configuration files a command line names, read (bounded) and scanned.
fn read_configs(args: &[String], cwd: Option<&Path>, budget: &mut usize) -> Facts {
    let mut facts = Facts::default();
    for path in evidence::config_paths(args) {
        if *budget == 0 {
            break;
        }
        let full = match (Path::new(&path).is_absolute(), cwd) {
            (true, _) => PathBuf::from(&path),
            (false, Some(dir)) => dir.join(&path),
            (false, None) => continue,
        };
        if let Some(text) = read_bounded(&full) {
            *budget -= 1;
            facts.extend(evidence::config_text(&text, &full.to_string_lossy()));
        }
    }
    facts
}

/// A regular file's first [`MAX_CONFIG_BYTES`], as text.
fn read_bounded(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    let mut buf = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_CONFIG_BYTES)
        .read_to_end(&mut buf)
        .ok()?;
    Some(String::from_utf8_lossy(&buf).into_owned())
}

fn is_postgres(p: &Proc) -> bool {
    matches!(p.exe.as_str(), "postgres" | "postmaster")
        && !p.args.first().is_some_and(|a| a.starts_with("postgres:"))
}

/// The data directory's standby markers, `primary_conninfo` and `pg_database` catalog.
fn read_postgres(p: &Proc, proc_root: &Path) -> PgFacts {
    let flag = |names: &[&str]| {
        p.args.iter().enumerate().find_map(|(i, a)| {
            names.iter().find_map(|n| {
                if a == n {
                    p.args.get(i + 1).cloned()
                } else {
                    a.strip_prefix(&format!("{n}=")).map(str::to_string)
                }
            })
        })
    };
    let env_pgdata = || {
        let raw = std::fs::read(proc_root.join(p.pid.to_string()).join("environ")).ok()?;
        raw.split(|&b| b == 0).find_map(|e| {
            std::str::from_utf8(e)
                .ok()?
                .strip_prefix("PGDATA=")
                .map(str::to_string)
        })
    };
    let Some(data) = flag(&["-D", "--pgdata"]).or_else(env_pgdata) else {
        return PgFacts::default();
    };
    let data = PathBuf::from(data);
    // `-c config_file=...` (Debian keeps the configuration under /etc).
    let config_file = p.args.iter().find_map(|a| {
        a.strip_prefix("config_file=")
            .or_else(|| a.strip_prefix("--config-file="))
            .or_else(|| a.strip_prefix("--config_file="))
            .map(PathBuf::from)
    });
    let mut conf = ConfValues::default();
    for f in [
        config_file.unwrap_or_else(|| data.join("postgresql.conf")),
        data.join("postgresql.auto.conf"),
        data.join("recovery.conf"),
    ] {
        if let Some(text) = read_bounded(&f) {
            postgres::parse_conf(&text, &mut conf);
        }
    }
    let standby = ["standby.signal", "recovery.signal", "recovery.conf"]
        .iter()
        .any(|f| data.join(f).exists());
    let filenode = std::fs::read(data.join("global/pg_filenode.map"))
        .ok()
        .and_then(|m| postgres::mapped_filenode(&m, postgres::PG_DATABASE_OID))
        .unwrap_or(postgres::PG_DATABASE_OID);
    let heap = std::fs::read(data.join("global").join(filenode.to_string())).ok();
    let catalog_read = heap.is_some();
    let mut databases: Vec<String> = heap
        .map(|heap| postgres::pg_database_tuples(&heap))
        .unwrap_or_default()
        .into_iter()
        .filter(|(oid, name)| {
            !postgres::is_template(name) && data.join("base").join(oid.to_string()).is_dir()
        })
        .map(|(_, name)| name)
        .collect();
    databases.sort();
    databases.dedup();
    PgFacts {
        standby,
        upstream: postgres::upstream(&conf),
        databases,
        catalog_read,
    }
}

/// MySQL/MariaDB keep one directory per database in their data directory (`--datadir`,
/// Debian's default otherwise).
fn read_mysql_databases(p: &Proc) -> Vec<String> {
    let dir = p
        .args
        .iter()
        .find_map(|a| a.strip_prefix("--datadir="))
        .unwrap_or("/var/lib/mysql");
    let names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    postgres::mysql_databases(names)
}

fn read_nginx_conf(p: &Proc) -> Option<nginx_conf::NginxConf> {
    // The master retitles itself: "nginx: master process /usr/sbin/nginx -p DIR -c FILE" is one
    // argument.
    let args: Vec<String> = p
        .args
        .iter()
        .flat_map(|a| a.split_whitespace())
        .map(str::to_string)
        .collect();
    let flag = |f: &str| {
        args.iter()
            .position(|a| a == f)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let prefix = flag("-p").unwrap_or_else(|| "/etc/nginx/".into());
    let path = flag("-c").unwrap_or_else(|| "/etc/nginx/nginx.conf".into());
    let abs = |f: &str| {
        if f.starts_with('/') {
            f.to_string()
        } else {
            format!("{}/{f}", prefix.trim_end_matches('/'))
        }
    };
    let mut conf = nginx_conf::parse(&read_bounded(Path::new(&abs(&path)))?);
    conf.path = Some(abs(&path));
    for inc in conf.includes.clone() {
        if inc.contains('*') {
            continue;
        }
        if let Some(text) = read_bounded(Path::new(&abs(&inc))) {
            conf.absorb(nginx_conf::parse(&text));
        }
    }
    conf.error_log = conf.error_log.map(|f| abs(&f));
    conf.access_log = conf.access_log.map(|f| abs(&f));
    conf.includes.clear();
    conf.finish();
    Some(conf)
}
