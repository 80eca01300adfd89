//! The files a process works with, for the tasks that read them: the configuration files its
//! command line names (`--config X`, `-c X`, `--conf=X`, `-f X.yaml`, a positional
//! `redis.conf`, ...) and the log files it holds open (`/proc/PID/fd` links to regular files
//! ending in `.log` or under a `log`/`logs` directory). They become the resource properties
//! `config_files` and `log_files` (lists of absolute paths), which generation rules hand to
//! the tasks that track configuration changes and read service logs.
//!
//! The derivations are pure functions over what `/proc` shows; [`attach`] reads `/proc` for
//! every resource that carries a pid and keeps only paths that are regular files.

use sitrep_core::map::{Inventory, STATUS};
use std::path::{Path, PathBuf};

/// A process may name this many configuration files and this many log files; the rest are
/// dropped (a task reads each of them on every run).
const MAX_FILES: usize = 16;
/// How many of a process's children are looked at for log files (nginx workers, PostgreSQL's
/// logging collector).
const MAX_CHILDREN: usize = 64;

/// Extensions of files that are configuration whatever flag names them.
const CONFIG_EXTENSIONS: &[&str] = &[
    "conf",
    "cfg",
    "cnf",
    "ini",
    "yaml",
    "yml",
    "json",
    "toml",
    "properties",
    "xml",
    "env",
    "hcl",
];

/// Configuration files named on a command line, as written there (relative paths resolved
/// against `cwd`), in order, without duplicates.
pub fn config_files(args: &[String], cwd: Option<&Path>) -> Vec<String> {
    // Servers that retitle themselves keep their flags in one argument ("nginx: master
    // process /usr/sbin/nginx -c /etc/nginx/nginx.conf").
    let args: Vec<&str> = if args.len() == 1 {
        args[0].split_whitespace().collect()
    } else {
        args.iter().map(String::as_str).collect()
    };
    let mut out: Vec<String> = vec![];
    let mut push = |p: &str| {
        if p.is_empty() || p.starts_with('-') {
            return;
        }
        let abs = absolute(p, cwd);
        if !out.contains(&abs) && out.len() < MAX_FILES {
            out.push(abs);
        }
    };
    let mut i = 1; // argv[0] is the program
    while i < args.len() {
        let a = args[i];
        i += 1;
        if let Some(flag) = a.strip_prefix('-') {
            let flag = flag.trim_start_matches('-');
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (flag, None),
            };
            let name = name.to_ascii_lowercase();
            let takes_value = inline.is_none() && args.get(i).is_some_and(|v| !v.starts_with('-'));
            let value = || inline.or_else(|| takes_value.then(|| args[i]));
            match name.as_str() {
                // `-c FILE` (nginx, many daemons), but `-c name=value` is a setting (PostgreSQL),
                // where `config_file=FILE` still names one.
                "c" => {
                    if let Some(v) = value().filter(|v| !v.contains(char::is_whitespace)) {
                        match v.split_once('=') {
                            Some((k, f)) if k.ends_with("config_file") => push(f),
                            Some(_) => {}
                            None => push(v),
                        }
                        if inline.is_none() {
                            i += 1;
                        }
                    }
                }
                // `-f FILE` means many things (follow, force, foreground): only a file that
                // looks like configuration counts.
                "f" => {
                    if let Some(v) = value().filter(|v| has_config_extension(v)) {
                        push(v);
                        if inline.is_none() {
                            i += 1;
                        }
                    }
                }
                n if is_config_flag(n) => {
                    if let Some(v) = value() {
                        push(v);
                        if inline.is_none() {
                            i += 1;
                        }
                    }
                }
                _ => {}
            }
        } else if has_config_extension(a) && !a.contains('=') {
            // A positional configuration file (`redis-server /etc/redis/redis.conf`).
            push(a);
        }
    }
    out
}

/// Flag names (without dashes, lowercase) that take a configuration file: `config`, `conf`,
/// `config-file`, `config.file`, `configfile`, `defaults-file`, `settings`, and any
/// `*-config`/`*.config`/`*_config`.
fn is_config_flag(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "config",
        "conf",
        "cfg",
        "configfile",
        "conffile",
        "settings",
        "config-file",
        "config_file",
        "config.file",
        "conf-file",
        "conf_file",
        "defaults-file",
        "defaults-extra-file",
    ];
    if EXACT.contains(&name) {
        return true;
    }
    [
        "-config",
        ".config",
        "_config",
        "-conf",
        ".config.file",
        "-config-file",
    ]
    .iter()
    .any(|s| name.ends_with(s))
        && !name.ends_with("dir")
}

