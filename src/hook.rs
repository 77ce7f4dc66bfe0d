//! The on-receive command (like gammu's RunOnReceive): a configured program
//! run after each received message is stored. It runs on a thread of its
//! own, one at a time, for a bounded time, so it never blocks the modem.
//!
//! A received SMS is untrusted input: the program is executed directly
//! (no shell), and the message reaches it through environment variables
//! and standard input, never through a command line built from it.
//!
//! Nothing the program does can hold this thread past its timeout: its
//! standard input is written by a thread of its own (a text longer than a
//! pipe holds, 64 KiB, would otherwise block on a program that does not
//! read it); it runs in a process group of its own, and what is left of
//! that group when the program has exited (children in the background) is
//! waited for too; at the timeout the whole group is killed. Its standard
//! output and error are read by threads of their own until they close, the
//! first `on-receive-log-bytes` of each logged, the rest read and dropped.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// How long the readers of its output may take to see the end once the
/// program's process group is gone (a process that left the group may
/// keep the pipes open: its output is then not waited for).
const OUTPUT_GRACE: Duration = Duration::from_secs(2);
/// How often the program and its group are looked at.
const POLL: Duration = Duration::from_millis(20);

/// What the program is told about one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedEvent {
    pub id: i64,
    pub sender: String,
    pub text: String,
    pub smsc_time: String,
}

/// The program's bounds (the `on-receive-*` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// It is killed (its whole process group) after this.
    pub timeout: Duration,
    /// How many stored messages may wait for it.
    pub queue: usize,
    /// How much of its standard output, and of its standard error, is
    /// logged.
    pub log_bytes: usize,
}

pub struct OnReceive {
    queue: Option<SyncSender<ReceivedEvent>>,
    /// The queue's size, for the log line when it is full.
    size: usize,
    worker: Option<thread::JoinHandle<()>>,
}

impl OnReceive {
    /// `program = None`: nothing to run, events are dropped.
    pub fn start(program: Option<PathBuf>, limits: Limits) -> OnReceive {
        let Some(program) = program else {
            return OnReceive {
                queue: None,
                size: 0,
                worker: None,
            };
        };
        let (tx, rx) = mpsc::sync_channel::<ReceivedEvent>(limits.queue);
        let worker = thread::Builder::new()
            .name("on-receive".into())
            .spawn(move || {
                for event in rx {
                    run_one(&program, &event, limits);
                }
            })
            .ok();
        OnReceive {
            queue: Some(tx),
            size: limits.queue,
            worker,
        }
    }

    /// Queues the program for one stored message; never blocks. False
    /// when it will not run for it (no program, the queue full).
    pub fn received(&self, event: ReceivedEvent) -> bool {
        let Some(queue) = &self.queue else {
            return false;
        };
        match queue.try_send(event) {
            Ok(()) => true,
            Err(TrySendError::Full(e)) => {
                log::warn!(
                    "on-receive: {} messages already wait for the program (on-receive-queue); not run for received message {}",
                    self.size,
                    e.id
                );
                false
            }
            Err(TrySendError::Disconnected(e)) => {
                log::warn!(
                    "on-receive: worker gone; not run for received message {}",
                    e.id
                );
                false
            }
        }
    }

    /// Waits for the queued runs to finish (each bounded by its timeout).
    pub fn finish(mut self) {
        self.queue.take();
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

/// NUL cannot travel in an environment variable; standard input has the
/// exact text.
fn env_safe(s: &str) -> String {
    s.replace('\0', "\u{FFFD}")
}

/// What one run came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Exited (its group with it, or after it, within the timeout).
    Exited(ExitStatus),
    /// Still running at the timeout, the program or what it left in its
    /// group: the group was killed.
    Killed { program_exited: bool },
    /// It could not be started.
    NotStarted,
}

/// The first bytes of one output stream, and how many more there were.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Captured {
    pub kept: Vec<u8>,
    pub dropped: u64,
}

/// Reads `from` to its end, keeping the first `keep` bytes.
fn drain(mut from: impl Read, keep: usize) -> Captured {
    let mut out = Captured::default();
    let mut buf = [0u8; 8192];
    loop {
        match from.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => {
                let room = keep.saturating_sub(out.kept.len()).min(n);
                out.kept.extend_from_slice(&buf[..room]);
                out.dropped += (n - room) as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return out,
        }
    }
}

/// Whether any process of the group `pgid` is still there.
fn group_alive(pgid: Pid) -> bool {
    !matches!(killpg(pgid, None), Err(Errno::ESRCH))
}

