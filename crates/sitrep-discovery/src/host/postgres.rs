//! What a PostgreSQL server's own files and process titles say, without connecting (discovery
//! holds no password): whether it is a standby and of which primary, and the databases it
//! serves (its `pg_database` catalog, read from the data directory, and its backends' process
//! titles). Pure: the caller reads the files.

use super::build::POSTGRES_DATABASE;
use super::evidence::{Reference, conninfo};
use super::{SOURCE, Snapshot};
use sitrep_core::map::{Edge, EdgeKind, Inventory, Resource};
use std::collections::{BTreeSet, HashMap};

/// What was read about one PostgreSQL server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PgFacts {
    /// `standby.signal`, `recovery.signal` (12+) or `recovery.conf` (older) in the data directory.
    pub standby: bool,
    /// `primary_conninfo`: the server this standby streams from.
    pub upstream: Option<Reference>,
    /// Databases from the `pg_database` catalog whose directory exists (templates left out).
    pub databases: Vec<String>,
    /// The catalog could be read, so `databases` is the whole list (clients' DSNs naming
    /// others name databases that do not exist).
    pub catalog_read: bool,
}

/// `port` and `primary_conninfo` from `postgresql.conf` / `postgresql.auto.conf` text (the
/// last setting wins, as in PostgreSQL).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfValues {
    pub port: Option<u16>,
    pub primary_conninfo: Option<String>,
}

pub fn parse_conf(text: &str, into: &mut ConfValues) {
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let key_end = line
            .find(|c: char| c.is_whitespace() || c == '=')
            .unwrap_or(line.len());
        let key = &line[..key_end];
        let rest = line[key_end..].trim_start();
        let rest = rest.strip_prefix('=').unwrap_or(rest).trim_start();
        let value = if let Some(q) = rest.strip_prefix('\'') {
            // Quoted: '' is a quote; the value ends at the first lone quote.
            let mut v = String::new();
            let mut chars = q.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '\'' {
                    if chars.peek() == Some(&'\'') {
                        v.push('\'');
                        chars.next();
                        continue;
                    }
                    break;
                }
                v.push(c);
            }
            v
        } else {
            rest.split(['#', ' ']).next().unwrap_or("").to_string()
        };
        match key {
            "port" => into.port = value.parse().ok().or(into.port),
            "primary_conninfo" => into.primary_conninfo = Some(value),
            _ => {}
        }
    }
}

/// The upstream a `primary_conninfo` names.
pub fn upstream(conf: &ConfValues) -> Option<Reference> {
    let ci = conf.primary_conninfo.as_deref()?;
    if ci.contains("://") {
        return super::evidence::key_value("primary_conninfo", ci, "primary_conninfo")
            .references
            .into_iter()
            .next();
    }
    conninfo(ci, "primary_conninfo").map(|mut r| {
        r.database = None;
        r
    })
}

/// The relfilenode of a mapped shared catalog (`global/pg_filenode.map`: magic, count, then
/// (oid, filenode) pairs, little-endian on the machines PostgreSQL runs here).
pub fn mapped_filenode(map: &[u8], oid: u32) -> Option<u32> {
    const MAGIC: u32 = 0x0059_2717;
    let word =
        |i: usize| -> Option<u32> { Some(u32::from_le_bytes(map.get(i..i + 4)?.try_into().ok()?)) };
    if word(0)? != MAGIC {
        return None;
    }
    let n = word(4)? as usize;
    (0..n.min(64)).find_map(|i| {
        let at = 8 + i * 8;
        (word(at)? == oid).then(|| word(at + 4)).flatten()
    })
}

/// The oid of `pg_database`.
pub const PG_DATABASE_OID: u32 = 1262;

