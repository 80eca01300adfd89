//! `clone3(CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP)`: the child starts in its cgroup.
//! There is no libc wrapper, and a raw `clone3` child with a new stack cannot return into Rust
//! code, so the system call and the jump into the child's function are a few instructions of
//! assembly (x86-64; other architectures join the cgroup from the child instead).
use super::{Stack, io};
use std::ffi::c_void;
use std::os::fd::RawFd;

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `struct clone_args` up to `cgroup` (version 2, 88 bytes).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// The kernel or a seccomp filter refuses `clone3` or `CLONE_INTO_CGROUP` (before 5.7).
pub fn unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOSYS | libc::EPERM | libc::EINVAL | libc::E2BIG)
    )
}

/// Like [`super::vfork_call`], starting the child in the cgroup whose directory is open
/// at `cgroup`.
///
/// # Safety
/// As for [`super::vfork_call`].
pub unsafe fn call(
    f: extern "C" fn(*mut c_void) -> libc::c_int,
    arg: *mut c_void,
    mask: &mut libc::sigset_t,
    cgroup: RawFd,
) -> io::Result<libc::pid_t> {
    if !cfg!(target_arch = "x86_64") {
        return Err(io::Error::from_raw_os_error(libc::ENOSYS));
    }
    let stack = Stack::new()?;
    let args = CloneArgs {
        flags: (libc::CLONE_VM | libc::CLONE_VFORK) as u64 | CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        stack: stack.base as u64,
        stack_size: stack.len as u64,
        cgroup: cgroup as u64,
        ..Default::default()
    };
    // SAFETY: valid signal sets; `args` and `stack` outlive the child (CLONE_VFORK returns
    // once it has exec'd or exited).
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, mask);
        let r = raw(&args, f, arg);
        libc::pthread_sigmask(libc::SIG_SETMASK, mask, std::ptr::null_mut());
        if r < 0 {
            return Err(io::Error::from_raw_os_error(-r as i32));
        }
        Ok(r as libc::pid_t)
    }
}

#[cfg(target_arch = "x86_64")]
unsafe fn raw(
    args: &CloneArgs,
    f: extern "C" fn(*mut c_void) -> libc::c_int,
    arg: *mut c_void,
) -> i64 {
    let ret: i64;
    // SAFETY: the parent gets the pid (or -errno) in rax, with only rcx and r11 changed.
    // The child runs on the new stack (16-byte aligned by the kernel), calls `f(arg)` and
    // exits: it never returns into this function.
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r12",
            "call r13",
            "mov edi, eax",
            "mov eax, 231", // exit_group
            "syscall",
            "ud2",
            "2:",
            inlateout("rax") libc::SYS_clone3 => ret,
            in("rdi") args as *const CloneArgs,
            in("rsi") std::mem::size_of::<CloneArgs>(),
            in("r12") arg,
            in("r13") f,
            lateout("rcx") _,
            lateout("r11") _,
        );
    }
    ret
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn raw(_: &CloneArgs, _: extern "C" fn(*mut c_void) -> libc::c_int, _: *mut c_void) -> i64 {
    -(libc::ENOSYS as i64)
}
