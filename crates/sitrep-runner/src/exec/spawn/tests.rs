use super::*;
use std::ffi::OsStr;
use tokio::io::AsyncReadExt;

fn env(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut e = vec![("PATH".to_string(), "/usr/bin:/bin".to_string())];
    e.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    e
}

#[tokio::test]
async fn the_child_gets_its_group_directory_environment_and_default_signals() {
    let dir = tempfile::tempdir().unwrap();
    let script = r#"echo "$PWD|$FOO|$(grep SigIgn /proc/$$/status | cut -f2)|$(cut -d' ' -f5 /proc/$$/stat)|$$"; echo oops >&2; exit 3"#;
    let args = [OsStr::new("-c"), OsStr::new(script)];
    let env = env(&[("FOO", "bar baz")]);
    let mut p = spawn(&Spawn {
        program: "bash",
        args: &args,
        env: &env,
        cwd: dir.path(),
        cgroup: None,
    })
    .unwrap();
    let (mut out, mut err) = (String::new(), String::new());
    p.stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .await
        .unwrap();
    p.stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .await
        .unwrap();
    assert_eq!(p.wait().await.unwrap().code(), Some(3));
    let f: Vec<&str> = out.trim().split('|').collect();
    let cwd = dir.path().canonicalize().unwrap();
    assert_eq!(f[0], cwd.display().to_string());
    assert_eq!(f[1], "bar baz");
    let ignored = u64::from_str_radix(f[2], 16).unwrap();
    assert_eq!(
        ignored & 1 << (libc::SIGPIPE - 1),
        0,
        "SIGPIPE is not ignored (sitrep itself ignores it)"
    );
    assert_eq!(f[3], f[4], "its own process group");
    assert_eq!(err, "oops\n");
}

#[tokio::test]
async fn failures_before_exec_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let spawn_in = |program: &'static str, cwd: PathBuf| async move {
        spawn(&Spawn {
            program,
            args: &[],
            env: &env(&[]),
            cwd: &cwd,
            cgroup: None,
        })
        .err()
        .unwrap()
    };
    let e = spawn_in("no-such-program-xyz", dir.path().into()).await;
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    let e = spawn_in("true", dir.path().join("missing")).await;
    assert!(
        e.to_string().starts_with("entering the run directory"),
        "{e}"
    );
}

#[tokio::test]
async fn a_task_starts_inside_its_cgroup() {
    let crate::Isolation::Cgroup { base } = crate::Isolation::detect() else {
        eprintln!("no usable cgroup v2 here; skipped");
        return;
    };
    let run = format!("spawn-test-{}", std::process::id());
    let cg = crate::tree::cgroup::TaskCgroup::create(base, &run).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let args = [OsStr::new("/proc/self/cgroup")];
    let mut p = spawn(&Spawn {
        program: "cat",
        args: &args,
        env: &env(&[]),
        cwd: dir.path(),
        cgroup: Some(cg.fds()),
    })
    .unwrap();
    let mut out = String::new();
    p.stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .await
        .unwrap();
    assert!(p.wait().await.unwrap().success());
    assert!(
        out.contains(&format!("0::/sitrep-{run}")) || out.contains(&format!("/sitrep-{run}\n")),
        "{out}"
    );
    // on x86-64 with Linux 5.7+, the process was created there (no migration)
    if cfg!(target_arch = "x86_64") {
        let mut mask: libc::sigset_t = unsafe { std::mem::zeroed() };
        let pid =
            unsafe { clone3::call(exit_at_once, std::ptr::null_mut(), &mut mask, cg.fds().dir) }
                .expect("clone3(CLONE_INTO_CGROUP) works on this host");
        let mut status = 0;
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    }
    let path = cg.path().to_path_buf();
    drop(cg);
    std::fs::remove_dir(path).unwrap();
}
