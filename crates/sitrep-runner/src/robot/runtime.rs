//! The managed Robot Framework runtime RunWhen codebundles run in: a Python venv under
//! `$SITREP_HOME/runtimes/robot/` with pinned `robotframework` and `rw-cli-keywords` (RW.CLI and
//! friends), and sitrep's own `RW.Core` / `RW.platform` (the shim, embedded in this binary).
//!
//! `rw-cli-keywords` is installed without its declared dependencies: they include Google Cloud
//! BigQuery, Docker and Azure SDKs that none of its RW.CLI, RW.K8sHelper, RW.K8sLog or
//! RW.NextSteps modules import. What those modules import is pinned in [`PINS`] instead.
//! Installing is idempotent: a stamp file records the pins it was made with.

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The runtime's name, as `sitrep runtimes install robot` spells it.
pub const ROBOT: &str = "robot";

/// Installed with their dependencies (pip resolves the rest).
pub const PINS: &[(&str, &str)] = &[
    ("robotframework", "7.5"),
    ("jmespath", "1.1.0"),
    ("python-dateutil", "4.0.0"),
    ("pyyaml", "6.0.4"),
    ("thefuzz", "0.22.1"),
];

/// Installed without its dependencies (see the module's documentation).
pub const RW_CLI_KEYWORDS: (&str, &str) = ("rw-cli-keywords", "2026.3.25.1");

/// sitrep's RW package: written into the runtime's `shim/RW/` on every use when it changed.
const SHIM: &[(&str, &str)] = &[
    ("__init__.py", include_str!("shim/__init__.py")),
    ("Core.py", include_str!("shim/Core.py")),
    ("platform.py", include_str!("shim/platform.py")),
];

const STAMP: &str = "sitrep-runtime.json";

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("unknown runtime {0:?}: sitrep has one, `robot`")]
    Unknown(String),
    #[error(
        "cannot create a Python venv with {python}: {detail}. Install Python 3 with venv support (on Debian and Ubuntu: `apt-get install python3-venv`), then run `sitrep runtimes install robot`"
    )]
    NoVenv { python: String, detail: String },
    #[error(
        "installing the robot runtime failed at `{step}`: {detail}. Check that PyPI is reachable (or pip's proxy settings), then run `sitrep runtimes install robot`"
    )]
    Step { step: String, detail: String },
    #[error("cannot write the robot runtime in {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// What `sitrep runtimes list` shows of a runtime.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RuntimeStatus {
    pub name: String,
    pub dir: String,
    /// `current`, `missing`, or `outdated` (made with other pins: installing replaces it).
    pub state: String,
    /// Package → version, as pinned by this sitrep.
    pub packages: BTreeMap<String, String>,
}

/// The robot runtime of one sitrep home.
#[derive(Debug, Clone)]
pub struct RobotRuntime {
    dir: PathBuf,
}

