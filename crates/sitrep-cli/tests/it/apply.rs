//! Workspace as code through the binary: `apply -f DIR --dry-run` prints what would change
//! (and changes nothing), a folder with any invalid item applies nothing and names every
//! problem, `export` then `apply` of the result is a no-op, `--prune` removes what the folder
//! does not have; and `workspace list` / `workspace create`.

use crate::harness::{Home, write};
use std::path::Path;

impl Home {
    /// An initialised home: the default sitrep.yaml and the SLX `localhost`.
    fn initialised() -> Home {
        let home = Home::empty();
        home.ok(&["init"]);
        home
    }

    fn slx_names(&self) -> Vec<String> {
        let v = self.json(&["slx", "list", "--json"]);
        let items = v.as_array().or_else(|| v["items"].as_array()).unwrap();
        items
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect()
    }
}

const NOISE_RULE: &str = "description: queue depth is noise during the import\nmatch:\n  title: queue depth\neffect:\n  suppress: true\n";

/// A valid workspace folder: an SLX, a rule, a command, a workflow and a note.
fn folder() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    write(
        &p.join("slxs/web.yaml"),
        "resource: web\nbundle: core/http-endpoint\nconfig:\n  URL: http://127.0.0.1:9/healthz\n",
    );
    write(&p.join("rules/noise.yaml"), NOISE_RULE);
    write(
        &p.join("commands/triage.yaml"),
        "steps:\n  - task: core/http-endpoint/status\n    resource: web\nquestion: what changed on web?\n",
    );
    write(
        &p.join("workflows/sev2.yaml"),
        "on:\n  issue: {severity_at_most: 2}\ndeliver:\n  - slack: {webhook_url: 'secret:oncall-slack'}\n",
    );
    write(
        &p.join("knowledge/teams/web.md"),
        "---\ntype: ownership\nservices: [web]\nowner: team-web\n---\nPage the web on-call.\n",
    );
    d
}

fn dir_str(d: &Path) -> &str {
    d.to_str().unwrap()
}

#[test]
fn a_dry_run_prints_every_item_and_a_diff_and_changes_nothing() {
    let home = Home::initialised();
    write(
        &home.path().join("rules/noise.yaml"),
        &NOISE_RULE.replace("during the import", "at night"),
    );
    write(
        &home.path().join("rules/old.yaml"),
        "match:\n  title: old\neffect:\n  suppress: true\n",
    );
    let src = folder();
    let out = home.ok(&["apply", "-f", dir_str(src.path()), "--dry-run"]);
    insta::assert_snapshot!("apply_dry_run", out);

    // Nothing was applied.
    assert_eq!(home.slx_names(), vec!["localhost"]);
    let rule = std::fs::read_to_string(home.path().join("rules/noise.yaml")).unwrap();
    assert!(rule.contains("at night"), "{rule}");
    assert!(!home.path().join("commands/triage.yaml").exists());

    // --json: the same plan, as data.
    let v = home.json(&["apply", "-f", dir_str(src.path()), "--dry-run", "--json"]);
    assert_eq!(v["applied"], false);
    assert_eq!(v["dry_run"], true);
    let changes = v["plan"]["changes"].as_array().unwrap();
    let find = |kind: &str, name: &str| {
        changes
            .iter()
            .find(|c| c["kind"] == kind && c["name"] == name)
            .unwrap_or_else(|| panic!("{kind} {name}: {v}"))
            .clone()
    };
    assert_eq!(find("slx", "web")["action"], "add");
    assert_eq!(find("slx", "localhost")["action"], "keep");
    assert_eq!(find("settings", "sitrep.yaml")["action"], "keep");
    let noise = find("rule", "noise.yaml");
    assert_eq!(noise["action"], "change");
    assert!(
        noise["diff"]
            .as_str()
            .unwrap()
            .contains("+description: queue depth is noise during the import")
    );
    assert!(
        v["notes"][0]
            .as_str()
            .unwrap()
            .contains("secrets are never exported")
    );
}

#[test]
fn a_folder_with_an_invalid_item_applies_nothing_and_names_every_problem() {
    let home = Home::initialised();
    let src = folder();
    write(
        &src.path().join("rules/broken.yaml"),
        "match:\n  severity: 7\neffect:\n  suppress: true\n",
    );
    write(
        &src.path().join("slxs/db.yaml"),
        "resource: db\nbundle: core/no-such-bundle\n",
    );
    write(
        &src.path().join("slxs/typo.yaml"),
        "resource: db\nbundel: core/postgres\n",
    );
    let out = home.sitrep(&["apply", "-f", dir_str(src.path())]);
    assert_eq!(out.status.code(), Some(4));
    let text = String::from_utf8_lossy(&out.stdout).replace(dir_str(src.path()), "[DIR]");
    insta::assert_snapshot!("apply_invalid", text);
    // All or nothing: the valid items were not applied either.
    assert_eq!(home.slx_names(), vec!["localhost"]);
    assert!(!home.path().join("rules/noise.yaml").exists());
    assert!(!home.path().join("knowledge/teams/web.md").exists());
}

