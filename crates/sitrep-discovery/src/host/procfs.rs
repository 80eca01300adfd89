//! Parsers for the `/proc` files the host indexer reads. Pure: they take the file's text.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// TCP states from `include/net/tcp_states.h`.
pub const TCP_ESTABLISHED: u8 = 0x01;
pub const TCP_LISTEN: u8 = 0x0A;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SockAddr {
    pub ip: IpAddr,
    pub port: u16,
}

impl SockAddr {
    /// `0.0.0.0` and `::` listen on every address.
    pub fn is_wildcard(&self) -> bool {
        self.ip.is_unspecified()
    }
    pub fn is_local(&self) -> bool {
        self.ip.is_loopback() || self.ip.is_unspecified()
    }
}

impl std::fmt::Display for SockAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ip {
            IpAddr::V4(ip) => write!(f, "{ip}:{}", self.port),
            IpAddr::V6(ip) => write!(f, "[{ip}]:{}", self.port),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpEntry {
    pub local: SockAddr,
    pub remote: SockAddr,
    pub state: u8,
    pub inode: u64,
}

/// Parses `/proc/net/tcp` or `/proc/net/tcp6`. Lines that do not parse are skipped: the
/// format is the kernel's and stable, but a truncated read must not fail the scan.
pub fn parse_tcp(text: &str) -> Vec<TcpEntry> {
    text.lines().skip(1).filter_map(parse_tcp_line).collect()
}

fn parse_tcp_line(line: &str) -> Option<TcpEntry> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 10 {
        return None;
    }
    Some(TcpEntry {
        local: parse_addr(f[1])?,
        remote: parse_addr(f[2])?,
        state: u8::from_str_radix(f[3], 16).ok()?,
        inode: f[9].parse().ok()?,
    })
}

/// `0100007F:1F90` → 127.0.0.1:8080. The address is the kernel's in-memory words printed in
/// hex, so each 32-bit word is little-endian on x86 and ARM.
fn parse_addr(s: &str) -> Option<SockAddr> {
    let (ip, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(
            u32::from_str_radix(ip, 16).ok()?.swap_bytes(),
        )),
        32 => {
            let mut bytes = [0u8; 16];
            for w in 0..4 {
                let word = u32::from_str_radix(&ip[w * 8..w * 8 + 8], 16).ok()?;
                bytes[w * 4..w * 4 + 4].copy_from_slice(&word.to_le_bytes());
            }
            let v6 = Ipv6Addr::from(bytes);
            match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            }
        }
        _ => return None,
    };
    Some(SockAddr { ip, port })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    pub comm: String,
    pub ppid: u32,
    /// Clock ticks after boot.
    pub start_ticks: u64,
}

/// Parses `/proc/PID/stat`. `comm` may hold spaces and parentheses, so fields are counted
/// from the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // rest[0] is field 3 (state); ppid is field 4, starttime field 22.
    Some(Stat {
        comm,
        ppid: rest.get(1)?.parse().ok()?,
        start_ticks: rest.get(19)?.parse().ok()?,
    })
}

/// `/proc/PID/cmdline`: NUL-separated arguments.
pub fn parse_cmdline(raw: &[u8]) -> Vec<String> {
    raw.split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// The real uid from `/proc/PID/status`.
pub fn parse_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `socket:[12345]` (the target of a `/proc/PID/fd/N` link) → 12345.
pub fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// uid → user name from `/etc/passwd`.
pub fn parse_passwd(text: &str) -> Vec<(u32, String)> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((f.get(2)?.parse().ok()?, f.first()?.to_string()))
        })
        .collect()
}