fn has_config_extension(p: &str) -> bool {
    let base = p.rsplit('/').next().unwrap_or(p);
    match base.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => {
            CONFIG_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str())
        }
        _ => false,
    }
}

fn absolute(p: &str, cwd: Option<&Path>) -> String {
    if p.starts_with('/') {
        return p.to_string();
    }
    match cwd {
        Some(c) => c.join(p).to_string_lossy().into_owned(),
        None => p.to_string(),
    }
}

/// Log files among the targets of a process's open file descriptors (`readlink
/// /proc/PID/fd/N`): absolute paths ending in `.log` (or `.log.N`), or under a directory
/// called `log` or `logs`; never devices, pipes, sockets, deleted files or binary journals.
pub fn log_files(fd_targets: &[String]) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for t in fd_targets {
        if !t.starts_with('/')
            || t.ends_with(" (deleted)")
            || ["/dev/", "/proc/", "/sys/", "/run/"]
                .iter()
                .any(|p| t.starts_with(p))
        {
            continue;
        }
        let base = t.rsplit('/').next().unwrap_or(t);
        let binary = [
            ".journal",
            ".journal~",
            ".gz",
            ".xz",
            ".zst",
            ".lock",
            ".pid",
            ".db",
        ]
        .iter()
        .any(|e| base.ends_with(e));
        let named_log = base.ends_with(".log")
            || base
                .rsplit_once(".log.")
                .is_some_and(|(_, n)| n.chars().all(|c| c.is_ascii_digit()));
        let in_log_dir = t
            .split('/')
            .rev()
            .skip(1)
            .any(|d| d == "log" || d == "logs");
        if (named_log || in_log_dir) && !binary && !out.contains(t) && out.len() < MAX_FILES {
            out.push(t.clone());
        }
    }
    out
}

