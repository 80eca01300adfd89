//! The pure half of workspace as code: what the workspace holds and what a folder wants, item
//! by item, turned into a [`Plan`] (added, changed, removed, kept, unchanged), with a unified
//! text diff for each changed item. No I/O: `super` reads both sides and carries a plan out.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A kind of workspace item, and where it lives in a workspace folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// `sitrep.yaml`.
    Settings,
    /// `slxs/NAME.yaml` (stored in the database).
    Slx,
    /// `rules/*.yaml`.
    Rule,
    /// `commands/*.yaml`.
    Command,
    /// `workflows/*.yaml`.
    Workflow,
    /// `knowledge/**/*.md`.
    Knowledge,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Settings,
        Kind::Slx,
        Kind::Rule,
        Kind::Command,
        Kind::Workflow,
        Kind::Knowledge,
    ];

    /// Its folder in a workspace folder (`None`: the folder itself).
    pub fn folder(self) -> Option<&'static str> {
        match self {
            Kind::Settings => None,
            Kind::Slx => Some("slxs"),
            Kind::Rule => Some("rules"),
            Kind::Command => Some("commands"),
            Kind::Workflow => Some("workflows"),
            Kind::Knowledge => Some("knowledge"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Settings => "settings",
            Kind::Slx => "slx",
            Kind::Rule => "rule",
            Kind::Command => "command",
            Kind::Workflow => "workflow",
            Kind::Knowledge => "knowledge",
        }
    }

    /// The item's path in a workspace folder.
    pub fn path_of(self, name: &str) -> String {
        match self {
            Kind::Settings => name.to_string(),
            Kind::Slx => format!("slxs/{name}.yaml"),
            k => format!("{}/{name}", k.folder().unwrap_or_default()),
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One item as text: a file's content, or an SLX written as its file would be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub kind: Kind,
    /// An SLX's name; a file's path under its kind's folder (`batch.yaml`, `pm/db.md`).
    pub name: String,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// In the folder, not in the workspace.
    Add,
    /// In both, different.
    Change,
    /// In the workspace, not in the folder, and pruning.
    Remove,
    /// In the workspace, not in the folder, not pruning: left as it is.
    Keep,
    /// The same in both.
    Unchanged,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Add => "added",
            Action::Change => "changed",
            Action::Remove => "removed",
            Action::Keep => "kept",
            Action::Unchanged => "unchanged",
        }
    }
    /// Whether applying it changes anything.
    pub fn is_effective(self) -> bool {
        matches!(self, Action::Add | Action::Change | Action::Remove)
    }
}

/// What applying does to one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub kind: Kind,
    pub name: String,
    pub action: Action,
    /// A unified diff of the item's text (workspace → folder), for a changed item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// Every item of both sides and what applying does to it, by kind then name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub changes: Vec<Change>,
}

impl Plan {
    /// The changes that do something (added, changed, removed).
    pub fn effective(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.action.is_effective())
    }
    /// Whether applying it changes nothing.
    pub fn is_noop(&self) -> bool {
        self.effective().next().is_none()
    }
    /// How many items each action has, in `Action` order.
    pub fn counts(&self) -> BTreeMap<Action, usize> {
        let mut out = BTreeMap::new();
        for c in &self.changes {
            *out.entry(c.action).or_default() += 1;
        }
        out
    }
}

/// Plans bringing `current` (the workspace) to `desired` (a folder). Items of the workspace
/// the folder does not have are removed only when `prune`, else kept (`sitrep.yaml` always is).
pub fn plan(current: &[Item], desired: &[Item], prune: bool) -> Plan {
    let key = |i: &Item| (i.kind, i.name.clone());
    let have: BTreeMap<_, &Item> = current.iter().map(|i| (key(i), i)).collect();
    let want: BTreeMap<_, &Item> = desired.iter().map(|i| (key(i), i)).collect();
    let mut keys: Vec<&(Kind, String)> = have.keys().chain(want.keys()).collect();
    keys.sort();
    keys.dedup();
    let changes = keys
        .into_iter()
        .map(|k| {
            let (action, diff) = match (have.get(k), want.get(k)) {
                (None, _) => (Action::Add, None),
                // The settings file is never removed: a home always has its settings.
                (Some(_), None) if prune && k.0 != Kind::Settings => (Action::Remove, None),
                (Some(_), None) => (Action::Keep, None),
                (Some(h), Some(w)) if h.text == w.text => (Action::Unchanged, None),
                (Some(h), Some(w)) => (
                    Action::Change,
                    Some(unified_diff(k.0, &k.1, &h.text, &w.text)),
                ),
            };
            Change {
                kind: k.0,
                name: k.1.clone(),
                action,
                diff,
            }
        })
        .collect();
    Plan { changes }
}

