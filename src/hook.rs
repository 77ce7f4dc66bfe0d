//! The on-receive command (like gammu's RunOnReceive): a configured program
//! run after each received message is stored. It runs on a thread of its
//! own, one at a time, for a bounded time, so it never blocks the modem.
//!
//! A received SMS is untrusted input: the program is executed directly
//! (no shell), and the message reaches it through environment variables
//! and standard input, never through a command line built from it.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::thread;
use std::time::{Duration, Instant};

/// How many stored messages may wait for their hook.
const QUEUE: usize = 1000;

/// What the program is told about one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedEvent {
    pub id: i64,
    pub sender: String,
    pub text: String,
    pub smsc_time: String,
}

pub struct OnReceive {
    queue: Option<SyncSender<ReceivedEvent>>,
    worker: Option<thread::JoinHandle<()>>,
}

impl OnReceive {
    /// `program = None`: nothing to run, events are dropped.
    pub fn start(program: Option<PathBuf>, timeout: Duration) -> OnReceive {
        let Some(program) = program else {
            return OnReceive {
                queue: None,
                worker: None,
            };
        };
        let (tx, rx) = mpsc::sync_channel::<ReceivedEvent>(QUEUE);
        let worker = thread::Builder::new()
            .name("on-receive".into())
            .spawn(move || {
                for event in rx {
                    run_one(&program, &event, timeout);
                }
            })
            .ok();
        OnReceive {
            queue: Some(tx),
            worker,
        }
    }

    /// Queues the program for one stored message; never blocks.
    pub fn received(&self, event: ReceivedEvent) {
        let Some(queue) = &self.queue else {
            return;
        };
        match queue.try_send(event) {
            Ok(()) => {}
            Err(TrySendError::Full(e)) => log::warn!(
                "on-receive: {QUEUE} messages already wait for the program; not run for received message {}",
                e.id
            ),
            Err(TrySendError::Disconnected(e)) => {
                log::warn!(
                    "on-receive: worker gone; not run for received message {}",
                    e.id
                )
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

fn run_one(program: &PathBuf, event: &ReceivedEvent, timeout: Duration) {
    let spawned = Command::new(program)
        .arg(event.id.to_string())
        .env("SMSS_ID", event.id.to_string())
        .env("SMSS_SENDER", env_safe(&event.sender))
        .env("SMSS_TEXT", env_safe(&event.text))
        .env("SMSS_SMSC_TIME", env_safe(&event.smsc_time))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        // Its own process group, so a timeout kills what it started too.
        .process_group(0)
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            log::error!("on-receive: cannot run {}: {e}", program.display());
            return;
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A program that does not read its input is fine.
        let _ = stdin.write_all(event.text.as_bytes());
    }
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => {
                log::debug!(
                    "on-receive: {} done for message {}",
                    program.display(),
                    event.id
                );
                return;
            }
            Ok(Some(status)) => {
                log::warn!(
                    "on-receive: {} failed for message {} ({status}); the message stays stored",
                    program.display(),
                    event.id
                );
                return;
            }
            Ok(None) if Instant::now() >= deadline => {
                if let Ok(pid) = i32::try_from(child.id()) {
                    let _ = nix::sys::signal::killpg(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                let _ = child.kill();
                let _ = child.wait();
                log::warn!(
                    "on-receive: {} still running after {}s for message {}: killed",
                    program.display(),
                    timeout.as_secs(),
                    event.id
                );
                return;
            }
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                log::error!("on-receive: waiting for {}: {e}", program.display());
                return;
            }
        }
    }
}
