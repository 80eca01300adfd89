//! RunWhen collections' generation rules against the Map: the files are read here, the rules
//! applied by `sitrep_runwhen::apply` (pure). A `kind: runwhen` collection's catalog bundles
//! carry no native generation rules; their `.runwhen/` folders are read again at each
//! discovery, so an edited template takes effect without a restart.

use sitrep_bundles::Collection;
use sitrep_bundles::rules::GenerationContext;
use sitrep_core::Slx;
use sitrep_core::map::Resource;
use sitrep_runwhen::apply::{self, ApplyContext};
use std::collections::BTreeMap;

/// Templates larger than this are left out (a warning), like other RunWhen files.
const MAX_TEMPLATE: u64 = 1 << 20;

/// Whether a catalog collection is RunWhen codebundles (`codebundles/`, no `collection.yaml`).
pub fn is_runwhen(c: &Collection) -> bool {
    c.root.join("codebundles").is_dir() && !c.root.join("collection.yaml").is_file()
}

/// The SLXs the collection's generation rules make for `live`, and warnings (each naming the
/// bundle's file).
pub fn generate(
    c: &Collection,
    live: &[Resource],
    ctx: &GenerationContext,
) -> (Vec<Slx>, Vec<String>) {
    let actx = ApplyContext {
        collection: c.name.clone(),
        workspace: ctx.workspace.clone(),
        level_of_detail: ctx.level_of_detail,
        secret_names: ctx.secret_names.clone(),
        custom: ctx.vars.clone(),
    };
    let mut slxs = vec![];
    let mut warnings = vec![];
    // Only the bundles the catalog took (valid ones).
    for b in &c.bundles {
        let loaded = match sitrep_runwhen::load_bundle(&b.dir) {
            Ok(l) => l,
            Err(e) => {
                warnings.push(format!("{}/{}: {e}", c.name, b.name));
                continue;
            }
        };
        let rw = loaded.bundle;
        if rw.generation_rules.is_empty() {
            continue;
        }
        let dir = b.dir.join(".runwhen/templates");
        let mut templates = BTreeMap::new();
        for name in &rw.templates {
            let path = dir.join(name);
            let text = std::fs::metadata(&path).and_then(|m| {
                if m.len() > MAX_TEMPLATE {
                    Err(std::io::Error::other("larger than 1 MiB"))
                } else {
                    std::fs::read_to_string(&path)
                }
            });
            match text {
                Ok(t) => {
                    templates.insert(name.clone(), t);
                }
                Err(e) => warnings.push(format!("{}: cannot read: {e}", path.display())),
            }
        }
        let g = apply::generate(&rw, &templates, live, &actx);
        slxs.extend(g.slxs);
        warnings.extend(g.warnings.into_iter().map(|w| format!("{}/{w}", c.name)));
    }
    (slxs, warnings)
}
