//! RunWhen codebundles as sitrep catalog bundles (`kind: runwhen` collections in
//! `sitrep.yaml`), and `sitrep bundles validate` of a RunWhen folder.
//!
//! `sitrep-bundles` does not depend on this crate: the engine passes [`read_collection`] to
//! `Catalog::load_with` as the reader of `kind: runwhen` collections.

use crate::convert::{LoadedBundle, RUNBOOK, SLI};
use crate::imports::ImportedVariable;
use crate::load::{LoadError, load_bundle, load_collection};
use crate::model::{RobotTask, RunwhenBundle};
use sitrep_bundles::{
    Bundle, BundleError, Collection, LoadedCollection, ParamDecl, Problem, SecretAs, SecretDecl,
    Task, TaskSpec,
};
use std::path::Path;

/// Reads `root/codebundles/*` into a catalog collection: every valid codebundle becomes a
/// bundle named after its folder; an invalid one is left out with its problems. Fails only
/// when `root/codebundles` cannot be listed.
pub fn read_collection(root: &Path) -> Result<LoadedCollection, BundleError> {
    let loaded = load_collection(root).map_err(bundle_error)?;
    let mut collection = Collection {
        name: String::new(),
        description: "RunWhen codebundles".into(),
        version: String::new(),
        root: root.to_path_buf(),
        bundles: Vec::new(),
    };
    let mut left_out = Vec::new();
    for l in loaded {
        match to_bundle(l) {
            Ok(b) => collection.bundles.push(b),
            Err(left) => left_out.push(left),
        }
    }
    Ok(LoadedCollection {
        collection,
        own: Vec::new(),
        left_out,
    })
}

/// A read codebundle as a catalog bundle, or (its name, its problems) when it is invalid.
pub fn to_bundle(l: LoadedBundle) -> Result<Bundle, (String, Vec<Problem>)> {
    if !l.is_valid() {
        return Err((l.bundle.name, l.problems));
    }
    Ok(bundle(l.bundle))
}

fn bundle(b: RunwhenBundle) -> Bundle {
    let mut tags: Vec<String> = vec!["runwhen".into()];
    for t in b
        .metadata
        .get("Supports")
        .into_iter()
        .flat_map(|s| s.split(|c: char| c == ',' || c.is_whitespace()))
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty())
    {
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    Bundle {
        name: b.name,
        description: b.description,
        resource_type: String::new(),
        tags,
        params: b.params.iter().map(param).collect(),
        secrets: b.secrets.iter().map(secret).collect(),
        tasks: b.tasks.into_iter().map(task).collect(),
        hypotheses: Vec::new(),
        // RunWhen's generation rules are not native ones: discovery applies them through
        // `apply` (sitrep-discovery's `runwhen.rs` reads the bundle's `.runwhen/` folder).
        generation_rules: Vec::new(),
        dir: b.dir,
    }
}

fn param(v: &ImportedVariable) -> ParamDecl {
    ParamDecl {
        name: v.name.clone(),
        description: v.description.clone(),
        required: v.default.is_none(),
        default: v.default.clone(),
    }
}

fn secret(v: &ImportedVariable) -> SecretDecl {
    SecretDecl {
        name: v.name.clone(),
        description: v.description.clone(),
        required: true,
        as_: SecretAs::Env,
    }
}

fn task(t: RobotTask) -> Task {
    Task {
        name: t.name,
        description: t.description,
        kind: t.kind,
        ty: t.ty,
        interval: t.interval,
        timeout: t.timeout,
        tags: t.tags,
        risk: t.risk,
        rollback: t.rollback,
        // The bundle declares every parameter its suites import.
        params: Vec::new(),
        spec: TaskSpec::Robot(t.robot),
    }
}

/// Whether `path` is a RunWhen collection (a `codebundles/` folder beside no
/// `collection.yaml`), a codebundle folder, or one of its suite files.
pub fn is_runwhen_path(path: &Path) -> bool {
    if path.join("collection.yaml").is_file() || path.join("bundle.yaml").is_file() {
        return false;
    }
    let is_suite = |p: &Path| p.file_name().is_some_and(|n| n == RUNBOOK || n == SLI);
    path.join("codebundles").is_dir()
        || path.join(RUNBOOK).is_file()
        || path.join(SLI).is_file()
        || (path.is_file() && is_suite(path))
}

