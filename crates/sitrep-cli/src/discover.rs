//! `sitrep discover`, `sitrep slx`, `sitrep map`.

use crate::app::App;
use crate::output::{print_json, table};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use sitrep_core::map::{Direction, Map, Resource};
use sitrep_core::{Clock, RunStatus, Slx, TaskKind, TaskRef};
use sitrep_discovery::{Discovery, IndexerOutcome, Progress};
use sitrep_runner::{RunRequest, SystemClock};
use sitrep_store::Store;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

#[derive(Args)]
pub struct DiscoverArgs {
    /// Show what would change without storing anything.
    #[arg(long)]
    dry_run: bool,
    /// Print {resources, edges, slxs, changes, indexers} as JSON.
    #[arg(long)]
    json: bool,
}

/// Progress on stderr, so `--json` output stays clean.
struct StderrProgress;

impl Progress for StderrProgress {
    fn started(&self, source: &str) {
        eprintln!("scanning {source}...");
    }
    fn finished(&self, o: &IndexerOutcome) {
        match &o.error {
            None => eprintln!(
                "  {}: {} resources, {} edges in {} ms",
                o.source, o.resources, o.edges, o.elapsed_ms
            ),
            Some(e) => eprintln!("  {}: FAILED after {} ms: {e}", o.source, o.elapsed_ms),
        }
    }
}

