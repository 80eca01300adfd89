//! Starting a task's process the way `posix_spawn` does, with two steps it cannot take.
//!
//! The child is created with `clone(CLONE_VM | CLONE_VFORK)`: it borrows sitrep's memory until
//! it calls `execve`, so nothing is copied. (A `fork`, which `Command::pre_exec` forces, copies
//! the page tables of all of sitrep's memory: milliseconds per task on a busy machine.) Before
//! `execve` the child, running on its own small stack and making only async-signal-safe system
//! calls, takes the parent-death signal and joins the task's cgroup, which `posix_spawn`
//! cannot do. The parent waits for the exit through a pidfd (Linux 5.3), or SIGCHLD without.
//!
//! Everything the child touches is prepared by the parent first: C strings, the argument and
//! environment arrays, file descriptors, signal sets. All signals are blocked around the
//! `clone`, and the child resets every handler to the default before unblocking them (the
//! handlers are sitrep's, and the child shares sitrep's memory), as `posix_spawn` does.

use std::ffi::{CString, c_void};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use tokio::io::unix::AsyncFd;
use tokio::net::unix::pipe;

const CHILD_STACK: usize = 64 * 1024;

/// What to start.
pub struct Spawn<'a> {
    pub program: &'a str,
    pub args: &'a [&'a std::ffi::OsStr],
    pub env: &'a [(String, String)],
    pub cwd: &'a Path,
    /// The cgroup to start in.
    pub cgroup: Option<CgroupFds>,
}

/// A cgroup, open: its directory (for `clone3(CLONE_INTO_CGROUP)`) and its `cgroup.procs`
/// (to join it from the child where `clone3` is not available).
#[derive(Debug, Clone, Copy)]
pub struct CgroupFds {
    pub dir: RawFd,
    pub procs: RawFd,
}

/// A started task process: its pid, its output pipes, and what to await its exit on.
pub struct TaskProcess {
    pub pid: libc::pid_t,
    pub stdout: Option<pipe::Receiver>,
    pub stderr: Option<pipe::Receiver>,
    exit: Exit,
    reaped: bool,
}

enum Exit {
    /// Readable once the process has exited.
    Pidfd(AsyncFd<OwnedFd>),
    /// Kernels without pidfds: every SIGCHLD, then a look at this child.
    Sigchld(tokio::signal::unix::Signal),
    /// Not sitrep's child: a fork server's, which reaps it and reports its wait status.
    Reported(Option<tokio::sync::oneshot::Receiver<i32>>),
}

/// Which step of the child failed; reported through memory shared with the child.
const FAILED_CGROUP: i32 = 1 << 16;
const FAILED_CHDIR: i32 = 2 << 16;
const FAILED_EXEC: i32 = 3 << 16;
const FAILED_SETUP: i32 = 4 << 16;

/// Everything the child reads, built before the clone.
struct ChildArgs {
    path: CString,
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
    cwd: CString,
    stdin: RawFd,
    stdout: RawFd,
    stderr: RawFd,
    cgroup_procs: RawFd,
    parent: libc::pid_t,
    /// The mask to restore before `execve`: the calling thread's own.
    mask: libc::sigset_t,
    /// Set by the child when a step fails: the step and errno.
    error: AtomicI32,
}

fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor this function owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

fn cstring(s: impl AsRef<std::ffi::OsStr>) -> io::Result<CString> {
    CString::new(s.as_ref().as_encoded_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "a NUL byte in an argument or variable",
        )
    })
}

/// `program` found in the task's PATH (as `execvp` would, but before the clone).
fn resolve(program: &str, env: &[(String, String)]) -> io::Result<PathBuf> {
    if program.contains('/') {
        return Ok(PathBuf::from(program));
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map_or("/usr/local/bin:/usr/bin:/bin", |(_, v)| v.as_str());
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let candidate = Path::new(dir).join(program);
        if let Ok(c) = cstring(&candidate) {
            // SAFETY: a valid C string.
            if unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0 && candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!("{program} not found in PATH"),
    ))
}