/// A command line safe to store: values after password-like flags and URL passwords are
/// masked, and the whole is capped.
pub fn redact_cmdline(args: &[String]) -> String {
    const SECRETISH: &[&str] = &["pass", "secret", "token", "key", "auth", "credential"];
    let mut out: Vec<String> = Vec::with_capacity(args.len());
    let mut mask_next = false;
    for a in args {
        if mask_next {
            out.push("***".into());
            mask_next = false;
            continue;
        }
        let lower = a.to_lowercase();
        let secretish = a.starts_with('-') && SECRETISH.iter().any(|s| lower.contains(s));
        if secretish {
            match a.split_once('=') {
                Some((k, _)) => out.push(format!("{k}=***")),
                None => {
                    out.push(a.clone());
                    mask_next = true;
                }
            }
        } else {
            out.push(mask_url_password(a));
        }
    }
    let s = out.join(" ");
    if s.len() > 300 {
        let mut end = 300;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    } else {
        s
    }
}

/// `scheme://user:pass@host` → `scheme://user:***@host`, anywhere in the text.
pub fn mask_url_password(s: &str) -> String {
    let Some(scheme_end) = s.find("://") else {
        return s.to_string();
    };
    let rest = &s[scheme_end + 3..];
    let Some(at) = rest.find('@') else {
        return s.to_string();
    };
    let userinfo = &rest[..at];
    if userinfo.contains('/') {
        return s.to_string();
    }
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{}{user}:***{}", &s[..scheme_end + 3], &rest[at..]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:6320 00000000:0000 0A 00000000:00000000 00:00000000 00000000   103        0 807672 1 0000000055eadccc 100 0 0 10 0
   1: 0100007F:D8D2 0100007F:6320 01 00000000:00000000 00:00000000 00000000     0        0 811111 1 0000000000000000 20 4 30 10 -1
";

    #[test]
    fn tcp_v4() {
        let e = parse_tcp(TCP);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].local.to_string(), "127.0.0.1:25376");
        assert_eq!(e[0].state, TCP_LISTEN);
        assert_eq!(e[0].inode, 807672);
        assert_eq!(e[1].remote.port, 0x6320);
        assert_eq!(e[1].state, TCP_ESTABLISHED);
    }

    #[test]
    fn tcp_v6_and_mapped() {
        let text = "header\n 0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 0:0 0:0 0 0 0 42 1\n 1: 0000000000000000FFFF00000100007F:0050 00000000000000000000000000000000:0000 0A 0:0 0:0 0 0 0 43 1\n";
        let e = parse_tcp(text);
        assert_eq!(e[0].local.to_string(), "[::1]:8080");
        assert_eq!(e[1].local.to_string(), "127.0.0.1:80");
    }

    #[test]
    fn stat_with_odd_comm() {
        let s = parse_stat("31605 (post (gres) x) S 1 31605 31605 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 123456 1000 10").unwrap();
        assert_eq!(s.comm, "post (gres) x");
        assert_eq!(s.ppid, 1);
        assert_eq!(s.start_ticks, 123456);
    }

    #[test]
    fn redaction() {
        let a: Vec<String> = [
            "app",
            "--db-password",
            "hunter2",
            "--token=abc",
            "postgres://u:pw@h/db",
            "-v",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let r = redact_cmdline(&a);
        assert_eq!(
            r,
            "app --db-password *** --token=*** postgres://u:***@h/db -v"
        );
        assert!(!r.contains("hunter2") && !r.contains("abc") && !r.contains("pw@"));
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,200}") {
            let _ = parse_tcp(&s);
            let _ = parse_stat(&s);
            let _ = parse_uid(&s);
            let _ = socket_inode(&s);
            let _ = redact_cmdline(&[s.clone()]);
            let _ = mask_url_password(&s);
        }

        #[test]
        fn v4_addresses_round_trip(a in any::<u32>(), p in any::<u16>()) {
            let ip = Ipv4Addr::from(a);
            let hex = format!("{:08X}:{:04X}", u32::from(ip).swap_bytes(), p);
            let got = parse_addr(&hex).unwrap();
            prop_assert_eq!(got, SockAddr { ip: IpAddr::V4(ip), port: p });
        }
    }
}