pub async fn discover(home: &Path, db: Option<&str>, a: DiscoverArgs) -> Result<ExitCode> {
    let app = App::open(home, db).await?;
    let d = Discovery {
        config: app.config.discovery.clone(),
        catalog: app.catalog.clone(),
        store: app.store.clone(),
        workspace: app.workspace().to_string(),
        secret_names: app.config.secrets.keys().cloned().collect(),
    };
    let report = d.run(a.dry_run, &StderrProgress, SystemClock.now()).await?;
    let failed = report.indexers.iter().filter(|o| o.error.is_some()).count();
    if a.json {
        let live = report.map.live();
        print_json(&json!({
            "dry_run": report.dry_run,
            "resources": live.resources(),
            "edges": live.edges(),
            "slxs": {
                "create": report.slxs.create,
                "update": report.slxs.update,
                "retire": report.slxs.retire,
                "unchanged": report.slxs.unchanged,
                "conflicts": report.slxs.conflicts,
                "covered": report.covered,
            },
            "changes": report.changes,
            "indexers": report.indexers,
        }))?;
    } else {
        let live = report.map.live();
        print_inventory(&live);
        let verb = |s: &str| {
            if report.dry_run {
                format!("would {s}")
            } else {
                format!("{s}d")
            }
        };
        for (what, list) in [
            ("create", &report.slxs.create),
            ("update", &report.slxs.update),
        ] {
            for s in list {
                println!(
                    "{} SLX {} ({} on {})",
                    verb(what),
                    s.name,
                    s.bundle,
                    s.resource
                );
            }
        }
        for s in &report.slxs.retire {
            println!(
                "{} SLX {} (resource {} is gone; marked stale)",
                verb("retire"),
                s.name,
                s.resource
            );
        }
        for c in &report.covered {
            println!("skipped SLX {c}");
        }
        let c = &report.changes;
        println!(
            "{} resources ({} new, {} changed, {} gone), {} edges ({} new, {} removed); SLXs: {} created, {} updated, {} retired, {} unchanged{}",
            live.resources().len(),
            c.added.len(),
            c.changed.len(),
            c.retired.len(),
            live.edges().len(),
            c.edges_added.len(),
            c.edges_removed.len(),
            report.slxs.create.len(),
            report.slxs.update.len(),
            report.slxs.retire.len(),
            report.slxs.unchanged.len(),
            if report.dry_run {
                " (dry run: nothing stored)"
            } else {
                ""
            },
        );
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Small maps in full; big ones (a cluster) as counts, pointing at `sitrep map`.
fn print_inventory(live: &Map) {
    use sitrep_core::map::EdgeKind;
    const FULL: usize = 60;
    if live.resources().len() > FULL {
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for r in live.resources() {
            *kinds.entry(r.kind.as_str()).or_default() += 1;
        }
        let rows = kinds
            .iter()
            .map(|(k, n)| vec![k.to_string(), n.to_string()])
            .collect();
        print!("{}", table(&["KIND", "RESOURCES"], rows));
        let mut edges: BTreeMap<&str, usize> = BTreeMap::new();
        for e in live.edges() {
            *edges.entry(e.kind.as_str()).or_default() += 1;
        }
        let rows = edges
            .iter()
            .map(|(k, n)| vec![k.to_string(), n.to_string()])
            .collect();
        println!();
        print!("{}", table(&["EDGE", "COUNT"], rows));
        println!(
            "\n(`sitrep map --around NAME` shows one neighbourhood; --json or --dot everything)\n"
        );
        return;
    }
    let rows = live
        .resources()
        .iter()
        .map(|r| vec![r.name.clone(), r.kind.clone(), r.sources.join(",")])
        .collect();
    print!("{}", table(&["RESOURCE", "KIND", "FOUND BY"], rows));
    println!();
    let name = |k: &str| live.get(k).map_or(k.to_string(), |r| r.name.clone());
    let rows = live
        .edges()
        .iter()
        .filter(|e| e.kind != EdgeKind::RunsOn && e.kind != EdgeKind::PartOf)
        .map(|e| vec![name(&e.from), e.kind.to_string(), name(&e.to)])
        .collect();
    print!("{}", table(&["FROM", "EDGE", "TO"], rows));
    println!();
}

#[derive(Subcommand)]
pub enum SlxCmd {
    /// List SLXs (generated and hand-written).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one SLX: resource, bundle, tasks, config and secret references.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Edit an SLX's config by hand; discovery keeps hand edits.
    Set {
        name: String,
        /// KEY=VALUE config values to set.
        #[arg(value_name = "K=V")]
        values: Vec<String>,
        /// Config keys to remove.
        #[arg(long, value_name = "KEY")]
        unset: Vec<String>,
    },
    /// Run an SLX's health tasks now, with its config and secrets.
    Run {
        name: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn slx(home: &Path, db: Option<&str>, c: SlxCmd) -> Result<ExitCode> {
    let app = App::open(home, db).await?;
    let slxs = app.store.list_slxs(app.workspace()).await?;
    let find = |name: &str| -> Result<Slx> {
        slxs.iter()
            .find(|s| s.name == name)
            .cloned()
            .with_context(|| {
                format!("no SLX {name:?} (see `sitrep slx list`; `sitrep discover` generates them)")
            })
    };
    match c {
        SlxCmd::List { json } => {
            if json {
                print_json(&slxs)?;
                return Ok(ExitCode::SUCCESS);
            }
            if slxs.is_empty() {
                println!(
                    "no SLXs; `sitrep discover` generates them, `sitrep init` adds one for this host"
                );
                return Ok(ExitCode::SUCCESS);
            }
            let rows = slxs
                .iter()
                .map(|s| {
                    let origin = match (&s.generated, s.stale) {
                        (_, true) => "stale",
                        (Some(_), false) => "generated",
                        (None, false) => "hand-written",
                    };
                    vec![
                        s.name.clone(),
                        s.bundle.clone(),
                        s.resource.clone(),
                        origin.to_string(),
                    ]
                })
                .collect();
            print!("{}", table(&["SLX", "BUNDLE", "RESOURCE", "ORIGIN"], rows));
        }
        SlxCmd::Show { name, json } => {
            let s = find(&name)?;
            if json {
                print_json(&s)?;
            } else {
                // The SLX's own YAML is its clearest rendering; secrets are references only.
                print!("{}", yaml_serde::to_string(&s)?);
            }
        }
        SlxCmd::Set {
            name,
            values,
            unset,
        } => {
            let mut s = find(&name)?;
            for kv in &values {
                let (k, v) = kv
                    .split_once('=')
                    .with_context(|| format!("{kv:?} must be KEY=VALUE"))?;
                s.config.insert(k.to_string(), v.to_string());
            }
            for k in &unset {
                s.config.remove(k);
            }
            app.store.put_slx(&s, SystemClock.now()).await?;
            println!("updated SLX {name}");
        }
        SlxCmd::Run { name, json } => {
            let s = find(&name)?;
            if s.stale {
                bail!(
                    "SLX {name} is stale (its resource was not found by the last discovery); run `sitrep discover` first"
                );
            }
            return run_slx(&app, &s, json).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_slx(app: &App, s: &Slx, json: bool) -> Result<ExitCode> {
    let runner = app.runner()?;
    let secrets = sitrep_runner::secrets::resolve_all(&s.secrets, &app.config.secrets)
        .map_err(|(k, e)| anyhow::anyhow!("SLX {}: secret {k}: {e}", s.name))?;
    let (collection, bundle) = s
        .bundle
        .split_once('/')
        .unwrap_or(("core", s.bundle.as_str()));
    let b = app
        .catalog
        .collections
        .iter()
        .find(|c| c.name == collection)
        .and_then(|c| c.bundle(bundle))
        .with_context(|| format!("SLX {}: bundle {} is not loaded", s.name, s.bundle))?;
    let tasks: Vec<TaskRef> = if s.tasks.is_empty() {
        b.tasks
            .iter()
            .filter(|t| t.kind == TaskKind::Health)
            .map(|t| TaskRef::new(collection, bundle, &t.name))
            .collect()
    } else {
        s.tasks
            .iter()
            .map(|t| TaskRef::new(collection, bundle, &t.task))
            .collect()
    };
    let mut results = vec![];
    let mut failed = false;
    for task in tasks {
        if !json {
            print!("{task} ... ");
            let _ = std::io::stdout().flush();
        }
        let out = runner
            .run(RunRequest {
                task: task.clone(),
                resource: s.resource.clone(),
                slx: Some(s.name.clone()),
                config: s.config.clone(),
                secrets: secrets.clone(),
                approval: None,
            })
            .await?;
        failed |= out.run.status != RunStatus::Succeeded;
        if !json {
            println!(
                "{} ({} issues){}",
                out.run.status,
                out.results.issues.len(),
                out.run
                    .error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            );
            for i in &out.results.issues {
                println!("    [sev {}] {}", i.severity, i.title);
            }
        }
        results.push(json!({
            "task": task.to_string(), "status": out.run.status, "error": out.run.error,
            "issues": out.results.issues, "run_id": out.run.id,
        }));
    }
    if json {
        print_json(&json!({"slx": s.name, "runs": results}))?;
    }
    Ok(if failed {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(Args)]
pub struct MapArgs {
    #[arg(long, conflicts_with = "dot")]
    json: bool,
    /// Graphviz output: `sitrep map --dot | dot -Tsvg > map.svg`.
    #[arg(long)]
    dot: bool,
    /// Only what is around this resource (a loose name works: "checkout", "the orders db").
    #[arg(long, value_name = "NAME")]
    around: Option<String>,
    /// With --around: print downstream (what it needs) and upstream (what needs it) paths.
    #[arg(long, requires = "around")]
    paths: bool,
    /// Include stale resources.
    #[arg(long)]
    all: bool,
}

pub async fn map(home: &Path, db: Option<&str>, a: MapArgs) -> Result<ExitCode> {
    let app = App::open(home, db).await?;
    let stored = app.store.load_map(app.workspace()).await?;
    if stored.resources.is_empty() {
        bail!("the map is empty: run `sitrep discover` first");
    }
    let map = if a.all {
        let mut s = stored.clone();
        s.resources.iter_mut().for_each(|r| r.stale = false);
        s.live()
    } else {
        stored.live()
    };
    let focus: Option<&Resource> = match &a.around {
        None => None,
        Some(q) => Some(
            *map.lookup(q)
                .first()
                .with_context(|| format!("no resource matches {q:?} (see `sitrep map`)"))?,
        ),
    };
    if let (Some(r), true) = (focus, a.paths) {
        return print_paths(&map, r, a.json);
    }
    let (resources, edges): (Vec<&Resource>, Vec<&sitrep_core::map::Edge>) = match focus {
        None => (
            map.resources().iter().collect(),
            map.edges().iter().collect(),
        ),
        Some(r) => {
            let hops = map.neighbours(&r.key);
            let mut rs: Vec<&Resource> = vec![r];
            rs.extend(hops.iter().map(|h| h.resource));
            (rs, hops.iter().map(|h| h.edge).collect())
        }
    };
    if a.json {
        print_json(&json!({"resources": resources, "edges": edges}))?;
    } else if a.dot {
        println!("digraph sitrep {{\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];");
        for r in &resources {
            println!(
                "  {:?} [label={:?}];",
                r.key,
                format!("{}\n{}", r.name, r.kind)
            );
        }
        for e in &edges {
            let style = if e.kind.propagates_failure() {
                "solid"
            } else {
                "dashed"
            };
            println!(
                "  {:?} -> {:?} [label={:?}, style={style}];",
                e.from,
                e.to,
                e.kind.as_str()
            );
        }
        println!("}}");
    } else {
        let name = |k: &str| map.get(k).map_or(k.to_string(), |r| r.name.clone());
        let rows = resources
            .iter()
            .map(|r| {
                let out: Vec<String> = edges
                    .iter()
                    .filter(|e| e.from == r.key)
                    .map(|e| format!("{} {}", e.kind, name(&e.to)))
                    .collect();
                vec![r.name.clone(), r.kind.clone(), out.join(", ")]
            })
            .collect();
        print!("{}", table(&["RESOURCE", "KIND", "EDGES"], rows));
    }
    Ok(ExitCode::SUCCESS)
}

fn print_paths(map: &Map, r: &Resource, json: bool) -> Result<ExitCode> {
    let down = map.paths(&r.key, Direction::Downstream, 6, 50);
    let up = map.paths(&r.key, Direction::Upstream, 6, 50);
    let names = |p: &Vec<sitrep_core::map::Hop<'_>>| -> Vec<String> {
        p.iter().map(|h| h.resource.name.clone()).collect()
    };
    if json {
        print_json(&json!({
            "resource": r,
            "downstream": down.iter().map(names).collect::<Vec<_>>(),
            "upstream": up.iter().map(names).collect::<Vec<_>>(),
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("{} ({})", r.name, r.kind);
    println!("downstream (what it needs):");
    for p in &down {
        println!("  {} -> {}", r.name, names(p).join(" -> "));
    }
    println!("upstream (what needs it):");
    for p in &up {
        println!("  {} <- {}", r.name, names(p).join(" <- "));
    }
    Ok(ExitCode::SUCCESS)
}
