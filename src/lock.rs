//! The modem lock: an exclusive flock on a file named after the device, so
//! `serve` and `send-pending` never talk to one modem at the same time. The
//! file records the holder's PID and command; the kernel drops the lock when
//! the holder dies, however it dies.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct ModemLock {
    file: File,
    path: PathBuf,
}

#[derive(Debug)]
pub enum LockError {
    /// Another process holds the lock; `holder` is what it wrote (`pid command`).
    Held {
        path: PathBuf,
        holder: String,
    },
    Io {
        path: PathBuf,
        error: io::Error,
    },
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Held { path, holder } => {
                write!(
                    f,
                    "the modem is in use by {holder} (lock {})",
                    path.display()
                )
            }
            LockError::Io { path, error } => {
                write!(f, "cannot use the lock file {}: {error}", path.display())?;
                let dir = path.parent().unwrap_or(Path::new("/"));
                match error.kind() {
                    io::ErrorKind::PermissionDenied if path.exists() => {
                        write!(f, ": {}", crate::owner::unusable("the lock file", &[path]))
                    }
                    io::ErrorKind::PermissionDenied => write!(
                        f,
                        ": the directory {} is {}, and {} cannot create files in it \
                         (set lock-dir to one it may write; /run/lock is for everyone)",
                        dir.display(),
                        crate::owner::describe(dir),
                        crate::owner::me().split(':').next().unwrap_or("")
                    ),
                    _ => Ok(()),
                }
            }
        }
    }
}

impl std::error::Error for LockError {}

/// `/run/lock/smss-ttyS0.lock` for `/dev/ttyS0`.
pub fn lock_path(lock_dir: &Path, device: &str) -> PathBuf {
    let name: String = device
        .trim_start_matches("/dev/")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    lock_dir.join(format!("smss-{name}.lock"))
}

impl ModemLock {
    /// Takes the lock without waiting. `who` describes this process
    /// (e.g. `smss serve`); it is written with the PID for others to read.
    pub fn try_acquire(lock_dir: &Path, device: &str, who: &str) -> Result<ModemLock, LockError> {
        let path = lock_path(lock_dir, device);
        let io_err = |error| LockError::Io {
            path: path.clone(),
            error,
        };
        let mut file = open_or_create(&path).map_err(io_err)?;
        // An empty file under a lock is `smss status` looking (see
        // `holder`) or a holder about to write its PID: ask again shortly.
        let mut tries = 0;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    let holder = read_holder(&mut file);
                    if holder.is_none() && tries < 10 {
                        tries += 1;
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        continue;
                    }
                    let holder = holder.unwrap_or_else(|| "another process".to_owned());
                    return Err(LockError::Held { path, holder });
                }
                Err(TryLockError::Error(e)) => return Err(io_err(e)),
            }
        }
        file.set_len(0).map_err(io_err)?;
        file.rewind().map_err(io_err)?;
        writeln!(file, "{} {who}", std::process::id()).map_err(io_err)?;
        file.flush().map_err(io_err)?;
        Ok(ModemLock { file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Opens the lock file for reading and writing; a new one is made 0644
/// (`status` reads it as any user) and given to the service user when
/// running as root.
fn open_or_create(path: &Path) -> io::Result<File> {
    let open = || OpenOptions::new().read(true).write(true).open(path);
    match open() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            match crate::owner::create_new(path, 0o644) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => open(),
                Err(e) => Err(e),
                Ok(_) => open(),
            }
        }
        other => other,
    }
}

/// Who holds the modem lock of `device` (`smss serve (pid 1234)`), without
/// keeping it; `None` when nobody does. It takes a shared lock for an
/// instant to find out (a holder that starts meanwhile waits a moment, see
/// `try_acquire`), and never creates the lock file.
pub fn holder(lock_dir: &Path, device: &str) -> Result<Option<String>, LockError> {
    let path = lock_path(lock_dir, device);
    let mut file = match File::open(&path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(LockError::Io { path, error }),
    };
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            Ok(None)
        }
        Err(TryLockError::WouldBlock) => Ok(Some(
            read_holder(&mut file).unwrap_or_else(|| "another process".to_owned()),
        )),
        Err(TryLockError::Error(error)) => Err(LockError::Io { path, error }),
    }
}

/// `/run/lock/smss-ttyS0.idle`: present when the last pass of
/// `send-pending` on the device found nothing to send or read; its time is
/// that pass's.
pub fn idle_path(lock_dir: &Path, device: &str) -> PathBuf {
    lock_path(lock_dir, device).with_extension("idle")
}

