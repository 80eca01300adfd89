//! `discover`, `slx`, `map`.

use crate::out::{col, outln, print_json, table, text, write_out};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use sitrep_core::map::EdgeKind;
use sitrep_engine::views::{IndexerOutcome, MapView};
use sitrep_engine::{DiscoveryProgress, MapQuery, Sitrep};
use std::collections::BTreeMap;
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

impl DiscoveryProgress for StderrProgress {
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

pub async fn discover(sitrep: &Sitrep, a: DiscoverArgs) -> Result<ExitCode> {
    let report = sitrep.discover(a.dry_run, &StderrProgress).await?;
    let code = if report.failed_indexers() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    if a.json {
        print_json(&report)?;
        return Ok(code);
    }
    print_inventory(&MapView {
        resources: report.resources.clone(),
        edges: report.edges.clone(),
    })?;
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
            outln!(
                "{} SLX {} ({} on {})",
                verb(what),
                s.name,
                s.bundle,
                s.resource
            )?;
        }
    }
    for s in &report.slxs.retire {
        outln!(
            "{} SLX {} (resource {} is gone; marked stale)",
            verb("retire"),
            s.name,
            s.resource
        )?;
    }
    for c in &report.slxs.covered {
        outln!("skipped SLX {c}")?;
    }
    for w in &report.warnings {
        outln!("warning: {w}")?;
    }
    let c = &report.changes;
    outln!(
        "{} resources ({} new, {} changed, {} gone), {} edges ({} new, {} removed); SLXs: {} created, {} updated, {} retired, {} unchanged{}",
        report.resources.len(),
        c.added.len(),
        c.changed.len(),
        c.retired.len(),
        report.edges.len(),
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
    )?;
    Ok(code)
}

/// Small maps in full; big ones (a cluster) as counts, pointing at `sitrep map`.
fn print_inventory(live: &MapView) -> Result<()> {
    const FULL: usize = 60;
    if live.resources.len() > FULL {
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &live.resources {
            *kinds.entry(r.kind.as_str()).or_default() += 1;
        }
        let rows: Vec<Vec<String>> = kinds
            .iter()
            .map(|(k, n)| vec![k.to_string(), n.to_string()])
            .collect();
        write_out(format_args!(
            "{}",
            table(&[col("KIND"), col("RESOURCES")], &rows)
        ))?;
        let mut edges: BTreeMap<&str, usize> = BTreeMap::new();
        for e in &live.edges {
            *edges.entry(e.kind.as_str()).or_default() += 1;
        }
        let rows: Vec<Vec<String>> = edges
            .iter()
            .map(|(k, n)| vec![k.to_string(), n.to_string()])
            .collect();
        outln!()?;
        write_out(format_args!(
            "{}",
            table(&[col("EDGE"), col("COUNT")], &rows)
        ))?;
        outln!(
            "\n(`sitrep map --around NAME` shows one neighbourhood; --json or --dot everything)\n"
        )?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = live
        .resources
        .iter()
        .map(|r| vec![r.name.clone(), r.kind.clone(), r.sources.join(",")])
        .collect();
    write_out(format_args!(
        "{}",
        table(&[col("RESOURCE"), col("KIND"), col("FOUND BY")], &rows)
    ))?;
    outln!()?;
    let name = |k: &str| {
        live.resources
            .iter()
            .find(|r| r.key == k)
            .map_or(k.to_string(), |r| r.name.clone())
    };
    let rows: Vec<Vec<String>> = live
        .edges
        .iter()
        .filter(|e| e.kind != EdgeKind::RunsOn && e.kind != EdgeKind::PartOf)
        .map(|e| vec![name(&e.from), e.kind.to_string(), name(&e.to)])
        .collect();
    write_out(format_args!(
        "{}",
        table(&[col("FROM"), col("EDGE"), col("TO")], &rows)
    ))?;
    outln!()?;
    Ok(())
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

pub async fn slx(sitrep: &Sitrep, c: SlxCmd) -> Result<ExitCode> {
    match c {
        SlxCmd::List { json } => {
            let slxs = sitrep.slxs().await?;
            if json {
                print_json(&slxs)?;
            } else if slxs.is_empty() {
                outln!(
                    "no SLXs; `sitrep discover` generates them, `sitrep init` adds one for this host"
                )?;
            } else {
                let rows: Vec<Vec<String>> = slxs
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
                            origin.into(),
                        ]
                    })
                    .collect();
                write_out(format_args!(
                    "{}",
                    table(
                        &[col("SLX"), col("BUNDLE"), col("RESOURCE"), col("ORIGIN")],
                        &rows
                    )
                ))?;
            }
        }
        SlxCmd::Show { name, json } => {
            let s = sitrep.slx(&name).await?;
            if json {
                print_json(&s)?;
            } else {
                // The SLX's own YAML is its clearest rendering; secrets are references only.
                write_out(format_args!("{}", yaml_serde::to_string(&s)?))?;
            }
        }
        SlxCmd::Set {
            name,
            values,
            unset,
        } => {
            let mut set = BTreeMap::new();
            for kv in &values {
                let (k, v) = kv
                    .split_once('=')
                    .with_context(|| format!("{kv:?} must be KEY=VALUE"))?;
                set.insert(k.to_string(), v.to_string());
            }
            sitrep.set_slx_config(&name, &set, &unset).await?;
            outln!("updated SLX {name}")?;
        }
        SlxCmd::Run { name, json } => {
            let v = sitrep.run_slx(&name).await?;
            let failed = v.runs.iter().any(|r| r.failed());
            if json {
                print_json(&v)?;
            } else {
                for r in &v.runs {
                    outln!(
                        "{} ... {} ({} issues){}",
                        r.run.task,
                        r.run.status,
                        r.issues.len(),
                        r.run
                            .reason
                            .as_deref()
                            .or(r.run.error.as_deref())
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default()
                    )?;
                    for i in &r.issues {
                        outln!("    [sev {}] {}", i.severity, i.title)?;
                    }
                }
                for p in &v.problems {
                    eprintln!("skipped: {p}");
                }
            }
            return Ok(if failed {
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            });
        }
    }
    Ok(ExitCode::SUCCESS)
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

