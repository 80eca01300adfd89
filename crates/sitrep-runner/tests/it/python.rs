//! Python tasks through the fork server (`exec::forkserver`): forks of one `python3`, each run
//! as `python3 SCRIPT` would be (its folder first on the path, `__main__`, its own environment,
//! threads waited for and atexit handlers run on the way out, exit codes and tracebacks).

use super::Home;
use sitrep_core::{RunStatus, TaskRef};
use sitrep_runner::RunRequest;
use std::collections::BTreeMap;

const BUNDLE: &str = "\
name: py
params:
  - name: MARKER
    default: none
tasks:
  - name: who
    kind: diagnostic
    type: python
    script: who.py
  - name: fails
    kind: diagnostic
    type: python
    script: fails.py
";

const WHO: &str = r#"
import atexit, os, sys, threading, time
import helper  # beside the script: its folder is first on the path
print("ppid=%d main=%s helper=%s marker=%s home=%s" % (
    os.getppid(), __name__, helper.NAME, os.environ.get("MARKER"), "HOME" in os.environ))
atexit.register(lambda: print("atexit=ran", flush=True))
def late():
    time.sleep(0.2)
    print("thread=finished", flush=True)
threading.Thread(target=late).start()
"#;

const FAILS: &str = "import sys\nprint('before')\nraise SystemExit(3)\n";

fn request(task: &str, marker: &str) -> RunRequest {
    RunRequest {
        task: TaskRef::new("t", "py", task),
        resource: "host-a".into(),
        slx: None,
        config: BTreeMap::from([("MARKER".to_string(), marker.to_string())]),
        secrets: BTreeMap::new(),
        approval: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_tasks_are_forks_of_one_python_run_as_python_runs_a_script() {
    let home = Home::new(&[(
        "py",
        BUNDLE,
        &[
            ("who.py", WHO),
            ("helper.py", "NAME = 'beside'\n"),
            ("fails.py", FAILS),
        ],
    )])
    .await;
    let runner = home.runner(home.config());
    let mut parents = vec![];
    for marker in ["one", "two"] {
        let out = runner.run(request("who", marker)).await.unwrap();
        assert_eq!(out.run.status, RunStatus::Succeeded, "{:?}", out.run);
        let stdout = &out.run.stdout;
        assert!(
            stdout.contains(&format!(
                "main=__main__ helper=beside marker={marker} home=True"
            )),
            "{stdout}"
        );
        assert!(stdout.contains("thread=finished"), "{stdout}");
        assert!(stdout.contains("atexit=ran"), "{stdout}");
        let ppid = stdout.split("ppid=").nth(1).unwrap();
        parents.push(ppid.split_whitespace().next().unwrap().to_string());
    }
    assert_eq!(parents[0], parents[1], "one server");
    assert_ne!(parents[0], std::process::id().to_string());

    let out = runner.run(request("fails", "x")).await.unwrap();
    assert_eq!(out.run.status, RunStatus::Failed);
    assert_eq!(out.run.exit_code, Some(3), "{:?}", out.run);
    assert!(out.run.stdout.contains("before"), "{:?}", out.run);
}
