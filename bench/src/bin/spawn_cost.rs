//! What one task process costs, step by step: spawning `bash -c true` through tokio
//! (posix_spawn), with a `pre_exec` hook (fork), with the parent-death signal, and in its own
//! cgroup (create, join, kill, remove).
//!
//!     cargo run --release -p sitrep-bench --bin spawn_cost -- [--n 300]

use sitrep_runner::tree::cgroup::{self, Isolation, TaskCgroup};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};
use tokio::process::Command;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    PosixSpawn,
    Fork,
    ForkDeathSignal,
    Cgroup,
}

async fn once(mode: Mode, base: Option<&std::path::Path>, i: usize) -> Duration {
    let start = Instant::now();
    let mut cmd = Command::new("bash");
    cmd.args(["-c", "true"]).process_group(0);
    let cg = match (mode, base) {
        (Mode::Cgroup, Some(b)) => {
            Some(TaskCgroup::create(b, &format!("bench-{}-{i}", std::process::id())).unwrap())
        }
        _ => None,
    };
    let fd = cg.as_ref().map(|c| c.procs_fd());
    if mode != Mode::PosixSpawn {
        let pdeath = mode != Mode::Fork;
        unsafe {
            cmd.pre_exec(move || {
                if pdeath {
                    libc::prctl(
                        libc::PR_SET_PDEATHSIG,
                        libc::SIGKILL as libc::c_ulong,
                        0,
                        0,
                        0,
                    );
                }
                if let Some(fd) = fd {
                    libc::write(fd, b"0".as_ptr().cast(), 1);
                }
                Ok(())
            });
        }
    }
    let st = cmd.status().await.unwrap();
    assert!(st.success());
    if let Some(c) = cg {
        let path = c.path().to_path_buf();
        let _ = c.procs_fd().as_raw_fd();
        drop(c);
        assert!(cgroup::kill_and_remove(&path, Duration::from_secs(5)).await);
    }
    start.elapsed()
}

#[tokio::main]
async fn main() {
    let n = arg("--n", 300);
    // as much touched memory as a runner process holds (--rss MiB), which fork copies page tables of
    let ballast: Vec<u8> = vec![1u8; arg("--rss", 0) << 20];
    std::hint::black_box(&ballast);
    let base = match Isolation::detect() {
        Isolation::Cgroup { base } => Some(base.clone()),
        Isolation::ProcessGroup { why } => {
            println!("no cgroups: {why}");
            None
        }
    };
    println!("spawn cost of `bash -c true`, median of {n} (ms)");
    for (name, mode) in [
        ("posix_spawn", Mode::PosixSpawn),
        ("fork (pre_exec)", Mode::Fork),
        ("fork + death signal", Mode::ForkDeathSignal),
        ("fork + death signal + cgroup", Mode::Cgroup),
    ] {
        let mut t = vec![];
        for i in 0..n {
            t.push(once(mode, base.as_deref(), i).await.as_secs_f64() * 1000.0);
        }
        println!("{name:<32} {:>8.3}", median(t));
    }
}