/// `(oid, datname)` of every live-looking tuple of a `pg_database` heap file. Tuples whose
/// inserting transaction aborted or whose deletion committed (hint bits) are left out; when
/// one oid appears twice (an update not yet vacuumed), the undeleted version wins. The caller
/// keeps only databases whose `base/OID` directory exists.
pub fn pg_database_tuples(heap: &[u8]) -> Vec<(u32, String)> {
    const XMIN_INVALID: u16 = 0x0200;
    const XMAX_COMMITTED: u16 = 0x0400;
    const XMAX_INVALID: u16 = 0x0800;
    const XMAX_LOCK_ONLY: u16 = 0x0080;
    const HAS_OID_OLD: u16 = 0x0008; // before PostgreSQL 12
    let u16_at = |b: &[u8], i: usize| -> Option<u16> {
        Some(u16::from_le_bytes(b.get(i..i + 2)?.try_into().ok()?))
    };
    let u32_at = |b: &[u8], i: usize| -> Option<u32> {
        Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?))
    };
    let mut found: Vec<(u32, String, bool)> = vec![];
    let page_size = heap
        .get(18..20)
        .and_then(|b| b.try_into().ok())
        .map(|b: [u8; 2]| usize::from(u16::from_le_bytes(b) & 0xFF00))
        .filter(|s| *s >= 1024)
        .unwrap_or(8192);
    for page in heap.chunks(page_size) {
        let (Some(lower), Some(upper)) = (u16_at(page, 12), u16_at(page, 14)) else {
            continue;
        };
        let (lower, upper) = (usize::from(lower), usize::from(upper));
        if lower < 24 || lower > upper || upper > page.len() {
            continue;
        }
        for lp in (24..lower).step_by(4) {
            let Some(v) = u32_at(page, lp) else { break };
            let (off, flags, len) = ((v & 0x7fff) as usize, (v >> 15) & 3, (v >> 17) as usize);
            if flags != 1 || off < upper || off + len > page.len() || len < 24 {
                continue;
            }
            let tuple = &page[off..off + len];
            let (Some(infomask), Some(&hoff)) = (u16_at(tuple, 20), tuple.get(22)) else {
                continue;
            };
            if infomask & XMIN_INVALID != 0
                || (infomask & XMAX_COMMITTED != 0 && infomask & XMAX_LOCK_ONLY == 0)
            {
                continue;
            }
            let hoff = usize::from(hoff);
            let (oid, name_at) = if infomask & HAS_OID_OLD != 0 {
                (hoff.checked_sub(4).and_then(|i| u32_at(tuple, i)), hoff)
            } else {
                (u32_at(tuple, hoff), hoff + 4)
            };
            let Some(oid) = oid else { continue };
            let Some(raw) = tuple.get(name_at..(name_at + 64).min(tuple.len())) else {
                continue;
            };
            let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
            let Ok(name) = std::str::from_utf8(&raw[..end]) else {
                continue;
            };
            if name.is_empty() || name.chars().any(char::is_control) {
                continue;
            }
            let undeleted = infomask & XMAX_INVALID != 0;
            match found.iter_mut().find(|(o, _, _)| *o == oid) {
                Some(f) if !f.2 && undeleted => *f = (oid, name.to_string(), true),
                Some(_) => {}
                None => found.push((oid, name.to_string(), undeleted)),
            }
        }
    }
    found.into_iter().map(|(o, n, _)| (o, n)).collect()
}

/// The databases of a MySQL/MariaDB data directory from its subdirectories: the server's own
/// schemas and directories that are no database (`#innodb_temp`, `lost+found`) left out.
pub fn mysql_databases(dirs: Vec<String>) -> Vec<String> {
    let mut v: Vec<String> = dirs
        .into_iter()
        .filter(|d| {
            !matches!(
                d.as_str(),
                "mysql" | "performance_schema" | "information_schema" | "sys" | "lost+found"
            ) && !d.starts_with(['#', '.'])
        })
        .collect();
    v.sort();
    v
}

/// Databases that only exist to be copied.
pub fn is_template(name: &str) -> bool {
    matches!(name, "template0" | "template1")
}