fn kill_group(pgid: Pid, child: &mut Child) {
    let _ = killpg(pgid, Signal::SIGKILL);
    let _ = child.kill();
    let _ = child.wait();
}

fn run_one(program: &Path, event: &ReceivedEvent, limits: Limits) -> Outcome {
    let timeout = limits.timeout;
    let spawned = Command::new(program)
        .arg(event.id.to_string())
        .env("SMSS_ID", event.id.to_string())
        .env("SMSS_SENDER", env_safe(&event.sender))
        .env("SMSS_TEXT", env_safe(&event.text))
        .env("SMSS_SMSC_TIME", env_safe(&event.smsc_time))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout kills what it started too.
        .process_group(0)
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            log::error!("on-receive: cannot run {}: {e}", program.display());
            return Outcome::NotStarted;
        }
    };
    let started = Instant::now();
    let deadline = started + timeout;
    let pgid = Pid::from_raw(child.id() as i32);
    // Standard input from a thread of its own: a program that does not
    // read it is fine. The thread ends when all is written, or with EPIPE
    // when the program's group is gone.
    if let Some(mut stdin) = child.stdin.take() {
        let text = event.text.clone();
        let _ = thread::Builder::new()
            .name("on-receive stdin".into())
            .spawn(move || {
                let _ = stdin.write_all(text.as_bytes());
            });
    }
    let (out_tx, out_rx) = mpsc::channel::<(&'static str, Captured)>();
    for (name, stream) in [
        (
            "stdout",
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ),
        (
            "stderr",
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ),
    ] {
        if let Some(stream) = stream {
            let tx = out_tx.clone();
            let _ = thread::Builder::new()
                .name(format!("on-receive {name}"))
                .spawn(move || {
                    let _ = tx.send((name, drain(stream, limits.log_bytes)));
                });
        }
    }
    drop(out_tx);

    // The program, then what it left in its group, until the deadline.
    let mut status: Option<ExitStatus> = None;
    let outcome = loop {
        if status.is_none() {
            match child.try_wait() {
                Ok(s) => status = s,
                Err(e) => {
                    log::error!("on-receive: waiting for {}: {e}", program.display());
                    kill_group(pgid, &mut child);
                    break Outcome::Killed {
                        program_exited: false,
                    };
                }
            }
        }
        if let Some(s) = status
            && !group_alive(pgid)
        {
            break Outcome::Exited(s);
        }
        if Instant::now() >= deadline {
            kill_group(pgid, &mut child);
            break Outcome::Killed {
                program_exited: status.is_some(),
            };
        }
        thread::sleep(POLL);
    };

    let mut output = Vec::new();
    let grace = Instant::now() + OUTPUT_GRACE;
    while output.len() < 2 {
        match out_rx.recv_timeout(grace.saturating_duration_since(Instant::now())) {
            Ok(o) => output.push(o),
            Err(_) => break,
        }
    }
    output.sort_by_key(|(name, _)| *name == "stderr");
    let what = format!("on-receive: {} for message {}", program.display(), event.id);
    let took = started.elapsed();
    match &outcome {
        Outcome::Exited(s) if s.success() => log::debug!("{what}: done in {took:?}"),
        Outcome::Exited(s) => log::warn!("{what} failed ({s}); the message stays stored"),
        Outcome::Killed { program_exited } => log::warn!(
            "{what}: {} still running after {timeout:?}: killed (its whole process group)",
            if *program_exited {
                "processes it left"
            } else {
                "the program was"
            }
        ),
        Outcome::NotStarted => {}
    }
    for (name, captured) in &output {
        if captured.kept.is_empty() {
            continue;
        }
        let more = if captured.dropped > 0 {
            format!(" ({} more bytes not logged)", captured.dropped)
        } else {
            String::new()
        };
        log::info!(
            "{what}: {name}: {}{more}",
            String::from_utf8_lossy(&captured.kept).escape_debug()
        );
    }
    if output.len() < 2 {
        log::warn!("{what}: its output did not end (a process outside its group keeps it open)");
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default queue and log bounds, with `timeout`.
    fn within(timeout: Duration) -> Limits {
        Limits {
            timeout,
            queue: 1000,
            log_bytes: 4096,
        }
    }

    /// A directory of its own for one test's scripts.
    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("smss-hook-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn event(id: i64, text: &str) -> ReceivedEvent {
        ReceivedEvent {
            id,
            sender: "+420777123456".into(),
            text: text.into(),
            smsc_time: "26/11/30,10:00:00+04".into(),
        }
    }

    /// Whether `pid` runs (a zombie does not).
    fn alive(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| {
                let state = stat.rsplit(')').next().unwrap_or("").trim_start();
                !state.starts_with('Z') && !state.starts_with('X')
            })
            .unwrap_or(false)
    }

    #[test]
    fn a_program_that_does_not_read_100_kb_is_killed_on_time() {
        let dir = scratch("stdin");
        let deaf = script(&dir, "deaf.sh", "exec sleep 60");
        let out = dir.join("got");
        let reader = script(&dir, "reader.sh", &format!("cat > {}", out.display()));
        let text = "x".repeat(100 * 1024);
        let started = Instant::now();
        let outcome = run_one(&deaf, &event(1, &text), within(Duration::from_secs(1)));
        let took = started.elapsed();
        eprintln!("100 KB to a program that does not read it: {outcome:?} after {took:?}");
        assert_eq!(
            outcome,
            Outcome::Killed {
                program_exited: false
            }
        );
        assert!(took < Duration::from_secs(10), "{took:?}");
        // and the next one runs, and gets all of its 100 KB
        let outcome = run_one(&reader, &event(2, &text), within(Duration::from_secs(30)));
        assert!(
            matches!(outcome, Outcome::Exited(s) if s.success()),
            "{outcome:?}"
        );
        assert_eq!(std::fs::read_to_string(&out).unwrap(), text);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn what_the_program_leaves_behind_is_killed_with_its_group() {
        let dir = scratch("group");
        let pid_file = dir.join("pid");
        let parent = script(
            &dir,
            "parent.sh",
            &format!("sleep 60 &\necho $! > {}\nexit 0", pid_file.display()),
        );
        let started = Instant::now();
        let outcome = run_one(&parent, &event(3, "hi"), within(Duration::from_secs(1)));
        assert_eq!(
            outcome,
            Outcome::Killed {
                program_exited: true
            }
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        let pid: u32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let gone = Instant::now() + Duration::from_secs(5);
        while alive(pid) && Instant::now() < gone {
            thread::sleep(POLL);
        }
        assert!(
            !alive(pid),
            "the background child {pid} outlived the timeout"
        );
        // a group that ends by itself is waited for, not killed
        let quick = script(&dir, "quick.sh", "sleep 0.2 &\nexit 0");
        let outcome = run_one(&quick, &event(4, "hi"), within(Duration::from_secs(30)));
        assert!(
            matches!(outcome, Outcome::Exited(s) if s.success()),
            "{outcome:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_queue_holds_on_receive_queue_messages() {
        let dir = scratch("queue");
        let started = dir.join("started");
        let slow = script(
            &dir,
            "slow.sh",
            &format!("touch {}\nsleep 1", started.display()),
        );
        let limits = Limits {
            queue: 1,
            ..within(Duration::from_secs(30))
        };
        let hooks = OnReceive::start(Some(slow), limits);
        assert!(hooks.received(event(1, "runs")));
        let deadline = Instant::now() + Duration::from_secs(60);
        while !started.exists() {
            assert!(Instant::now() < deadline, "the program never ran");
            thread::sleep(Duration::from_millis(10));
        }
        // the first runs: one place in the queue, then it is full
        assert!(hooks.received(event(2, "waits")));
        assert!(!hooks.received(event(3, "not run")));
        hooks.finish();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn output_is_drained_and_capped() {
        let captured = drain(std::io::Cursor::new(vec![b'y'; 10]), 0);
        assert_eq!((captured.kept.len(), captured.dropped), (0, 10));
        let captured = drain(std::io::Cursor::new(vec![b'y'; 4097]), 4096);
        assert_eq!((captured.kept.len(), captured.dropped), (4096, 1));
        let captured = drain(std::io::Cursor::new(vec![b'y'; 10_000]), 4096);
        assert_eq!(captured.kept.len(), 4096);
        assert_eq!(captured.dropped, 10_000 - 4096);
        let captured = drain(std::io::Cursor::new(vec![b'y'; 4096]), 4096);
        assert_eq!((captured.kept.len(), captured.dropped), (4096, 0));
        // a program that writes a megabyte to each, more than a pipe holds, ends
        let dir = scratch("output");
        let loud = script(
            &dir,
            "loud.sh",
            "head -c 1000000 /dev/zero\nhead -c 1000000 /dev/zero >&2",
        );
        let outcome = run_one(&loud, &event(5, "hi"), within(Duration::from_secs(30)));
        assert!(
            matches!(outcome, Outcome::Exited(s) if s.success()),
            "{outcome:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