/// How long ago the last pass of `send-pending` on `device` found nothing
/// to do; `None` when the last pass did something (or there was none).
pub fn idle_for(lock_dir: &Path, device: &str) -> Option<std::time::Duration> {
    let modified = std::fs::metadata(idle_path(lock_dir, device))
        .and_then(|m| m.modified())
        .ok()?;
    // A time in the future (a clock set back) counts as long ago.
    modified.elapsed().ok()
}

/// Records whether the pass that holds `lock` found nothing to do.
pub fn mark_idle(lock: &ModemLock, idle: bool) -> io::Result<()> {
    let path = lock.path.with_extension("idle");
    if idle {
        match crate::owner::create_new(&path, 0o644) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => OpenOptions::new()
                .write(true)
                .open(&path)?
                .set_modified(std::time::SystemTime::now()),
            other => other.map(drop),
        }
    } else {
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// What a holder wrote into the lock file, described; `None` when empty.
fn read_holder(file: &mut File) -> Option<String> {
    let mut content = String::new();
    let _ = file.rewind();
    let _ = file.read_to_string(&mut content);
    let content = content.trim();
    (!content.is_empty()).then(|| holder_description(content))
}

/// `1234 smss serve` → `smss serve (pid 1234)`.
fn holder_description(content: &str) -> String {
    match content.split_once(' ') {
        Some((pid, who)) if pid.chars().all(|c| c.is_ascii_digit()) => format!("{who} (pid {pid})"),
        _ => content.to_owned(),
    }
}

impl Drop for ModemLock {
    fn drop(&mut self) {
        // Leave the file (removing it would race with a new holder); just
        // forget our PID and unlock. Closing the file unlocks anyway.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("smss-lock-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn second_holder_is_refused_with_the_first_ones_pid() {
        let dir = temp_dir("second");
        let first = ModemLock::try_acquire(&dir, "/dev/ttyS0", "smss serve").unwrap();
        match ModemLock::try_acquire(&dir, "/dev/ttyS0", "smss send-pending") {
            Err(LockError::Held { holder, .. }) => {
                assert_eq!(holder, format!("smss serve (pid {})", std::process::id()))
            }
            other => panic!("expected Held, got {other:?}"),
        }
        // another device is another lock
        let _other = ModemLock::try_acquire(&dir, "/dev/ttyUSB0", "smss serve").unwrap();
        drop(first);
        ModemLock::try_acquire(&dir, "/dev/ttyS0", "smss send-pending").unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn holder_is_read_without_taking_the_lock() {
        let dir = temp_dir("holder");
        assert_eq!(holder(&dir, "/dev/ttyS0").unwrap(), None, "no file yet");
        assert!(!lock_path(&dir, "/dev/ttyS0").exists(), "not created");
        let lock = ModemLock::try_acquire(&dir, "/dev/ttyS0", "smss serve").unwrap();
        let me = format!("smss serve (pid {})", std::process::id());
        assert_eq!(holder(&dir, "/dev/ttyS0").unwrap(), Some(me.clone()));
        // asking does not disturb the holder, nor a second asker
        assert_eq!(holder(&dir, "/dev/ttyS0").unwrap(), Some(me));
        drop(lock);
        assert_eq!(holder(&dir, "/dev/ttyS0").unwrap(), None);
        // a prober holding the shared lock for an instant does not make a
        // starting holder fail
        let probe = File::open(lock_path(&dir, "/dev/ttyS0")).unwrap();
        probe.try_lock_shared().unwrap();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(30));
            drop(probe);
        });
        ModemLock::try_acquire(&dir, "/dev/ttyS0", "smss serve").unwrap();
        t.join().unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn lock_file_names() {
        assert_eq!(
            lock_path(Path::new("/run/lock"), "/dev/ttyS0"),
            PathBuf::from("/run/lock/smss-ttyS0.lock")
        );
        assert_eq!(
            lock_path(Path::new("/l"), "/dev/serial/by-id/usb-X"),
            PathBuf::from("/l/smss-serial_by-id_usb-X.lock")
        );
    }

    #[test]
    fn missing_directory_is_a_clear_error() {
        let err = ModemLock::try_acquire(Path::new("/nonexistent/dir"), "sim", "t").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot use the lock file /nonexistent/dir/smss-sim.lock")
        );
    }
}