/// A unified diff (3 lines of context) of an item's text, headed with its path.
pub fn unified_diff(kind: Kind, name: &str, old: &str, new: &str) -> String {
    let path = kind.path_of(name);
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("workspace/{path}"), &format!("folder/{path}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn item(kind: Kind, name: &str, text: &str) -> Item {
        Item {
            kind,
            name: name.into(),
            text: text.into(),
        }
    }

    fn actions(p: &Plan) -> Vec<(Kind, &str, Action)> {
        p.changes
            .iter()
            .map(|c| (c.kind, c.name.as_str(), c.action))
            .collect()
    }

    #[test]
    fn added_changed_kept_removed_unchanged() {
        let current = vec![
            item(Kind::Rule, "a.yaml", "name: a\n"),
            item(Kind::Rule, "b.yaml", "name: b\nx: 1\n"),
            item(Kind::Slx, "web", "name: web\n"),
        ];
        let desired = vec![
            item(Kind::Rule, "b.yaml", "name: b\nx: 2\n"),
            item(Kind::Rule, "c.yaml", "name: c\n"),
            item(Kind::Slx, "web", "name: web\n"),
        ];
        let p = plan(&current, &desired, false);
        assert_eq!(
            actions(&p),
            vec![
                (Kind::Slx, "web", Action::Unchanged),
                (Kind::Rule, "a.yaml", Action::Keep),
                (Kind::Rule, "b.yaml", Action::Change),
                (Kind::Rule, "c.yaml", Action::Add),
            ]
        );
        let diff = p.changes[2].diff.as_deref().unwrap();
        assert!(diff.contains("--- workspace/rules/b.yaml"), "{diff}");
        assert!(diff.contains("-x: 1\n+x: 2\n"), "{diff}");
        assert_eq!(p.effective().count(), 2);
        let pruned = plan(&current, &desired, true);
        assert_eq!(pruned.changes[1].action, Action::Remove);
        assert_eq!(pruned.counts()[&Action::Remove], 1);
    }

    #[test]
    fn the_settings_file_is_kept_even_when_pruning() {
        let p = plan(
            &[item(Kind::Settings, "sitrep.yaml", "workspace: a\n")],
            &[],
            true,
        );
        assert_eq!(
            actions(&p),
            vec![(Kind::Settings, "sitrep.yaml", Action::Keep)]
        );
        assert!(p.is_noop());
    }

    #[test]
    fn the_same_kind_and_name_of_another_kind_are_different_items() {
        let p = plan(
            &[item(Kind::Rule, "x", "1")],
            &[item(Kind::Command, "x", "1")],
            true,
        );
        assert_eq!(
            actions(&p),
            vec![
                (Kind::Rule, "x", Action::Remove),
                (Kind::Command, "x", Action::Add)
            ]
        );
    }

    fn any_items() -> impl Strategy<Value = Vec<Item>> {
        let kind = prop::sample::select(Kind::ALL.to_vec());
        prop::collection::vec((kind, "[a-c]{1,2}", "[a-z\n]{0,20}"), 0..12).prop_map(|v| {
            let mut seen = std::collections::BTreeSet::new();
            v.into_iter()
                .filter(|(k, n, _)| seen.insert((*k, n.clone())))
                .map(|(k, n, t)| item(k, &n, &t))
                .collect()
        })
    }

    proptest! {
        #[test]
        fn a_workspace_planned_against_itself_changes_nothing(x in any_items(), prune: bool) {
            let p = plan(&x, &x, prune);
            prop_assert!(p.is_noop());
            prop_assert_eq!(p.changes.len(), x.len());
            prop_assert!(p.changes.iter().all(|c| c.action == Action::Unchanged && c.diff.is_none()));
        }

        #[test]
        fn every_item_of_both_sides_is_planned_once(a in any_items(), b in any_items(), prune: bool) {
            let p = plan(&a, &b, prune);
            let mut keys: Vec<(Kind, String)> = a.iter().chain(&b).map(|i| (i.kind, i.name.clone())).collect();
            keys.sort();
            keys.dedup();
            prop_assert_eq!(p.changes.len(), keys.len());
            for c in &p.changes {
                let in_a = a.iter().any(|i| i.kind == c.kind && i.name == c.name);
                let in_b = b.iter().any(|i| i.kind == c.kind && i.name == c.name);
                let expected = match (in_a, in_b) {
                    (false, _) => vec![Action::Add],
                    (true, false) if prune && c.kind != Kind::Settings => vec![Action::Remove],
                    (true, false) => vec![Action::Keep],
                    (true, true) => vec![Action::Change, Action::Unchanged],
                };
                prop_assert!(expected.contains(&c.action));
                prop_assert_eq!(c.diff.is_some(), c.action == Action::Change);
            }
        }
    }
}
