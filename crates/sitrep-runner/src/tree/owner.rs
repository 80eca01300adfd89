//! Which sitrep process owns a run: host, boot, pid and the pid's start time, so that a later
//! process can tell "gone" from "alive" even when the pid has been reused. Recorded with every
//! run in the store and as the name of the folder its run directories live in.

use std::sync::OnceLock;

/// A process, identified across pid reuse and reboots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The host name, with anything but letters, digits, `.` and `-` replaced by `_`.
    pub host: String,
    /// The first 8 hex digits of the kernel's boot id.
    pub boot: String,
    pub pid: u32,
    /// When the process started, in clock ticks since boot (`/proc/PID/stat` field 22).
    pub start: u64,
}

/// What a recorded owner is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Alive,
    /// Exited (or a zombie), or the host rebooted since.
    Gone,
    /// Another host's process: it cannot be checked from here.
    Elsewhere,
}

impl Owner {
    /// This process.
    pub fn current() -> &'static Owner {
        static CURRENT: OnceLock<Owner> = OnceLock::new();
        CURRENT.get_or_init(|| {
            let pid = std::process::id();
            Owner {
                host: host_name(),
                boot: boot_id(),
                pid,
                start: process_start(pid).map_or(0, |p| p.start),
            }
        })
    }

    /// `host_boot_pid_start`: also a file name, and one without `:`, since it is part of the
    /// run directory's path and tasks put paths into colon-separated lists (`KUBECONFIG`).
    pub fn token(&self) -> String {
        format!("{}_{}_{}_{}", self.host, self.boot, self.pid, self.start)
    }

    /// Reads a token (the host may itself hold `_`: the last three fields never do).
    pub fn parse(token: &str) -> Option<Owner> {
        let mut parts = token.rsplitn(4, '_');
        let start = parts.next()?.parse().ok()?;
        let pid = parts.next()?.parse().ok()?;
        let boot = parts.next()?.to_string();
        let host = parts.next()?.to_string();
        (!host.is_empty() && !boot.is_empty()).then_some(Owner {
            host,
            boot,
            pid,
            start,
        })
    }

    pub fn liveness(&self) -> Liveness {
        let me = Owner::current();
        if self.host != me.host {
            Liveness::Elsewhere
        } else if self.boot != me.boot {
            Liveness::Gone
        } else {
            match process_start(self.pid) {
                Some(p) if p.start == self.start && !p.zombie => Liveness::Alive,
                _ => Liveness::Gone,
            }
        }
    }
}

/// A process's start time and whether it has exited but not been reaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStart {
    pub start: u64,
    pub zombie: bool,
}

/// Reads `/proc/PID/stat`; `None` when there is no such process.
pub fn process_start(pid: u32) -> Option<ProcStart> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat)
}

/// Fields after the command name (which may hold spaces and parentheses): state is the first,
/// the start time the 20th.
fn parse_stat(stat: &str) -> Option<ProcStart> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?;
    let start = fields.nth(18)?.parse().ok()?;
    Some(ProcStart {
        start,
        zombie: matches!(state, "Z" | "X" | "x"),
    })
}

fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it or fails.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let raw = if rc == 0 {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        String::new()
    };
    let clean: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() {
        "localhost".into()
    } else {
        clean
    }
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().chars().filter(|c| *c != '-').take(8).collect())
        .ok()
        .filter(|s: &String| !s.is_empty())
        .unwrap_or_else(|| "noboot".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        let o = Owner {
            host: "db-1.example".into(),
            boot: "0a1b2c3d".into(),
            pid: 4242,
            start: 987654,
        };
        assert_eq!(Owner::parse(&o.token()), Some(o.clone()));
        assert_eq!(Owner::parse("nonsense"), None);
        assert_eq!(Owner::parse("h_b_notapid_1"), None);
        let underscored = Owner {
            host: "my_host".into(),
            ..o.clone()
        };
        assert_eq!(Owner::parse(&underscored.token()), Some(underscored));
        assert!(!o.token().contains(':'));
    }

    #[test]
    fn stat_lines_with_odd_command_names_parse() {
        let line = "1234 (a (weird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 777 1000 10 18446744073709551615";
        assert_eq!(
            parse_stat(line),
            Some(ProcStart {
                start: 777,
                zombie: false
            })
        );
        let zombie = "99 (x) Z 1 99 99 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 0 0 0";
        assert!(parse_stat(zombie).unwrap().zombie);
    }

    #[test]
    fn this_process_is_alive_and_a_changed_start_time_is_not() {
        let me = Owner::current();
        assert_eq!(me.liveness(), Liveness::Alive);
        let reused = Owner {
            start: me.start + 1,
            ..me.clone()
        };
        assert_eq!(reused.liveness(), Liveness::Gone);
        let rebooted = Owner {
            boot: "ffffffff".into(),
            ..me.clone()
        };
        assert_eq!(rebooted.liveness(), Liveness::Gone);
        let other = Owner {
            host: format!("{}-other", me.host),
            ..me.clone()
        };
        assert_eq!(other.liveness(), Liveness::Elsewhere);
    }
}
