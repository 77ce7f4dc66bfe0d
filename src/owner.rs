//! Who owns the files smss creates, and what to say when one cannot be used.
//!
//! Run as root (`sudo smss init-db`, `sudo smss send-pending`), smss gives
//! every file it creates (the SQLite database, the log, the lock and idle
//! files) to the service user (`service-user`, `smss` by default, when that
//! user exists), so that the service can use them afterwards; SQLite gives
//! its `-wal` and `-shm` files the database file's owner itself. The other
//! way round, a file the current user cannot use is described with its
//! owner and mode and the command that fixes it ([`unusable`]).
//!
//! The service user is set once per process ([`set_service_user`], by
//! `commands::run` from the settings): the lock and the store create files
//! deep down, and pass no settings.

use std::fmt::Write as _;
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::OnceLock;

use nix::unistd::{AccessFlags, Gid, Group, Uid, User};

/// The user files are given to when smss runs as root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

static SERVICE_USER: OnceLock<Option<ServiceUser>> = OnceLock::new();

/// Sets the service user of this process by name (`None`, or a user that
/// does not exist: files stay as created). Only the first call counts.
pub fn set_service_user(name: Option<&str>) {
    let user = name.and_then(|n| User::from_name(n).ok().flatten());
    let _ = SERVICE_USER.set(user.map(|u| ServiceUser {
        name: u.name,
        uid: u.uid.as_raw(),
        gid: u.gid.as_raw(),
    }));
}

/// The service user when this process runs as root and gives files away.
fn giving_to() -> Option<&'static ServiceUser> {
    if !Uid::effective().is_root() {
        return None;
    }
    SERVICE_USER
        .get()
        .and_then(Option::as_ref)
        .filter(|u| u.uid != 0)
}

/// Gives `path`, just created by this process, to the service user (when
/// running as root). A failure is returned as the fix to print.
pub fn adopt(path: &Path) -> io::Result<()> {
    match giving_to() {
        Some(u) => std::os::unix::fs::chown(path, Some(u.uid), Some(u.gid)).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot give {} to the service user {}: {e}; run this as that user: \
                     sudo -u {} smss ...",
                    path.display(),
                    u.name,
                    u.name
                ),
            )
        }),
        None => Ok(()),
    }
}

/// Creates `path` (which must not exist) with `mode` and gives it to the
/// service user when running as root.
pub fn create_new(path: &Path, mode: u32) -> io::Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    adopt(path)?;
    Ok(file)
}

/// Whether this process may write `path` (a file or a directory).
pub fn writable(path: &Path) -> bool {
    nix::unistd::access(path, AccessFlags::W_OK).is_ok()
}

/// Whether this process may read and write `path`.
pub fn usable(path: &Path) -> bool {
    nix::unistd::access(path, AccessFlags::R_OK | AccessFlags::W_OK).is_ok()
}

/// `root:root, mode 0644` for `path`.
pub fn describe(path: &Path) -> String {
    match std::fs::metadata(path) {
        Ok(m) => format!(
            "owned by {}:{}, mode {:04o}",
            user_name(m.uid()),
            group_name(m.gid()),
            m.mode() & 0o7777
        ),
        Err(e) => format!("cannot be examined: {e}"),
    }
}

fn user_name(uid: u32) -> String {
    User::from_uid(Uid::from_raw(uid))
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |u| u.name)
}

fn group_name(gid: u32) -> String {
    Group::from_gid(Gid::from_raw(gid))
        .ok()
        .flatten()
        .map_or_else(|| gid.to_string(), |g| g.name)
}

/// `smss:smss`: the user this process runs as and its group.
pub fn me() -> String {
    format!(
        "{}:{}",
        user_name(Uid::effective().as_raw()),
        group_name(Gid::effective().as_raw())
    )
}

/// What to say about `paths` this process cannot use: each with its owner
/// and mode, then the command that makes them this user's.
/// `the lock file /run/lock/smss-ttyS0.lock is owned by root:root, mode 0644,
/// and smss cannot write it: fix with `sudo chown smss:smss /run/lock/...``.
pub fn unusable(what: &str, paths: &[&Path]) -> String {
    let me = me();
    let user = me.split(':').next().unwrap_or("");
    let mut s = String::new();
    for (i, path) in paths.iter().enumerate() {
        if i > 0 {
            s.push_str("; ");
        }
        let _ = write!(s, "{} is {}", path.display(), describe(path));
    }
    let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let it = if paths.len() == 1 { "it" } else { "them" };
    format!(
        "{what} {s}, and {user} cannot write {it}: fix with `sudo chown {me} {}`",
        list.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_described_with_owner_and_mode() {
        let dir = std::env::temp_dir().join(format!("smss-owner-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.db");
        drop(create_new(&path, 0o640).unwrap());
        let m = std::fs::metadata(&path).unwrap();
        assert_eq!(m.mode() & 0o777, 0o640);
        let shown = describe(&path);
        assert!(
            shown.starts_with("owned by ") && shown.ends_with(", mode 0640"),
            "{shown}"
        );
        assert!(
            create_new(&path, 0o640).is_err(),
            "never over an existing file"
        );
        let text = unusable("the database", &[&path]);
        assert!(text.contains(&format!(
            "fix with `sudo chown {} {}`",
            me(),
            path.display()
        )));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
