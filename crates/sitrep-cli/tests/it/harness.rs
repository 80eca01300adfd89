//! The shared harness of the CLI's integration tests: a temporary `SITREP_HOME` and the
//! `sitrep` binary run in it with no `SITREP_*` variable of the caller's environment.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

pub struct Home {
    pub dir: tempfile::TempDir,
}

/// Writes `text` to `p`, creating its folders.
pub fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

impl Home {
    /// An empty home: sitrep's defaults until a test writes a `sitrep.yaml`.
    pub fn empty() -> Home {
        Home {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A home whose `sitrep.yaml` lists the collection `t`, made of `files` (path inside the
    /// collection, text) under `col/`.
    pub fn with_collection(files: &[(&str, &str)]) -> Home {
        let home = Home::empty();
        let col = home.path().join("col");
        write(&col.join("collection.yaml"), "name: t\n");
        for (rel, text) in files {
            write(&col.join(rel), text);
        }
        write(
            &home.path().join("sitrep.yaml"),
            &format!("collections:\n  - name: t\n    path: {}\n", col.display()),
        );
        home
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `sitrep ARGS` in this home, the caller's `SITREP_*` variables removed.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sitrep"));
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("SITREP_") {
                c.env_remove(k);
            }
        }
        c.args(args).env("SITREP_HOME", self.path());
        c
    }

    pub fn sitrep(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Its standard output; fails the test, with both outputs, when the command fails.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.sitrep(args);
        assert!(
            out.status.success(),
            "sitrep {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }
}
