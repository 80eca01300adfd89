//! Applying discovery's SLXs to the stored ones, idempotently.
//!
//! A generated SLX remembers what discovery produced last time (`SlxOrigin::snapshot`). On the
//! next discovery each field is merged three ways: a field that still equals the snapshot was
//! not touched by hand and takes the newly generated value; a field that differs was edited by
//! hand and is kept. SLXs whose resource is gone are marked stale, never deleted; hand-written
//! SLXs (no origin) are never touched.

use crate::Slx;
use crate::types::SlxTask;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlxOrigin {
    /// `collection/bundle` and the rule's SLX base name.
    pub rule: String,
    /// The key of the resource it watches (see `map::Resource::key`).
    pub resource_key: String,
    /// The indexers that reported that resource; only they can retire the SLX.
    #[serde(default)]
    pub sources: Vec<String>,
    pub snapshot: SlxFields,
}

/// The fields discovery generates and a human may edit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SlxFields {
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tasks: Vec<SlxTask>,
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
}

impl SlxFields {
    pub fn of(slx: &Slx) -> SlxFields {
        SlxFields {
            description: slx.description.clone(),
            tasks: slx.tasks.clone(),
            config: slx.config.clone(),
            secrets: slx.secrets.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SlxPlan {
    pub create: Vec<Slx>,
    pub update: Vec<Slx>,
    /// Marked stale: their resource was not found by an indexer that reported it before.
    pub retire: Vec<Slx>,
    pub unchanged: Vec<String>,
    /// Generated names that collide with a hand-written SLX; the hand-written one wins.
    pub conflicts: Vec<String>,
}

impl SlxPlan {
    pub fn is_noop(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.retire.is_empty()
    }
    /// Every SLX that must be written.
    pub fn writes(&self) -> impl Iterator<Item = &Slx> {
        self.create.iter().chain(&self.update).chain(&self.retire)
    }
}

/// Plans how `generated` (each carrying its origin) changes `existing`. `scanned` names the
/// indexers that completed this time: a generated SLX missing from `generated` is retired only
/// if one of its resource's indexers completed (a cluster that was unreachable retires nothing).
pub fn plan(existing: &[Slx], generated: Vec<Slx>, scanned: &BTreeSet<String>) -> SlxPlan {
    let current: BTreeMap<&str, &Slx> = existing.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut out = SlxPlan::default();
    let mut seen = BTreeSet::new();
    for new in generated {
        seen.insert(new.name.clone());
        let Some(cur) = current.get(new.name.as_str()) else {
            out.create.push(new);
            continue;
        };
        let Some(origin) = &cur.generated else {
            out.conflicts.push(new.name);
            continue;
        };
        let merged = merge(cur, &origin.snapshot, new);
        if &merged == *cur {
            out.unchanged.push(merged.name);
        } else {
            out.update.push(merged);
        }
    }
    for cur in existing {
        let Some(origin) = &cur.generated else {
            continue;
        };
        if cur.stale || seen.contains(&cur.name) {
            continue;
        }
        if origin.sources.iter().any(|s| scanned.contains(s)) {
            let mut s = cur.clone();
            s.stale = true;
            out.retire.push(s);
        } else {
            out.unchanged.push(cur.name.clone());
        }
    }
    out.unchanged.sort();
    out
}

fn merge(cur: &Slx, old: &SlxFields, new: Slx) -> Slx {
    let fields = SlxFields::of(&new);
    Slx {
        workspace: cur.workspace.clone(),
        name: cur.name.clone(),
        resource: new.resource,
        bundle: new.bundle,
        description: pick(&cur.description, &old.description, new.description),
        tasks: pick(&cur.tasks, &old.tasks, new.tasks),
        config: merge_map(&cur.config, &old.config, new.config),
        secrets: merge_map(&cur.secrets, &old.secrets, new.secrets),
        stale: false,
        generated: new.generated.map(|mut o| {
            o.snapshot = fields;
            o
        }),
    }
}

fn pick<T: PartialEq + Clone>(cur: &T, old: &T, new: T) -> T {
    if cur == old { new } else { cur.clone() }
}

fn merge_map(
    cur: &BTreeMap<String, String>,
    old: &BTreeMap<String, String>,
    new: BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let keys: BTreeSet<&String> = cur.keys().chain(old.keys()).chain(new.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let v = if cur.get(k) == old.get(k) {
                new.get(k)
            } else {
                cur.get(k)
            };
            v.map(|v| (k.clone(), v.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gen_slx(name: &str, dsn: &str) -> Slx {
        let mut s = Slx {
            workspace: "w".into(),
            name: name.into(),
            resource: name.into(),
            bundle: "core/postgres".into(),
            description: "generated".into(),
            tasks: vec![],
            config: BTreeMap::from([("PG_DSN".into(), dsn.into()), ("X".into(), "1".into())]),
            secrets: BTreeMap::new(),
            stale: false,
            generated: None,
        };
        s.generated = Some(SlxOrigin {
            rule: "core/postgres#pg".into(),
            resource_key: format!("k:{name}"),
            sources: vec!["host".into()],
            snapshot: SlxFields::of(&s),
        });
        s
    }

    fn scanned(s: &[&str]) -> BTreeSet<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn second_apply_is_a_noop() {
        let p1 = plan(&[], vec![gen_slx("a", "d1")], &scanned(&["host"]));
        assert_eq!(p1.create.len(), 1);
        let p2 = plan(&p1.create, vec![gen_slx("a", "d1")], &scanned(&["host"]));
        assert!(p2.is_noop(), "{p2:?}");
        assert_eq!(p2.unchanged, vec!["a"]);
    }

    #[test]
    fn hand_edits_survive_and_untouched_fields_follow_discovery() {
        let mut stored = gen_slx("a", "d1");
        stored.config.insert("X".into(), "hand".into());
        stored.config.insert("EXTRA".into(), "mine".into());
        stored.description = "my words".into();
        // Discovery now generates a new DSN and a new X.
        let mut g = gen_slx("a", "d2");
        g.config.insert("X".into(), "2".into());
        let g = {
            let mut g2 = g.clone();
            g2.generated.as_mut().unwrap().snapshot = SlxFields::of(&g);
            g2
        };
        let p = plan(&[stored], vec![g], &scanned(&["host"]));
        assert_eq!(p.update.len(), 1);
        let u = &p.update[0];
        assert_eq!(u.config["PG_DSN"], "d2", "not edited: follows discovery");
        assert_eq!(u.config["X"], "hand", "edited: kept");
        assert_eq!(u.config["EXTRA"], "mine");
        assert_eq!(u.description, "my words");
        // And applying the same again changes nothing.
        let mut g3 = gen_slx("a", "d2");
        g3.config.insert("X".into(), "2".into());
        let g3 = {
            let mut x = g3.clone();
            x.generated.as_mut().unwrap().snapshot = SlxFields::of(&g3);
            x
        };
        assert!(plan(&p.update, vec![g3], &scanned(&["host"])).is_noop());
    }

    #[test]
    fn vanished_resources_retire_only_when_their_indexer_ran() {
        let stored = vec![gen_slx("a", "d1")];
        let p = plan(&stored, vec![], &scanned(&["kubernetes"]));
        assert!(p.is_noop(), "host did not run: nothing retired");
        let p = plan(&stored, vec![], &scanned(&["host"]));
        assert_eq!(p.retire.len(), 1);
        assert!(p.retire[0].stale);
        // Stale stays stale without churn; coming back revives it.
        let p2 = plan(&p.retire, vec![], &scanned(&["host"]));
        assert!(p2.is_noop());
        let p3 = plan(&p.retire, vec![gen_slx("a", "d1")], &scanned(&["host"]));
        assert_eq!(p3.update.len(), 1);
        assert!(!p3.update[0].stale);
    }

    #[test]
    fn hand_written_slxs_are_never_touched() {
        let mut mine = gen_slx("a", "d1");
        mine.generated = None;
        let p = plan(&[mine], vec![gen_slx("a", "d9")], &scanned(&["host"]));
        assert!(p.is_noop());
        assert_eq!(p.conflicts, vec!["a"]);
    }
}
