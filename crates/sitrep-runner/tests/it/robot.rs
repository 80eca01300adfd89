//! Robot tasks through the fork server (`exec::forkserver`): every task a fork of one Python
//! that imported Robot Framework once, set up like any task (its process group and cgroup,
//! its environment only) and killed like one. Needs the robot runtime: installed from PyPI
//! into `CARGO_TARGET_TMPDIR/robot-runtimes` once (the CLI tests share it).

use super::Home;
use crate::processes::{gone, pid, wait_until};
use sitrep_bundles::{Catalog, CollectionKind, CollectionSource, Readers};
use sitrep_core::{RunStatus, TaskRef};
use sitrep_runner::{RobotRuntime, RunRequest, Runner, RunnerConfig, SystemClock};
use sitrep_store::SqlStore;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const RUNBOOK: &str = r#"*** Settings ***
Documentation       Tasks that show which process runs them.
Library             BuiltIn
Library             RW.Core
Library             RW.CLI
Suite Setup         Suite Initialization

*** Tasks ***
Who Runs Me
    [Documentation]    Prints its parent process and a variable
    [Tags]    access:read-only
    ${ppid}=    Evaluate    os.getppid()    modules=os
    ${pgid}=    Evaluate    os.getpgid(0) == os.getpid()    modules=os
    ${umask}=    Evaluate    oct(os.umask(0o077))    modules=os
    Log To Console    ppid=${ppid} leader=${pgid} umask=${umask} marker=${MARKER} home=%{SITREP_HOME=unset}
    RW.Core.Add Pre To Report    ran

Hold
    [Documentation]    Starts a sleep that would outlive it, and waits
    [Tags]    access:read-only
    ${pid}=    Evaluate    os.getpid()    modules=os
    Evaluate    open(r'${PIDS}/robot.pid', 'w').write(str(${pid}))
    Evaluate    subprocess.run(['sh', '-c', 'echo $$ > ${PIDS}/sleep.pid; exec sleep 300'])    modules=subprocess

*** Keywords ***
Suite Initialization
    ${MARKER}=    RW.Core.Import User Variable    MARKER
    ...    type=string    description=anything    default=none
    ${PIDS}=    RW.Core.Import User Variable    PIDS
    ...    type=string    description=a folder    default=/tmp
    Set Suite Variable    ${MARKER}    ${MARKER}
    Set Suite Variable    ${PIDS}    ${PIDS}
"#;

/// The shared robot runtime, installed on first use.
fn runtimes() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("robot-runtimes");
        std::fs::create_dir_all(&dir).unwrap();
        RobotRuntime::new(&dir)
            .ensure(&mut |step| eprintln!("robot runtime: {step}"))
            .unwrap();
        dir
    })
}

/// The collection `rw` (the runbook above) in `dir`, read with the RunWhen reader.
fn robot_catalog(dir: &Path) -> Catalog {
    let col = dir.join("rw");
    std::fs::create_dir_all(col.join("codebundles/who")).unwrap();
    std::fs::write(col.join("codebundles/who/runbook.robot"), RUNBOOK).unwrap();
    let source = CollectionSource {
        name: "rw".into(),
        path: Some(col),
        git: None,
        rev: None,
        kind: CollectionKind::Runwhen,
    };
    let readers = Readers {
        runwhen: Some(sitrep_runwhen::read_collection),
    };
    Catalog::load_with(&[source], &dir.join("cache"), readers).unwrap()
}

fn robot_config(dir: &Path, runtimes: &Path) -> RunnerConfig {
    let mut cfg = RunnerConfig::new("w", dir.join("runtime"));
    cfg.runtimes_dir = runtimes.to_path_buf();
    cfg
}

async fn robot_home() -> (Home, Arc<Runner>) {
    let runtimes = tokio::task::spawn_blocking(runtimes).await.unwrap();
    let home = Home::new(&[]).await;
    let home = Home {
        catalog: Arc::new(robot_catalog(home.dir.path())),
        ..home
    };
    let runner = home.runner(robot_config(home.dir.path(), runtimes));
    (home, runner)
}

fn request(task: &str, config: &[(&str, &str)]) -> RunRequest {
    RunRequest {
        task: TaskRef::new("rw", "who", task),
        resource: "host-a".into(),
        slx: None,
        config: config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        secrets: BTreeMap::new(),
        approval: None,
    }
}