/// The database of a backend from its process title (`postgres: USER DATABASE HOST(PORT)
/// STATE`, optionally with a cluster name after `postgres:`); background processes and
/// replication senders have none.
pub fn backend_database(title: &str) -> Option<String> {
    let rest = title.strip_prefix("postgres:")?.trim_start();
    let mut words: Vec<&str> = rest.split_whitespace().collect();
    if words.first().is_some_and(|w| w.ends_with(':')) {
        words.remove(0);
    }
    let (user, db, client) = (words.first()?, words.get(1)?, words.get(2)?);
    let client_like = *client == "[local]" || (client.ends_with(')') && client.contains('('));
    (client_like && *user != "walsender" && !is_template(db)).then(|| db.to_string())
}

/// Role (primary or replica) and databases of each running PostgreSQL (and the databases of
/// each MySQL/MariaDB), and one `postgres-database` resource per database of every PostgreSQL
/// on the map.
pub(super) fn roles_and_databases(
    s: &Snapshot,
    key_of: &HashMap<u32, String>,
    named: &HashMap<String, BTreeSet<String>>,
    inv: &mut Inventory,
) {
    for (pid, key) in key_of {
        let Some(r) = inv.resources.iter_mut().find(|r| &r.key == key) else {
            continue;
        };
        if r.kind == "mysql" {
            if let Some(dbs) = s.mysql.get(pid) {
                r.properties.insert("databases".into(), dbs.clone().into());
            }
            continue;
        }
        if r.kind != "postgres" {
            continue;
        }
        let facts = s.postgres.get(pid).cloned().unwrap_or_default();
        let walreceiver = s.procs.values().any(|c| {
            c.ppid == *pid
                && c.args
                    .first()
                    .is_some_and(|a| a.starts_with("postgres: walreceiver"))
        });
        let role = if facts.standby || walreceiver {
            "replica"
        } else {
            "primary"
        };
        r.labels.insert("role".into(), role.into());
        r.properties.insert("role".into(), role.into());
        let mut dbs: BTreeSet<String> = facts.databases.iter().cloned().collect();
        dbs.extend(
            s.procs
                .values()
                .filter(|c| c.ppid == *pid)
                .filter_map(|c| c.args.first().and_then(|t| backend_database(t))),
        );
        if !facts.catalog_read {
            dbs.extend(named.get(key).cloned().unwrap_or_default());
        }
        r.properties.insert(
            "databases".into(),
            dbs.into_iter().collect::<Vec<_>>().into(),
        );
    }
    // Down servers got their databases from their clients already.
    let servers: Vec<Resource> = inv
        .resources
        .iter()
        .filter(|r| r.kind == "postgres" && !r.properties.contains_key("external"))
        .cloned()
        .collect();
    for server in servers {
        let dbs: Vec<String> = server
            .properties
            .get("databases")
            .and_then(|d| serde_json::from_value(d.clone()).ok())
            .unwrap_or_default();
        for db in dbs.into_iter().filter(|d| !is_template(d)) {
            let key = format!("pgdb:{}/{db}", server.key);
            let mut r = Resource::new(&key, POSTGRES_DATABASE, format!("{}-{db}", server.name))
                .with_prop("database", db.clone())
                .with_prop("server", server.name.clone());
            for k in ["host", "port"] {
                if let Some(val) = server.properties.get(k) {
                    r.properties.insert(k.into(), val.clone());
                }
            }
            if let Some(role) = server.labels.get("role") {
                r.labels.insert("role".into(), role.clone());
            }
            r.sources.push(SOURCE.into());
            inv.edges
                .push(Edge::new(&key, &server.key, EdgeKind::RunsOn));
            inv.resources.push(r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn conf_files() {
        let mut c = ConfValues::default();
        parse_conf(
            "port = 5432 # default\nprimary_conninfo = 'host=10.0.0.1 port=5433 user=rep password=''x'' application_name=r'\n",
            &mut c,
        );
        parse_conf("port=25433\n", &mut c);
        assert_eq!(c.port, Some(25433));
        let up = upstream(&c).unwrap();
        assert_eq!(
            (up.host.as_str(), up.port, up.database.clone()),
            ("10.0.0.1", 5433, None)
        );
        assert!(!format!("{up:?}").contains("'x'"));
    }

    #[test]
    fn mysql_data_directories() {
        let dirs = [
            "shop",
            "mysql",
            "sys",
            "#innodb_temp",
            "performance_schema",
            "orders",
        ];
        assert_eq!(
            mysql_databases(dirs.iter().map(|s| s.to_string()).collect()),
            vec!["orders", "shop"]
        );
    }

    #[test]
    fn backend_titles() {
        assert_eq!(
            backend_database("postgres: shop_app shop 127.0.0.1(58760) idle").as_deref(),
            Some("shop")
        );
        assert_eq!(
            backend_database("postgres: 15/main: app orders [local] SELECT").as_deref(),
            Some("orders")
        );
        assert_eq!(
            backend_database("postgres: walsender replicator 127.0.0.1(44978) streaming 0/3"),
            None
        );
        assert_eq!(backend_database("postgres: checkpointer "), None);
        assert_eq!(backend_database("postgres: autovacuum launcher"), None);
        assert_eq!(
            backend_database("/usr/lib/postgresql/15/bin/postgres -D /x"),
            None
        );
    }

    /// A heap page built the way PostgreSQL lays one out: header, line pointers from the
    /// front, tuples from the back.
    fn page(tuples: &[(u32, &str, u16)]) -> Vec<u8> {
        let mut p = vec![0u8; 8192];
        p[18..20].copy_from_slice(&(8192u16 | 4).to_le_bytes());
        let mut upper = 8192usize;
        let mut lower = 24usize;
        for (oid, name, infomask) in tuples {
            let hoff = 24usize;
            let len = hoff + 4 + 64 + 16;
            upper -= len;
            let t = &mut p[upper..upper + len];
            t[20..22].copy_from_slice(&infomask.to_le_bytes());
            t[22] = hoff as u8;
            t[hoff..hoff + 4].copy_from_slice(&oid.to_le_bytes());
            t[hoff + 4..hoff + 4 + name.len()].copy_from_slice(name.as_bytes());
            let lp: u32 = (upper as u32) | (1 << 15) | ((len as u32) << 17);
            p[lower..lower + 4].copy_from_slice(&lp.to_le_bytes());
            lower += 4;
        }
        p[12..14].copy_from_slice(&(lower as u16).to_le_bytes());
        p[14..16].copy_from_slice(&(upper as u16).to_le_bytes());
        p
    }

    #[test]
    fn pg_database_heap() {
        let live = 0x0800 | 0x0100;
        let heap = page(&[
            (5, "postgres", live),
            (1, "template1", live),
            (16384, "shop", 0x0100), // updated: the old version, xmax not hinted yet
            (16384, "shop", live),   // the new one
            (16390, "dropped", 0x0400), // deleted, committed
            (16391, "aborted", 0x0200), // insert aborted
        ]);
        assert_eq!(
            pg_database_tuples(&heap),
            vec![
                (5, "postgres".into()),
                (1, "template1".into()),
                (16384, "shop".into())
            ]
        );
        let mut map = vec![0u8; 512];
        map[0..4].copy_from_slice(&0x0059_2717u32.to_le_bytes());
        map[4..8].copy_from_slice(&2u32.to_le_bytes());
        map[8..16].copy_from_slice(&[0x5a, 0x04, 0, 0, 0x5a, 0x04, 0, 0]);
        map[16..20].copy_from_slice(&PG_DATABASE_OID.to_le_bytes());
        map[20..24].copy_from_slice(&16500u32.to_le_bytes());
        assert_eq!(mapped_filenode(&map, PG_DATABASE_OID), Some(16500));
        assert_eq!(mapped_filenode(&map[..8], PG_DATABASE_OID), None);
    }

    proptest! {
        #[test]
        fn readers_never_panic(b in proptest::collection::vec(any::<u8>(), 0..9000), t in "\\PC{0,120}") {
            let _ = pg_database_tuples(&b);
            let _ = mapped_filenode(&b, PG_DATABASE_OID);
            let _ = backend_database(&t);
            let mut c = ConfValues::default();
            parse_conf(&t, &mut c);
        }
    }
}
