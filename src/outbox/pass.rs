//! What one pass of the modem thread did, and how it can fail: the modem
//! missing, lost (timeout, port error) or refusing a command, or the
//! database away. The loop's recovery depends on which.

use crate::modem::{AtError, ModemError};
use crate::receive::{ReceiveError, ReceiveSummary};
use crate::store::StoreError;

/// What one pass did, for `send-pending` to report.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassSummary {
    pub sent: usize,
    pub failed: usize,
    pub retried: usize,
    pub received: ReceiveSummary,
}

#[derive(Debug)]
pub enum PassError {
    Modem(ModemError),
    /// The modem stopped answering or the port failed during the pass.
    ModemLost(AtError),
    /// The modem refused a command; it still answers.
    Command(AtError),
    Store(StoreError),
}

impl std::fmt::Display for PassError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PassError::Modem(e) => e.fmt(f),
            PassError::ModemLost(e) => write!(f, "modem lost: {e}"),
            PassError::Command(e) => write!(f, "modem refused a command: {e}"),
            PassError::Store(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for PassError {}

impl From<StoreError> for PassError {
    fn from(e: StoreError) -> Self {
        PassError::Store(e)
    }
}

impl From<ReceiveError> for PassError {
    fn from(e: ReceiveError) -> Self {
        match e {
            ReceiveError::Store(e) => PassError::Store(e),
            ReceiveError::Modem(e @ (AtError::Timeout { .. } | AtError::Io(_))) => {
                PassError::ModemLost(e)
            }
            ReceiveError::Modem(e) => PassError::Command(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_receive(e: AtError) -> PassError {
        ReceiveError::Modem(e).into()
    }

    #[test]
    fn a_receive_error_is_a_lost_modem_only_when_it_stopped_answering() {
        let timeout = from_receive(AtError::Timeout {
            command: "AT+CMGL=4".into(),
        });
        assert!(matches!(timeout, PassError::ModemLost(_)));
        assert_eq!(
            timeout.to_string(),
            "modem lost: modem did not answer AT+CMGL=4 in time"
        );
        let io = from_receive(AtError::Io(std::io::Error::other("gone")));
        assert!(matches!(io, PassError::ModemLost(_)));
        let refused = from_receive(AtError::Cms {
            command: "AT+CMGD=3".into(),
            code: 321,
        });
        assert!(matches!(refused, PassError::Command(_)));
        assert_eq!(
            refused.to_string(),
            "modem refused a command: AT+CMGD=3: +CMS ERROR: 321"
        );
        let store: PassError = ReceiveError::Store(StoreError::unavailable("down")).into();
        assert!(matches!(store, PassError::Store(_)));
        assert_eq!(store.to_string(), "database unavailable: down");
    }
}