/// A pipe whose both ends close on exec (the child's end is duplicated onto 1 or 2).
fn cloexec_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: a two-element array for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh descriptors this function owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Starts the process in its own process group. Must be called on a thread that lives as long
/// as the task (a runtime worker or the `block_on` thread): the parent-death signal fires when
/// the thread that created the child exits.
pub fn spawn(s: &Spawn<'_>) -> io::Result<TaskProcess> {
    let path = resolve(s.program, s.env)?;
    let program = cstring(&path)?;
    let mut args = vec![cstring(s.program)?];
    for a in s.args {
        args.push(cstring(a)?);
    }
    let env: Vec<CString> = s
        .env
        .iter()
        .map(|(k, v)| cstring(format!("{k}={v}")))
        .collect::<io::Result<_>>()?;
    let devnull = std::fs::File::open("/dev/null")?;
    let (out_r, out_w) = cloexec_pipe()?;
    let (err_r, err_w) = cloexec_pipe()?;
    let mut child = ChildArgs {
        path: program,
        argv: args
            .iter()
            .map(|a| a.as_ptr())
            .chain([std::ptr::null()])
            .collect(),
        envp: env
            .iter()
            .map(|e| e.as_ptr())
            .chain([std::ptr::null()])
            .collect(),
        cwd: cstring(s.cwd)?,
        stdin: devnull.as_raw_fd(),
        stdout: out_w.as_raw_fd(),
        stderr: err_w.as_raw_fd(),
        cgroup_procs: -1,
        // SAFETY: getpid cannot fail.
        parent: unsafe { libc::getpid() },
        // SAFETY: zeroed memory is a valid sigset_t to be filled below.
        mask: unsafe { std::mem::zeroed() },
        error: AtomicI32::new(0),
    };
    // SAFETY: reads the calling thread's mask into a zeroed set.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, std::ptr::null(), &mut child.mask) };
    let mut mask = child.mask;
    let arg = (&mut child as *mut ChildArgs).cast::<c_void>();
    // SAFETY: the child reads only `child` (its mask is written before the child starts), which
    // outlives it.
    let pid = unsafe {
        match s.cgroup {
            // Born in its cgroup: no migration (which waits for an RCU grace period).
            Some(cg) => match clone3::call(child_main, arg, &mut mask, cg.dir) {
                Err(e) if clone3::unsupported(&e) => {
                    (*arg.cast::<ChildArgs>()).cgroup_procs = cg.procs;
                    vfork_call(child_main, arg, &mut mask)?
                }
                other => other?,
            },
            None => vfork_call(child_main, arg, &mut mask)?,
        }
    };
    drop((devnull, out_w, err_w));
    let failed = child.error.load(Ordering::Acquire);
    if failed != 0 {
        let mut status = 0;
        // SAFETY: reaps the child that just exited.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        let errno = io::Error::from_raw_os_error(failed & 0xffff);
        let step = match failed & !0xffff {
            FAILED_CGROUP => "joining the task's cgroup",
            FAILED_CHDIR => "entering the run directory",
            FAILED_EXEC => return Err(errno),
            _ => "preparing the process",
        };
        return Err(io::Error::new(errno.kind(), format!("{step}: {errno}")));
    }
    let mut task = TaskProcess {
        pid,
        stdout: None,
        stderr: None,
        // A zombie stays until reaped, so a fast exit is not missed either way.
        exit: match pidfd_open(pid) {
            // SAFETY: an OwnedFd keeps its descriptor open, unchanged, until dropped.
            Ok(fd) => Exit::Pidfd(
                unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
                    .map_err(|e| e.into_parts().1)?,
            ),
            Err(_) => Exit::Sigchld(tokio::signal::unix::signal(
                tokio::signal::unix::SignalKind::child(),
            )?),
        },
        reaped: false,
    };
    task.stdout = Some(pipe::Receiver::from_owned_fd(out_r)?);
    task.stderr = Some(pipe::Receiver::from_owned_fd(err_r)?);
    Ok(task)
}

