//! Who is running: this host's name, and whether a process recorded in a journal
//! or lock is still alive.

/// This machine's name as recorded in journals and locks.
pub fn host_name() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// Whether process `pid` on this host exists and may be an ign-setup process.
///
/// `kill(pid, 0)` delivers no signal, it only asks whether the process exists;
/// `EPERM` means it exists but belongs to another user, which still counts as alive.
pub fn pid_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    // 0 and anything above i32::MAX would address a process group, not a process.
    let Ok(raw) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if raw <= 0 {
        return false;
    }
    #[allow(unsafe_code)]
    // SAFETY: kill with signal 0 performs only the existence and permission check;
    // it has no memory-safety preconditions and `raw` is a positive pid.
    let rc = unsafe { libc::kill(raw, 0) };
    let exists = rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    exists && !is_other_program(pid)
}

/// After a crash and a reboot, the pid recorded in a journal is often reused by
/// some unrelated process. On Linux its name tells us so; elsewhere we cannot
/// tell, and keep treating the owner as alive (the safe side).
#[cfg(target_os = "linux")]
fn is_other_program(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/comm")) {
        // Test binaries are named `ign_setup-<hash>`.
        Ok(comm) => !(comm.starts_with("ign-setup") || comm.starts_with("ign_setup")),
        Err(_) => false,
    }
}

#[cfg(not(target_os = "linux"))]
fn is_other_program(_pid: u32) -> bool {
    false
}