#[test]
fn apply_then_export_then_apply_of_the_export_is_a_no_op() {
    let home = Home::initialised();
    let src = folder();
    let out = home.ok(&["apply", "-f", dir_str(src.path())]);
    assert!(out.contains("5 added"), "{out}");
    assert!(out.contains("applied to workspace default"), "{out}");
    assert_eq!(home.slx_names(), vec!["localhost", "web"]);
    let web = home.json(&["slx", "show", "web", "--json"]);
    assert_eq!(web["config"]["URL"], "http://127.0.0.1:9/healthz");
    assert!(home.ok(&["rules", "list"]).contains("noise"));
    assert!(home.ok(&["command", "list"]).contains("triage"));
    assert!(home.ok(&["knowledge", "list"]).contains("teams/web"));

    // Applying the same folder again changes nothing.
    let again = home.ok(&["apply", "-f", dir_str(src.path())]);
    assert!(again.contains("0 added, 0 changed, 0 removed"), "{again}");

    // A vault secret: its name is said, its value never written.
    let mut set = home
        .cmd(&["secret", "set", "oncall-slack"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut set.stdin.take().unwrap(), b"hooks-canary-8841\n").unwrap();
    assert!(set.wait().unwrap().success());

    let out_dir = tempfile::tempdir().unwrap();
    let exported = out_dir.path().join("ws");
    let e = home.ok(&["export", "-o", dir_str(&exported)]);
    assert!(e.contains("wrote slxs/web.yaml"), "{e}");
    assert!(e.contains("not exported: oncall-slack"), "{e}");
    assert!(!e.contains("hooks-canary-8841"), "{e}");
    let mut stack = vec![exported.clone()];
    while let Some(d) = stack.pop() {
        for f in std::fs::read_dir(&d).unwrap().flatten() {
            if f.path().is_dir() {
                stack.push(f.path());
            } else {
                let text = std::fs::read_to_string(f.path()).unwrap();
                assert!(
                    !text.contains("hooks-canary-8841"),
                    "{}",
                    f.path().display()
                );
            }
        }
    }
    for f in [
        "sitrep.yaml",
        "slxs/localhost.yaml",
        "rules/noise.yaml",
        "commands/triage.yaml",
        "workflows/sev2.yaml",
        "knowledge/teams/web.md",
    ] {
        assert!(exported.join(f).is_file(), "{f} exported");
    }
    let v = home.json(&["apply", "-f", dir_str(&exported), "--prune", "--json"]);
    let changes = v["plan"]["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 7, "{v}");
    assert!(changes.iter().all(|c| c["action"] == "unchanged"), "{v}");
    assert_eq!(v["applied"], true);

    // A non-empty folder is refused without --force.
    let again = home.sitrep(&["export", "-o", dir_str(&exported)]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not empty"));
    std::fs::write(exported.join("rules/stray.yaml"), "match: {}\n").unwrap();
    home.ok(&["export", "-o", dir_str(&exported), "--force"]);
    assert!(
        !exported.join("rules/stray.yaml").exists(),
        "--force replaces the item folders"
    );
}

#[test]
fn prune_removes_what_the_folder_does_not_have_and_keeps_the_settings() {
    let home = Home::initialised();
    write(
        &home.path().join("rules/old.yaml"),
        "match:\n  title: old\neffect:\n  suppress: true\n",
    );
    write(
        &home.path().join("knowledge/old.md"),
        "# Old\nstale advice\n",
    );
    let src = folder();
    let kept = home.ok(&["apply", "-f", dir_str(src.path())]);
    assert!(kept.contains("4 kept"), "{kept}");
    assert!(home.path().join("rules/old.yaml").exists());

    let out = home.ok(&["apply", "-f", dir_str(src.path()), "--prune"]);
    assert!(out.contains("removed    slx        localhost"), "{out}");
    assert!(out.contains("kept       settings   sitrep.yaml"), "{out}");
    assert_eq!(home.slx_names(), vec!["web"]);
    assert!(!home.path().join("rules/old.yaml").exists());
    assert!(!home.path().join("knowledge/old.md").exists());
    assert!(home.path().join("sitrep.yaml").exists());
    let notes = home.json(&["knowledge", "list", "--json"]);
    let ids: Vec<&str> = notes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["teams/web"]);
}

#[test]
fn workspaces_are_listed_and_created_and_apply_works_in_one() {
    let home = Home::initialised();
    let v = home.json(&["workspace", "list", "--json"]);
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["name"], "default");
    assert_eq!(v[0]["primary"], true);

    let created = home.ok(&["workspace", "create", "team-a"]);
    let dir = home.path().join("workspaces/team-a");
    assert!(
        created.contains(&format!("workspace team-a in {}", dir.display())),
        "{created}"
    );
    for sub in ["rules", "commands", "knowledge", "workflows"] {
        assert!(dir.join(sub).is_dir(), "{sub}");
    }
    let v = home.json(&["workspace", "list", "--json"]);
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "team-a"]);
    assert_eq!(v[1]["primary"], false);
    assert_eq!(v[1]["dir"], dir.display().to_string());
    // Creating it again is fine.
    home.ok(&["workspace", "create", "team-a", "--json"]);
    let list = home.ok(&["workspace", "list"]);
    assert!(list.lines().any(|l| l.starts_with("default *")), "{list}");
    let list = home.ok(&["--workspace", "team-a", "workspace", "list"]);
    assert!(list.lines().any(|l| l.starts_with("team-a *")), "{list}");
    let bad = home.sitrep(&["workspace", "create", "no/slash"]);
    assert_eq!(bad.status.code(), Some(1));

    // apply in team-a: its own folder and SLXs; a sitrep.yaml is the home's, refused there.
    let src = folder();
    home.ok(&["--workspace", "team-a", "apply", "-f", dir_str(src.path())]);
    assert!(dir.join("rules/noise.yaml").is_file());
    assert!(!home.path().join("rules/noise.yaml").exists());
    assert_eq!(home.slx_names(), vec!["localhost"]);
    write(&src.path().join("sitrep.yaml"), "workspace: team-a\n");
    let out = home.sitrep(&["--workspace", "team-a", "apply", "-f", dir_str(src.path())]);
    assert_eq!(out.status.code(), Some(4));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("the home's settings are shared by every workspace")
    );
}