fn field<'a>(stdout: &'a str, name: &str) -> &'a str {
    let at = stdout
        .find(&format!("{name}="))
        .unwrap_or_else(|| panic!("no {name}= in {stdout}"));
    stdout[at + name.len() + 1..]
        .split_whitespace()
        .next()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn robot_tasks_are_forks_of_one_server_each_set_up_as_its_own_task() {
    let (_home, runner) = robot_home().await;
    let mut parents = vec![];
    for marker in ["first", "second"] {
        let out = runner
            .run(request("who-runs-me", &[("MARKER", marker)]))
            .await
            .unwrap();
        assert_eq!(out.run.status, RunStatus::Succeeded, "{:?}", out.run);
        let stdout = &out.run.stdout;
        assert_eq!(out.run.report, "ran", "{stdout}");
        // its own variables, nothing of sitrep's environment or the task before it
        assert_eq!(field(stdout, "marker"), marker, "{stdout}");
        assert_eq!(field(stdout, "home"), "unset", "{stdout}");
        assert_eq!(field(stdout, "leader"), "True", "{stdout}");
        assert_eq!(field(stdout, "umask"), "0o77", "{stdout}");
        parents.push(field(stdout, "ppid").to_string());
    }
    // both forks of one server, which is not sitrep
    assert_eq!(parents[0], parents[1]);
    assert_ne!(parents[0], std::process::id().to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_robot_task_dies_with_what_it_started() {
    let (home, runner) = robot_home().await;
    let pids = home.dir.path().join("pids");
    std::fs::create_dir_all(&pids).unwrap();
    let running = tokio::spawn({
        let (runner, req) = (
            runner.clone(),
            request("hold", &[("PIDS", &pids.display().to_string())]),
        );
        async move { runner.run(req).await }
    });
    let sleep = pids.join("sleep.pid");
    wait_until("the task has started its sleep", || {
        std::fs::read_to_string(&sleep).is_ok_and(|s| s.ends_with('\n'))
    })
    .await;
    let (task, sleep) = (pid(&pids.join("robot.pid")), pid(&sleep));
    runner.interrupt_all("stopping");
    let out = running.await.unwrap().unwrap();
    assert_eq!(out.run.status, RunStatus::Interrupted, "{:?}", out.run);
    wait_until("the robot task and its sleep are gone", || {
        gone(task) && gone(sleep)
    })
    .await;
}

/// sitrep running the robot task `hold` until it is killed.
#[tokio::test]
#[ignore = "a helper process of after_kill_9_a_robot_task_dies_and_its_leftovers_are_killed"]
async fn helper_process_holding_a_robot_task() {
    let Ok(dir) = std::env::var("SITREP_TEST_HOLD_DIR") else {
        return;
    };
    let dir = PathBuf::from(dir);
    let store = SqlStore::connect(&Home::db_url(&dir)).await.unwrap();
    let runner = Runner::new(
        robot_config(&dir, runtimes()),
        Arc::new(robot_catalog(&dir)),
        Arc::new(store),
        Arc::new(SystemClock),
    )
    .unwrap();
    let pids = dir.join("pids").display().to_string();
    let _ = runner.run(request("hold", &[("PIDS", &pids)])).await;
    unreachable!("the test kills this process while its task runs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_a_robot_task_dies_and_its_leftovers_are_killed() {
    let (home, runner) = robot_home().await;
    let pids = home.dir.path().join("pids");
    std::fs::create_dir_all(&pids).unwrap();
    let mut helper = crate::helper_process(
        "robot::helper_process_holding_a_robot_task",
        home.dir.path(),
    );
    let sleep = pids.join("sleep.pid");
    wait_until("the helper's robot task started its sleep", || {
        std::fs::read_to_string(&sleep).is_ok_and(|s| s.ends_with('\n'))
    })
    .await;
    let (task, sleep) = (pid(&pids.join("robot.pid")), pid(&sleep));
    // SAFETY: a signal to the helper this test started.
    unsafe { libc::kill(helper.id() as i32, libc::SIGKILL) };
    helper.wait().unwrap();
    // the fork server dies with sitrep, the task with the fork server
    wait_until("the robot task dies with sitrep", || gone(task)).await;
    let rec = runner.recover().await.unwrap();
    assert_eq!(rec.interrupted.len(), 1, "{rec:?}");
    if crate::processes::cgroups() {
        wait_until("what the task started is killed", || gone(sleep)).await;
    } else {
        crate::processes::kill(sleep);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_server_that_died_is_started_again_by_the_next_task() {
    let (_home, runner) = robot_home().await;
    let who = || async {
        let out = runner.run(request("who-runs-me", &[])).await.unwrap();
        assert_eq!(out.run.status, RunStatus::Succeeded, "{:?}", out.run);
        field(&out.run.stdout, "ppid").parse::<u32>().unwrap()
    };
    let server = who().await;
    crate::processes::kill(server);
    wait_until("the fork server is gone", || gone(server)).await;
    // the next task may find it dying (then it starts as its own Python) or gone (a new server)
    let next = who().await;
    assert_ne!(next, server);
    let after = who().await;
    assert_ne!(after, server);
    assert_ne!(
        after,
        std::process::id(),
        "a new fork server runs the tasks"
    );
}