impl TaskProcess {
    /// A task a fork server started (`super::forkserver`): its exit comes from `exit`.
    pub(crate) fn forked(
        pid: libc::pid_t,
        stdout: pipe::Receiver,
        stderr: pipe::Receiver,
        exit: tokio::sync::oneshot::Receiver<i32>,
    ) -> TaskProcess {
        TaskProcess {
            pid,
            stdout: Some(stdout),
            stderr: Some(stderr),
            exit: Exit::Reported(Some(exit)),
            reaped: false,
        }
    }

    /// Waits for the process to exit and reaps it.
    pub async fn wait(&mut self) -> io::Result<std::process::ExitStatus> {
        use std::os::unix::process::ExitStatusExt;
        if let Exit::Reported(exit) = &mut self.exit {
            let Some(rx) = exit.take() else {
                return Err(io::Error::other("the task's exit was already taken"));
            };
            let status = rx
                .await
                .map_err(|_| io::Error::other("the fork server that ran the task ended"))?;
            self.reaped = true;
            return Ok(std::process::ExitStatus::from_raw(status));
        }
        loop {
            let mut status = 0;
            // SAFETY: reaps our own child without blocking.
            let r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
            if r == self.pid {
                self.reaped = true;
                return Ok(std::process::ExitStatus::from_raw(status));
            }
            if r < 0 {
                return Err(io::Error::last_os_error());
            }
            match &mut self.exit {
                Exit::Pidfd(fd) => fd.readable().await?.clear_ready(),
                Exit::Sigchld(s) => {
                    s.recv().await;
                }
                Exit::Reported(_) => unreachable!("answered before the loop"),
            }
        }
    }
}

impl Drop for TaskProcess {
    fn drop(&mut self) {
        if !self.reaped && matches!(self.exit, Exit::Reported(_)) {
            // SAFETY: only a signal; the fork server reaps its child.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        } else if !self.reaped {
            // SAFETY: our own child; a zombie left by WNOHANG is reaped when sitrep exits.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
                libc::waitpid(self.pid, std::ptr::null_mut(), libc::WNOHANG);
            }
        }
    }
}

/// Runs `f(arg)` in a child created with `clone(CLONE_VM | CLONE_VFORK)` on its own stack,
/// with every signal blocked (the caller's mask is saved in `mask`), and returns the child's
/// pid once it has exec'd or exited.
///
/// # Safety
/// `f` must make only async-signal-safe calls and end in `execve` or `_exit`; `arg` must stay
/// valid until this returns.
pub(crate) unsafe fn vfork_call(
    f: extern "C" fn(*mut c_void) -> libc::c_int,
    arg: *mut c_void,
    mask: &mut libc::sigset_t,
) -> io::Result<libc::pid_t> {
    let stack = Stack::new()?;
    // SAFETY: valid signal sets; the child runs on `stack`, which outlives it (CLONE_VFORK
    // returns once the child has exec'd or exited).
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, mask);
        let pid = libc::clone(
            f,
            stack.top(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            arg,
        );
        let clone_error = io::Error::last_os_error();
        libc::pthread_sigmask(libc::SIG_SETMASK, mask, std::ptr::null_mut());
        if pid < 0 {
            return Err(clone_error);
        }
        Ok(pid)
    }
}

/// Checks that a process can start in the cgroup (`clone3`), or join it (older kernels):
/// starts a child there that exits at once.
pub(crate) fn probe_cgroup(cg: CgroupFds) -> io::Result<()> {
    let mut procs = cg.procs;
    let arg = (&mut procs as *mut RawFd).cast::<c_void>();
    // SAFETY: the children only write to the fd at `arg` (alive until they exit) and exit.
    let pid = unsafe {
        let mut mask: libc::sigset_t = std::mem::zeroed();
        match clone3::call(exit_at_once, arg, &mut mask, cg.dir) {
            Err(e) if clone3::unsupported(&e) => vfork_call(join_and_exit, arg, &mut mask)?,
            other => other?,
        }
    };
    let mut status = 0;
    // SAFETY: reaps the child started above.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(())
    } else {
        Err(io::Error::other(
            "the test process could not join the cgroup",
        ))
    }
}

