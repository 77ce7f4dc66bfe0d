//! Waiting for the modem to speak while its thread is idle, without a
//! sleep between looks.
//!
//! The idle modem thread must react to two things at once: a wake-up on its
//! channel (a request was committed) and a line from the modem (`+CMTI`).
//! It blocks on the channel; a [`Watch`] blocks on the port and, when the
//! modem has something to say while the watch is armed, sends a wake-up
//! through `notify`. The watch only waits (a zero-byte read on a second
//! handle of the port: `poll()` for readable, nothing consumed); the modem
//! thread does all the reading and writing, so the port still has one owner
//! and the AT layer sees every byte.
//!
//! Armed means "the modem thread is idle and wants to hear": the watch
//! notifies once, then disarms itself until the modem thread has read and
//! armed it again, so data that waits for the modem thread (while it sends
//! commands, say) never makes the watch spin.

use std::io::ErrorKind;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use serialport::SerialPort;

/// How long one wait on the port lasts; bounds how late a watch whose
/// modem was closed ends (and closes its handle).
const WATCH_SLICE: Duration = Duration::from_millis(100);

#[derive(Debug, Default)]
struct State {
    armed: bool,
    closed: bool,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A thread that tells the idle modem thread when the modem has something
/// to read. Dropping it ends the thread and closes its handle of the port.
pub struct Watch {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Watch {
    /// Watches `port` (a second handle of the modem's port, used for
    /// nothing else) and calls `notify` when it has data, a hang-up or an
    /// error while armed.
    pub fn start(
        mut port: Box<dyn SerialPort>,
        notify: impl Fn() + Send + 'static,
    ) -> std::io::Result<Watch> {
        port.set_timeout(WATCH_SLICE)
            .map_err(std::io::Error::other)?;
        let shared = Arc::new(Shared::default());
        let theirs = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name("modem watch".into())
            .spawn(move || watch(&mut *port, &theirs, notify))?;
        Ok(Watch {
            shared,
            thread: Some(thread),
        })
    }

    /// The modem thread is idle: notify once when the modem speaks.
    pub fn arm(&self) {
        self.shared.lock().armed = true;
        self.shared.changed.notify_all();
    }

    /// The modem thread reads the port itself now.
    pub fn disarm(&self) {
        self.shared.lock().armed = false;
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.changed.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn watch(port: &mut dyn SerialPort, shared: &Shared, notify: impl Fn()) {
    loop {
        {
            let mut state = shared.lock();
            while !state.armed && !state.closed {
                state = shared
                    .changed
                    .wait(state)
                    .unwrap_or_else(|p| p.into_inner());
            }
            if state.closed {
                return;
            }
        }
        // A zero-byte read: serialport polls the descriptor for up to the
        // port's timeout, then reads nothing. Anything but a timeout means
        // there is something for the modem thread (data, or the error it
        // will read too).
        let ready = match port.read(&mut []) {
            Ok(_) => true,
            Err(e) => !matches!(
                e.kind(),
                ErrorKind::TimedOut | ErrorKind::WouldBlock | ErrorKind::Interrupted
            ),
        };
        if ready {
            let mut state = shared.lock();
            if state.closed {
                return;
            }
            if state.armed {
                state.armed = false;
                drop(state);
                notify();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Instant;

    use super::*;
    use crate::modem::Modem;

    #[test]
    fn notifies_once_per_arming_when_the_modem_speaks() {
        let sim = crate::sim::PtySim::start().unwrap();
        let t = Duration::from_secs(10);
        let mut modem = Modem::open(sim.path.to_str().unwrap(), 115_200, t).unwrap();
        modem.init(None, None).unwrap();
        let (tx, rx) = mpsc::channel();
        modem.start_watch(move || tx.send(()).unwrap()).unwrap();

        // Armed and quiet: nothing.
        assert!(modem.arm_watch());
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());

        // A message arrives: one notification, at once, and the line is
        // there for the modem thread to read.
        let at = Instant::now();
        sim.handle.deliver("SM", "0011").unwrap();
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
        eprintln!("watch: notified {:?} after +CMTI was queued", at.elapsed());
        assert!(modem.wait_unsolicited(Duration::from_secs(5)).unwrap());
        assert_eq!(modem.take_unsolicited(), ["+CMTI: \"SM\",1"]);

        // Unread data while disarmed does not notify (nor spin); arming
        // again does, once.
        sim.handle.deliver("SM", "0011").unwrap();
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
        modem.arm_watch();
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
        assert!(modem.wait_unsolicited(Duration::from_secs(5)).unwrap());

        // Commands work as before, and the watch ends with the modem.
        modem.disarm_watch();
        assert_eq!(modem.command("AT+CSQ").unwrap(), ["+CSQ: 21,99"]);
        drop(modem);
    }
}
