//! The `call` table's types: a voice call made after an urgent SMS
//! (`call-urgent`), and how it ended.

use std::fmt;

/// How a call ended; the database keeps the text ([`CallOutcome::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallOutcome {
    /// The callee picked up (smss hangs up at once: the SMS says the rest).
    Answered,
    /// The network said the callee is busy (`BUSY`).
    Busy,
    /// It rang for `call-ring` (or the network gave up: `NO ANSWER`).
    NoAnswer,
    /// It rang, then ended before `call-ring` without being answered: the
    /// callee declined it.
    Rejected,
    /// No call could be made (`call.error` says why).
    Failed,
}

impl CallOutcome {
    pub const ALL: [CallOutcome; 5] = [
        CallOutcome::Answered,
        CallOutcome::Busy,
        CallOutcome::NoAnswer,
        CallOutcome::Rejected,
        CallOutcome::Failed,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Answered => "answered",
            CallOutcome::Busy => "busy",
            CallOutcome::NoAnswer => "no answer",
            CallOutcome::Rejected => "rejected",
            CallOutcome::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<CallOutcome> {
        CallOutcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

impl fmt::Display for CallOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One call, as recorded. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    /// The urgent SMS the call followed.
    pub sms_id: i64,
    pub number: String,
    /// The sender (instance) whose modem called.
    pub sender: String,
    pub started: i64,
    pub ended: i64,
    pub outcome: CallOutcome,
    /// Why, for [`CallOutcome::Failed`].
    pub error: Option<String>,
}

/// A recorded call with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRow {
    pub id: i64,
    pub call: CallRecord,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_round_trip_through_their_texts() {
        for o in CallOutcome::ALL {
            assert_eq!(CallOutcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(CallOutcome::parse("no_answer"), None);
    }
}