pub async fn map(sitrep: &Sitrep, a: MapArgs) -> Result<ExitCode> {
    if let (Some(name), true) = (&a.around, a.paths) {
        let p = sitrep.map_paths(name, a.all).await?;
        if a.json {
            print_json(&p)?;
            return Ok(ExitCode::SUCCESS);
        }
        outln!("{} ({})", p.resource.name, p.resource.kind)?;
        outln!("downstream (what it needs):")?;
        for path in &p.downstream {
            outln!("  {} -> {}", p.resource.name, path.join(" -> "))?;
        }
        outln!("upstream (what needs it):")?;
        for path in &p.upstream {
            outln!("  {} <- {}", p.resource.name, path.join(" <- "))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let m = sitrep
        .map(&MapQuery {
            around: a.around.clone(),
            include_stale: a.all,
        })
        .await?;
    if m.resources.is_empty() {
        anyhow::bail!("the map is empty: run discovery first");
    }
    if a.json {
        print_json(&m)?;
    } else if a.dot {
        outln!("digraph sitrep {{\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];")?;
        for r in &m.resources {
            outln!(
                "  {:?} [label={:?}];",
                r.key,
                format!("{}\n{}", r.name, r.kind)
            )?;
        }
        for e in &m.edges {
            let style = if e.kind.propagates_failure() {
                "solid"
            } else {
                "dashed"
            };
            outln!(
                "  {:?} -> {:?} [label={:?}, style={style}];",
                e.from,
                e.to,
                e.kind.as_str()
            )?;
        }
        outln!("}}")?;
    } else {
        let name = |k: &str| {
            m.resources
                .iter()
                .find(|r| r.key == k)
                .map_or(k.to_string(), |r| r.name.clone())
        };
        let rows: Vec<Vec<String>> = m
            .resources
            .iter()
            .map(|r| {
                let out: Vec<String> = m
                    .edges
                    .iter()
                    .filter(|e| e.from == r.key)
                    .map(|e| format!("{} {}", e.kind, name(&e.to)))
                    .collect();
                vec![r.name.clone(), r.kind.clone(), out.join(", ")]
            })
            .collect();
        write_out(format_args!(
            "{}",
            table(&[col("RESOURCE"), col("KIND"), text("EDGES", 200)], &rows)
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