/// Records `config_files` and `log_files` on every resource whose observed status carries a
/// pid (read from `/proc`, off the async runtime). A process that is down (no pid, but its
/// command line known from its supervisor or configuration) gets the configuration files its
/// command line names; its log files cannot be seen until it runs. Paths that are not regular
/// files now are left out; a resource without any keeps no property.
pub async fn attach(mut inv: Inventory) -> Inventory {
    let sources: Vec<(usize, FilesOf)> = inv
        .resources
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let pid = r
                .properties
                .get(STATUS)
                .and_then(|s| s.get("pid"))
                .and_then(|p| p.as_u64())
                .and_then(|p| u32::try_from(p).ok());
            match pid {
                Some(pid) => Some((i, FilesOf::Pid(pid))),
                None => {
                    let cmdline = r.properties.get("cmdline")?.as_str()?;
                    Some((i, FilesOf::Command(cmdline.to_string())))
                }
            }
        })
        .collect();
    if sources.is_empty() {
        return inv;
    }
    let found = tokio::task::spawn_blocking(move || {
        sources
            .into_iter()
            .map(|(i, of)| match of {
                FilesOf::Pid(pid) => (i, read_files(pid)),
                FilesOf::Command(cmdline) => (
                    i,
                    ProcFiles {
                        config: config_files(&[cmdline], None)
                            .into_iter()
                            .filter(|p| is_regular(p))
                            .collect(),
                        logs: vec![],
                    },
                ),
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_else(|e| {
        tracing::warn!(error = %e, "reading processes' files failed");
        vec![]
    });
    for (i, files) in found {
        let r = &mut inv.resources[i];
        if !files.config.is_empty() {
            r.properties
                .insert("config_files".into(), files.config.into());
        }
        if !files.logs.is_empty() {
            r.properties.insert("log_files".into(), files.logs.into());
        }
    }
    inv
}

/// Where a resource's files are learnt from: its running process, or the command line a
/// stopped one is known to run.
enum FilesOf {
    Pid(u32),
    Command(String),
}

/// What one process's files are, as read from `/proc` now.
#[derive(Debug, Default)]
struct ProcFiles {
    config: Vec<String>,
    logs: Vec<String>,
}

fn read_files(pid: u32) -> ProcFiles {
    let dir = PathBuf::from(format!("/proc/{pid}"));
    let args = std::fs::read(dir.join("cmdline"))
        .map(|b| super::procfs::parse_cmdline(&b))
        .unwrap_or_default();
    let cwd = std::fs::read_link(dir.join("cwd")).ok();
    let config = config_files(&args, cwd.as_deref())
        .into_iter()
        .filter(|p| is_regular(p))
        .collect();
    let mut targets = fd_targets(&dir);
    for child in children(pid).into_iter().take(MAX_CHILDREN) {
        targets.extend(fd_targets(&PathBuf::from(format!("/proc/{child}"))));
    }
    let logs = log_files(&targets)
        .into_iter()
        .filter(|p| is_regular(p))
        .collect();
    ProcFiles { config, logs }
}

fn fd_targets(dir: &Path) -> Vec<String> {
    let Ok(fds) = std::fs::read_dir(dir.join("fd")) else {
        return vec![];
    };
    fds.flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .map(|l| l.to_string_lossy().into_owned())
        .collect()
}

fn children(pid: u32) -> Vec<u32> {
    // /proc/PID/task/PID/children lists the direct children of the main thread.
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .map(|s| {
            s.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn is_regular(p: &str) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn args(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn config_flags_in_their_common_spellings() {
        let cases: &[(&str, &[&str])] = &[
            (
                "shopfront serve --config /srv/shop.conf",
                &["/srv/shop.conf"],
            ),
            ("app --config=/etc/app/app.toml", &["/etc/app/app.toml"]),
            (
                "haproxy -f /etc/haproxy/haproxy.cfg",
                &["/etc/haproxy/haproxy.cfg"],
            ),
            (
                "prometheus --config.file=/etc/prometheus/prometheus.yml --storage.tsdb.path=/data",
                &["/etc/prometheus/prometheus.yml"],
            ),
            (
                "mysqld --defaults-file=/etc/mysql/my.cnf",
                &["/etc/mysql/my.cnf"],
            ),
            ("agent -config /etc/agent.hcl", &["/etc/agent.hcl"]),
            (
                "worker --conf /etc/w.ini --log-level debug",
                &["/etc/w.ini"],
            ),
            (
                "redis-server /etc/redis/redis.conf",
                &["/etc/redis/redis.conf"],
            ),
            ("exporter --web.config.file=/etc/web.yml", &["/etc/web.yml"]),
            (
                "svc --settings /etc/s.json --config /etc/s.json",
                &["/etc/s.json"],
            ),
        ];
        for (cmd, want) in cases {
            assert_eq!(config_files(&args(cmd), None), *want, "{cmd}");
        }
    }

    #[test]
    fn what_is_not_a_configuration_file() {
        // -f without a configuration extension (tail -f, --force), PostgreSQL settings, dirs
        assert!(config_files(&args("tail -f /var/log/syslog"), None).is_empty());
        assert!(config_files(&args("postgres -D /data -c shared_buffers=1GB"), None).is_empty());
        assert!(config_files(&args("app --config-dir /etc/app.d"), None).is_empty());
        assert!(config_files(&args("python3 /srv/app.py --port 80"), None).is_empty());
        assert!(config_files(&args("app --config"), None).is_empty());
        assert!(config_files(&[], None).is_empty());
    }

    #[test]
    fn postgres_config_file_setting_and_retitled_servers() {
        assert_eq!(
            config_files(
                &args("postgres -D /d -c config_file=/etc/pg/postgresql.conf"),
                None
            ),
            ["/etc/pg/postgresql.conf"]
        );
        let retitled =
            vec!["nginx: master process /usr/sbin/nginx -p /srv/ -c /srv/nginx.conf".to_string()];
        assert_eq!(config_files(&retitled, None), ["/srv/nginx.conf"]);
    }

    #[test]
    fn relative_paths_resolve_against_the_working_directory() {
        assert_eq!(
            config_files(&args("app -c conf/app.yaml"), Some(Path::new("/srv/app"))),
            ["/srv/app/conf/app.yaml"]
        );
    }

    #[test]
    fn log_files_among_open_descriptors() {
        let fds: Vec<String> = [
            "/dev/null",
            "socket:[34836]",
            "pipe:[5686]",
            "/srv/shop/shopfront.log",
            "/srv/shop/shopfront.log",
            "/var/log/nginx/access.log.1",
            "/var/lib/app/logs/current",
            "/var/log/journal/abc/system.journal",
            "/srv/data/table.db",
            "/tmp/old.log (deleted)",
            "/srv/app/data.bin",
            "anon_inode:[eventpoll]",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            log_files(&fds),
            [
                "/srv/shop/shopfront.log",
                "/var/log/nginx/access.log.1",
                "/var/lib/app/logs/current"
            ]
        );
    }

    #[test]
    fn interpreter_code_is_not_a_file() {
        assert!(config_files(&args("python3 -c import_sys;_print(1) x"), None).len() <= 1);
        let code = vec!["bash".into(), "-c".into(), "exec sleep 1".into()];
        assert!(config_files(&code, None).is_empty());
    }

    /// A real process: its `--config` file and the log file it holds open are recorded, a
    /// configuration file that does not exist is not.
    #[tokio::test]
    async fn attach_reads_a_live_process() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("app.conf");
        let log = dir.path().join("svc.log");
        let script = dir.path().join("svc");
        std::fs::write(&conf, "k = v\n").unwrap();
        // the `read` builtin waits on the pipe: no child process to clean up
        std::fs::write(
            &script,
            "exec 3>>\"$LOG\"; echo started >&3; read -t 30 line\n",
        )
        .unwrap();
        let mut child = std::process::Command::new("bash")
            .arg(&script)
            .arg("--config")
            .arg(&conf)
            .arg("--settings")
            .arg(dir.path().join("missing.yaml"))
            .env("LOG", &log)
            .stdin(std::process::Stdio::piped())
            // the test's own output may go to a .log file, which would count
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        // wait until the script has opened its log
        for _ in 0..100 {
            if std::fs::read_to_string(&log).is_ok_and(|s| s.contains("started")) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let mut r = sitrep_core::map::Resource::new("k", "process", "svc");
        r.properties
            .insert(STATUS.into(), serde_json::json!({"pid": pid}));
        let inv = attach(Inventory {
            resources: vec![r, sitrep_core::map::Resource::new("h", "host", "h")],
            edges: vec![],
        })
        .await;
        let _ = child.kill();
        let _ = child.wait();
        let p = &inv.resources[0].properties;
        assert_eq!(
            p["config_files"],
            serde_json::json!([conf.display().to_string()])
        );
        assert_eq!(
            p["log_files"],
            serde_json::json!([log.display().to_string()])
        );
        assert!(inv.resources[1].properties.is_empty());
    }

    /// A process that is down keeps the configuration files its known command line names (a
    /// fresh install during a crash loop maps it as it would be when up); no log files.
    #[tokio::test]
    async fn a_stopped_process_gets_the_configuration_its_command_names() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("app.conf");
        std::fs::write(&conf, "k = v\n").unwrap();
        let mut r = sitrep_core::map::Resource::new("k", "process", "svc");
        r.properties.insert(
            "cmdline".into(),
            format!(
                "/srv/bin/app serve --config {} --extra /nope.yaml",
                conf.display()
            )
            .into(),
        );
        let inv = attach(Inventory {
            resources: vec![r],
            edges: vec![],
        })
        .await;
        let p = &inv.resources[0].properties;
        assert_eq!(
            p["config_files"],
            serde_json::json!([conf.display().to_string()])
        );
        assert!(!p.contains_key("log_files"));
    }

    proptest! {
        #[test]
        fn derivations_never_panic_and_return_absolute_bounded_lists(
            words in proptest::collection::vec("[-a-z./=_]{0,12}", 0..24),
        ) {
            let cfg = config_files(&words, Some(Path::new("/w")));
            prop_assert!(cfg.len() <= MAX_FILES);
            prop_assert!(cfg.iter().all(|p| p.starts_with('/')));
            let logs = log_files(&words);
            prop_assert!(logs.len() <= MAX_FILES);
            prop_assert!(logs.iter().all(|p| p.starts_with('/')));
        }
    }
}