/// Every problem of a RunWhen collection, codebundle folder or suite file (warnings, what
/// sitrep assumed, are not problems).
pub fn validate_path(path: &Path) -> Result<Vec<Problem>, LoadError> {
    if path.join("codebundles").is_dir() {
        return Ok(load_collection(path)?
            .into_iter()
            .flat_map(|l| l.problems)
            .collect());
    }
    let dir = if path.is_file() {
        path.parent().unwrap_or(Path::new("."))
    } else {
        path
    };
    Ok(load_bundle(dir)?.problems)
}

fn bundle_error(e: LoadError) -> BundleError {
    match e {
        LoadError::Io { path, source } => BundleError::Io { path, source },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::{BundleSource, convert};
    use sitrep_core::{Risk, TaskKind, TaskType};

    const RUNBOOK_TEXT: &str = "*** Settings ***
Documentation    Restarts things.
Metadata    Supports    Kubernetes,AKS    Linux
Suite Setup    Suite Initialization

*** Tasks ***
Check Things
    [Tags]    access:read-only
    Log    hi

Restart Things
    [Tags]    access:read-write
    Log    restarting

*** Keywords ***
Suite Initialization
    ${NS}=    RW.Core.Import User Variable    NS    description=the namespace
    ${LIMIT}=    RW.Core.Import User Variable    LIMIT    default=5
    ${kubeconfig}=    RW.Core.Import Secret    kubeconfig    description=cluster access
";

    fn loaded(runbook: &str, sli: Option<&str>) -> LoadedBundle {
        convert(&BundleSource {
            dir: "codebundles/k8s-things".into(),
            runbook: Some(runbook.into()),
            sli: sli.map(Into::into),
            ..Default::default()
        })
    }

    #[test]
    fn a_codebundle_becomes_a_catalog_bundle() {
        let sli = "*** Tasks ***\nScore\n    Log    1\n";
        let b = to_bundle(loaded(RUNBOOK_TEXT, Some(sli))).unwrap();
        assert_eq!(b.name, "k8s-things");
        assert_eq!(b.description, "Restarts things.");
        assert_eq!(b.tags, ["runwhen", "kubernetes", "aks", "linux"]);
        assert_eq!(b.params.len(), 2);
        assert!(b.param("NS").unwrap().required);
        let limit = b.param("LIMIT").unwrap();
        assert!(!limit.required);
        assert_eq!(limit.default.as_deref(), Some("5"));
        assert_eq!(b.secrets[0].name, "kubeconfig");
        assert_eq!(b.secrets[0].description, "cluster access");
        let kinds: Vec<_> = b.tasks.iter().map(|t| (t.name.as_str(), t.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("check-things", TaskKind::Diagnostic),
                ("restart-things", TaskKind::Remediation),
                ("sli", TaskKind::Health),
            ]
        );
        assert!(b.tasks.iter().all(|t| t.ty == TaskType::Robot));
        let fix = b.task("restart-things").unwrap();
        assert_eq!(fix.risk, Some(Risk::High));
        assert_eq!(fix.rollback, None);
        match &fix.spec {
            TaskSpec::Robot(r) => {
                assert_eq!(r.file, RUNBOOK);
                assert_eq!(r.test.as_deref(), Some("Restart Things"));
                assert_eq!(r.line, 11);
            }
            other => panic!("not a robot spec: {other:?}"),
        }
        assert!(b.task("sli").unwrap().interval.is_some());
    }

    #[test]
    fn an_invalid_codebundle_is_left_out_with_its_located_problems() {
        let broken = RUNBOOK_TEXT.replace("*** Tasks ***", "*** Taskz ***");
        let (name, problems) = to_bundle(loaded(&broken, None)).unwrap_err();
        assert_eq!(name, "k8s-things");
        assert!(
            problems
                .iter()
                .any(|p| p.file.ends_with(RUNBOOK) && p.line == Some(6)),
            "{problems:?}"
        );
    }
}