extern "C" fn exit_at_once(_: *mut c_void) -> libc::c_int {
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(0) }
}

/// Joins the cgroup whose `cgroup.procs` is open at `*arg`, and exits.
extern "C" fn join_and_exit(arg: *mut c_void) -> libc::c_int {
    // SAFETY: `arg` points to the parent's fd, alive while the parent waits (CLONE_VFORK);
    // write and _exit are async-signal-safe.
    unsafe {
        let fd = *(arg as *const RawFd);
        let ok = libc::write(fd, b"0".as_ptr().cast(), 1) == 1;
        libc::_exit(if ok { 0 } else { 1 })
    }
}

/// The child's stack: mapped, with a guard page below it.
struct Stack {
    base: *mut c_void,
    len: usize,
}

impl Stack {
    fn new() -> io::Result<Stack> {
        let len = CHILD_STACK + 4096;
        // SAFETY: an anonymous private mapping; checked for failure.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the lowest page of the mapping made above becomes the guard.
        unsafe { libc::mprotect(base, 4096, libc::PROT_NONE) };
        Ok(Stack { base, len })
    }

    /// The stack grows down from here (16-byte aligned: the mapping is page-aligned).
    fn top(&self) -> *mut c_void {
        // SAFETY: one past the end of the mapping.
        unsafe { self.base.cast::<u8>().add(self.len).cast() }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: unmaps the mapping made in `new`.
        unsafe { libc::munmap(self.base, self.len) };
    }
}

/// The child, between clone and execve: async-signal-safe calls only, no allocation, no locks.
extern "C" fn child_main(arg: *mut c_void) -> libc::c_int {
    // SAFETY: `arg` points to the parent's ChildArgs, alive and unchanged while the parent is
    // suspended (CLONE_VFORK). Every call below is async-signal-safe.
    unsafe {
        let a = &*(arg as *const ChildArgs);
        let fail = |step: i32| -> libc::c_int {
            a.error
                .store(step | *libc::__errno_location(), Ordering::Release);
            libc::_exit(127)
        };
        // sitrep's handlers must not run here (this child shares its memory), nor survive exec
        // as an ignored SIGPIPE (Rust ignores it in sitrep itself).
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        for sig in 1..65 {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) == 0
                && (old.sa_sigaction != libc::SIG_DFL
                    && (old.sa_sigaction != libc::SIG_IGN || sig == libc::SIGPIPE))
            {
                libc::sigaction(sig, &dfl, std::ptr::null_mut());
            }
        }
        if libc::setpgid(0, 0) != 0 {
            return fail(FAILED_SETUP);
        }
        if libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        ) != 0
        {
            return fail(FAILED_SETUP);
        }
        // sitrep died before the prctl: the signal will never come.
        if libc::getppid() != a.parent {
            libc::_exit(137);
        }
        if a.cgroup_procs >= 0 && libc::write(a.cgroup_procs, b"0".as_ptr().cast(), 1) != 1 {
            return fail(FAILED_CGROUP);
        }
        for (from, to) in [(a.stdin, 0), (a.stdout, 1), (a.stderr, 2)] {
            let ok = if from == to {
                libc::fcntl(to, libc::F_SETFD, 0) == 0
            } else {
                libc::dup2(from, to) == to
            };
            if !ok {
                return fail(FAILED_SETUP);
            }
        }
        if libc::chdir(a.cwd.as_ptr()) != 0 {
            return fail(FAILED_CHDIR);
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &a.mask, std::ptr::null_mut());
        libc::execve(a.path.as_ptr(), a.argv.as_ptr(), a.envp.as_ptr());
        fail(FAILED_EXEC)
    }
}

mod clone3;

#[cfg(test)]
mod tests;
