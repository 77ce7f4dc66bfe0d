//! `+CMS ERROR` / `+CME ERROR` codes in words (3GPP TS 27.005 §3.2.5 and
//! TS 27.007 §9.2), and which of them no retry can fix.

/// The meaning of a `+CMS ERROR` code.
pub fn cms_reason(code: u16) -> &'static str {
    match code {
        1 => "unassigned (unallocated) number",
        8 => "operator determined barring",
        10 => "call barred",
        21 => "short message transfer rejected",
        27 => "destination out of service",
        28 => "unidentified subscriber",
        29 => "facility rejected",
        30 => "unknown subscriber",
        38 => "network out of order",
        41 => "temporary failure",
        42 => "congestion",
        47 => "resources unavailable",
        50 => "requested facility not subscribed",
        69 => "requested facility not implemented",
        81 => "invalid short message transfer reference value",
        95 => "invalid message",
        96 => "invalid mandatory information (bad destination number?)",
        97 => "message type non-existent or not implemented",
        98 => "message not compatible with short message protocol state",
        99 => "information element non-existent or not implemented",
        111 => "protocol error",
        127 => "interworking error",
        300 => "ME failure",
        301 => "SMS service of ME reserved",
        302 => "operation not allowed",
        303 => "operation not supported",
        304 => "invalid PDU mode parameter",
        305 => "invalid text mode parameter",
        310 => "SIM not inserted",
        311 => "SIM PIN required",
        312 => "PH-SIM PIN required",
        313 => "SIM failure",
        314 => "SIM busy",
        315 => "SIM wrong",
        316 => "SIM PUK required",
        320 => "memory failure",
        321 => "invalid memory index",
        322 => "memory full",
        330 => "SMSC address unknown (set smsc in the configuration)",
        331 => "no network service",
        332 => "network timeout",
        500 => "unknown error",
        _ => "unlisted error",
    }
}

/// The meaning of a `+CME ERROR` code.
pub fn cme_reason(code: u16) -> &'static str {
    match code {
        0 => "phone failure",
        3 => "operation not allowed",
        4 => "operation not supported",
        10 => "SIM not inserted",
        11 => "SIM PIN required",
        12 => "SIM PUK required",
        13 => "SIM failure",
        14 => "SIM busy",
        15 => "SIM wrong",
        16 => "incorrect password",
        20 => "memory full",
        21 => "invalid index",
        30 => "no network service",
        31 => "network timeout",
        32 => "network not allowed, emergency calls only",
        100 => "unknown error",
        _ => "unlisted error",
    }
}

/// Errors about the message itself: sending it again cannot succeed.
pub fn cms_is_permanent(code: u16) -> bool {
    matches!(code, 1 | 28 | 96 | 304)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_and_permanence() {
        assert_eq!(cms_reason(38), "network out of order");
        assert_eq!(cme_reason(11), "SIM PIN required");
        assert_eq!(cms_reason(9999), "unlisted error");
        assert!(cms_is_permanent(1));
        assert!(!cms_is_permanent(38));
        assert!(!cms_is_permanent(500));
    }
}