fn pins() -> BTreeMap<String, String> {
    PINS.iter()
        .chain(std::iter::once(&RW_CLI_KEYWORDS))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

impl RobotRuntime {
    /// The runtime in `runtimes_dir/robot`.
    pub fn new(runtimes_dir: &Path) -> RobotRuntime {
        RobotRuntime {
            dir: runtimes_dir.join(ROBOT),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The venv's interpreter.
    pub fn python(&self) -> PathBuf {
        self.dir.join("bin/python")
    }

    /// Holds `RW/Core.py` and `RW/platform.py`: robot's `--pythonpath`.
    pub fn shim_dir(&self) -> PathBuf {
        self.dir.join("shim")
    }

    /// Installed with this sitrep's pins.
    pub fn is_current(&self) -> bool {
        std::fs::read(self.dir.join(STAMP))
            .ok()
            .and_then(|b| serde_json::from_slice::<BTreeMap<String, String>>(&b).ok())
            .is_some_and(|stamp| stamp == pins())
            && self.python().exists()
    }

    pub fn status(&self) -> RuntimeStatus {
        let state = if self.is_current() {
            "current"
        } else if self.dir.exists() {
            "outdated"
        } else {
            "missing"
        };
        RuntimeStatus {
            name: ROBOT.into(),
            dir: self.dir.display().to_string(),
            state: state.into(),
            packages: pins(),
        }
    }

    /// Installs the runtime unless it is current (then only refreshes the shim), telling
    /// `progress` each step. Blocking: minutes on a first install.
    pub fn ensure(&self, progress: &mut dyn FnMut(&str)) -> Result<RuntimeStatus, RuntimeError> {
        if self.is_current() {
            self.write_shim(&self.dir)?;
            self.repair_scripts();
            return Ok(self.status());
        }
        self.install(progress)?;
        Ok(self.status())
    }

    /// Builds the venv beside the runtime's folder and moves it in place when complete, so a
    /// failed or concurrent install never leaves a half-made runtime in use. Both are named
    /// by their real path (the runtimes folder may be a link), and the venv's scripts are
    /// pointed at the final folder before the move (see [`relocate_scripts`]).
    fn install(&self, progress: &mut dyn FnMut(&str)) -> Result<(), RuntimeError> {
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| RuntimeError::Io { path, source }
        };
        let parent = self.dir.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(io(parent))?;
        let parent = std::fs::canonicalize(parent).map_err(io(parent))?;
        let target = parent.join(ROBOT);
        let work = parent.join(format!(".{ROBOT}.installing-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&work);
        let python = std::env::var("SITREP_PYTHON").unwrap_or_else(|_| "python3".into());
        progress(&format!(
            "creating a Python venv in {} with {python}",
            self.dir.display()
        ));
        let venv = Command::new(&python)
            .args(["-m", "venv"])
            .arg(&work)
            .output();
        match venv {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                let _ = std::fs::remove_dir_all(&work);
                return Err(RuntimeError::NoVenv {
                    python,
                    detail: tail(&o.stderr),
                });
            }
            Err(e) => {
                return Err(RuntimeError::NoVenv {
                    python,
                    detail: e.to_string(),
                });
            }
        }
        let result = self
            .fill(&work, progress)
            .and_then(|()| relocate_scripts(&work.join("bin"), &work, &target).map_err(io(&work)));
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&work);
            return result;
        }
        let _ = std::fs::remove_dir_all(&target);
        std::fs::rename(&work, &target).map_err(io(&target))?;
        progress(&format!(
            "the robot runtime is ready in {}",
            self.dir.display()
        ));
        Ok(())
    }

    /// pip installs, the shim, a check that RW.CLI imports, and the stamp.
    fn fill(&self, work: &Path, progress: &mut dyn FnMut(&str)) -> Result<(), RuntimeError> {
        let py = work.join("bin/python");
        let pip = |args: &[String]| -> Result<(), RuntimeError> {
            let mut c = Command::new(&py);
            c.args(["-m", "pip", "install", "--disable-pip-version-check"])
                .args(["--no-input", "--progress-bar", "off", "--quiet"])
                .args(args);
            run(c, &format!("pip install {}", args.join(" ")))
        };
        let pinned: Vec<String> = PINS.iter().map(|(n, v)| format!("{n}=={v}")).collect();
        progress(&format!("installing {}", pinned.join(" ")));
        pip(&pinned)?;
        let (name, version) = RW_CLI_KEYWORDS;
        progress(&format!(
            "installing {name}=={version} (without its cloud SDK dependencies)"
        ));
        pip(&["--no-deps".into(), format!("{name}=={version}")])?;
        progress("writing sitrep's RW.Core and RW.platform");
        self.write_shim(work)?;
        let mut check = Command::new(&py);
        check
            .arg("-c")
            .arg(
                "import robot, RW.Core, RW.platform, RW.CLI, RW.K8sHelper, RW.K8sLog, RW.NextSteps",
            )
            .env("PYTHONPATH", work.join("shim"));
        run(check, "python -c 'import robot, RW.CLI, ...'")?;
        let stamp = serde_json::to_vec_pretty(&pins()).expect("a map of strings");
        std::fs::write(work.join(STAMP), stamp).map_err(|source| RuntimeError::Io {
            path: work.join(STAMP).display().to_string(),
            source,
        })
    }

    /// A runtime installed by an earlier sitrep has scripts naming the folder it was built in
    /// (`bin/robot`: "cannot execute: required file not found"): point them at this folder.
    /// Best effort: sitrep itself runs `bin/python -m robot`, never these scripts.
    fn repair_scripts(&self) {
        let Ok(dir) = std::fs::canonicalize(&self.dir) else {
            return;
        };
        let bin = dir.join("bin");
        if let Some(root) = script_root(&bin.join("robot"))
            && root != dir
        {
            let _ = relocate_scripts(&bin, &root, &dir);
        }
    }

    fn write_shim(&self, root: &Path) -> Result<(), RuntimeError> {
        let dir = root.join("shim/RW");
        let io = |source| RuntimeError::Io {
            path: dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        for (name, text) in SHIM {
            let path = dir.join(name);
            if std::fs::read(&path).ok().as_deref() != Some(text.as_bytes()) {
                std::fs::write(&path, text).map_err(io)?;
            }
        }
        Ok(())
    }
}

/// Rewrites `from` to `to` in the files of a venv's `bin` (pip's console scripts such as
/// `robot` and `pip` start with `#!FROM/bin/python`, the `activate` scripts set
/// `VIRTUAL_ENV=FROM`): a venv is made in one folder and used from another.
fn relocate_scripts(bin: &Path, from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let (from, to) = (from.as_os_str().as_bytes(), to.as_os_str().as_bytes());
    if from == to || from.is_empty() {
        return Ok(());
    }
    for entry in std::fs::read_dir(bin)? {
        let entry = entry?;
        // Links (bin/python to the interpreter) are left alone; scripts are small.
        if !entry.file_type()?.is_file() || entry.metadata()?.len() > 1 << 20 {
            continue;
        }
        let text = std::fs::read(entry.path())?;
        if !text.windows(from.len()).any(|w| w == from) {
            continue;
        }
        let mut out = Vec::with_capacity(text.len());
        let mut rest = &text[..];
        while let Some(at) = rest.windows(from.len()).position(|w| w == from) {
            out.extend_from_slice(&rest[..at]);
            out.extend_from_slice(to);
            rest = &rest[at + from.len()..];
        }
        out.extend_from_slice(rest);
        // Written in place: the file keeps its mode (executable).
        std::fs::write(entry.path(), out)?;
    }
    Ok(())
}

/// The venv a console script was written for: `#!ROOT/bin/python…` gives ROOT.
fn script_root(script: &Path) -> Option<PathBuf> {
    let text = std::fs::read(script).ok()?;
    let first = text.split(|&b| b == b'\n').next()?;
    let interpreter = Path::new(std::str::from_utf8(first.strip_prefix(b"#!")?).ok()?.trim());
    if !interpreter.file_name()?.to_str()?.starts_with("python") {
        return None;
    }
    let bin = interpreter.parent()?;
    if bin.file_name()? != "bin" {
        return None;
    }
    bin.parent().map(Path::to_path_buf)
}

fn run(mut c: Command, step: &str) -> Result<(), RuntimeError> {
    let err = |detail: String| RuntimeError::Step {
        step: step.to_string(),
        detail,
    };
    let out = c.output().map_err(|e| err(e.to_string()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(err(tail(&out.stderr)))
    }
}

/// The last lines of a command's error output.
fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stamp_decides_whether_the_runtime_is_current_and_a_current_one_is_not_rebuilt() {
        let home = tempfile::tempdir().unwrap();
        let rt = RobotRuntime::new(&home.path().join("runtimes"));
        assert_eq!(rt.status().state, "missing");

        std::fs::create_dir_all(rt.dir().join("bin")).unwrap();
        std::fs::write(rt.python(), "").unwrap();
        std::fs::write(rt.dir().join(STAMP), r#"{"robotframework": "6.0"}"#).unwrap();
        assert_eq!(rt.status().state, "outdated");
        assert!(!rt.is_current());

        std::fs::write(rt.dir().join(STAMP), serde_json::to_vec(&pins()).unwrap()).unwrap();
        assert!(rt.is_current());
        // Current: no step is taken, only the shim is (re)written.
        let mut steps = vec![];
        let status = rt.ensure(&mut |s| steps.push(s.to_string())).unwrap();
        assert_eq!(status.state, "current");
        assert!(steps.is_empty(), "{steps:?}");
        let core = std::fs::read_to_string(rt.shim_dir().join("RW/Core.py")).unwrap();
        assert!(core.contains("def add_issue"), "{core}");
        assert!(rt.shim_dir().join("RW/platform.py").exists());
    }

    #[test]
    fn the_venvs_scripts_are_pointed_at_the_folder_it_is_used_from() {
        let tmp = tempfile::tempdir().unwrap();
        let old = tmp.path().join("runtimes/.robot.installing-42");
        let rt = RobotRuntime::new(&tmp.path().join("runtimes"));
        let bin = rt.dir().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let robot = format!(
            "#!{}/bin/python\nimport sys\nfrom robot.run import run_cli\n",
            old.display()
        );
        std::fs::write(bin.join("robot"), &robot).unwrap();
        let activate = format!("VIRTUAL_ENV={0}\nPATH={0}/bin:$PATH\n", old.display());
        std::fs::write(bin.join("activate"), &activate).unwrap();
        std::fs::write(bin.join("other"), "#!/bin/sh\necho hi\n").unwrap();
        std::os::unix::fs::symlink("/usr/bin/python3", bin.join("python")).unwrap();
        assert_eq!(script_root(&bin.join("robot")), Some(old.clone()));
        assert_eq!(script_root(&bin.join("other")), None);

        rt.repair_scripts();
        let dir = std::fs::canonicalize(rt.dir()).unwrap();
        let d = dir.display();
        assert_eq!(
            std::fs::read_to_string(bin.join("robot")).unwrap(),
            format!("#!{d}/bin/python\nimport sys\nfrom robot.run import run_cli\n")
        );
        assert_eq!(
            std::fs::read_to_string(bin.join("activate")).unwrap(),
            format!("VIRTUAL_ENV={d}\nPATH={d}/bin:$PATH\n")
        );
        assert_eq!(
            std::fs::read_to_string(bin.join("other")).unwrap(),
            "#!/bin/sh\necho hi\n"
        );
        assert_eq!(
            std::fs::read_link(bin.join("python")).unwrap(),
            Path::new("/usr/bin/python3")
        );
        // Pointed at the right folder: nothing more to do.
        assert_eq!(script_root(&bin.join("robot")), Some(dir));
    }
}
