//! Modem profiles: how widely deployed modems and phones answer where they
//! differ from the baseline (the simulator's Siemens TC35i). A profile is a
//! set of deviations; each is written from the vendor's public AT manual,
//! cited next to it (`§+CPMS`: the manual's entry of that name; a number
//! only where it was checked), or from published transcripts where the
//! manual says nothing (said so there). Every profile is held to the same send/receive matrix
//! (`tests/modems.rs`); `expect` is what the health row must then show.

use std::time::Duration;

/// What `AT+CPMS=?` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpmsTest {
    /// The memories the simulator has, in the TS 27.005 §3.2.2 form.
    Lists,
    /// This answer line, then `OK`.
    Literal(&'static str),
    /// This final result (`+CMS ERROR: 303`, `ERROR`).
    Refused(&'static str),
}

/// What `AT+CMGL=4` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmgl {
    Lists,
    /// No answer at all (the modem keeps answering other commands).
    Hangs,
    /// This final result.
    Fails(&'static str),
}

/// How the modem tells the PIN attempts left (see `modem::pin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinRetries {
    /// `AT+CPINR="SIM PIN"` (3GPP TS 27.007 §8.65).
    Cpinr,
    /// `AT^SPIC` (Cinterion/Siemens): the counter of the password asked now.
    CinterionSpic,
    /// `AT+QPINC="SC"` (Quectel).
    Qpinc,
    /// `AT+SPIC` (SIMCom).
    SimcomSpic,
    /// `AT^CPIN?` (Huawei).
    HuaweiCpin,
    /// It does not tell.
    Untold,
}

/// What the health row must show for a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    pub manufacturer: &'static str,
    pub model: &'static str,
    pub rssi: u8,
    pub registration: &'static str,
    pub operator: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub name: &'static str,
    /// The modem, in words.
    pub about: &'static str,
    /// Lines printed when smss first talks to the modem (boot lines).
    pub boot: &'static [&'static str],
    /// Bytes printed before the boot lines (noise of a modem powering up).
    pub junk: &'static [u8],
    /// The first command lines get no answer (autobauding: the modem is
    /// still finding the speed).
    pub deaf_first: usize,
    /// The first answer comes this late (the modem still booting).
    pub slow_first_answer: Duration,
    /// `(command, line)`: the line comes once, just before the first answer
    /// to that command (boot messages that arrive during init).
    pub late: &'static [(&'static str, &'static str)],
    /// A line sent before every answer to this command (and between the
    /// `> ` prompt and `+CMGS:`): periodic status reports.
    pub chatter: Option<(&'static str, &'static str)>,
    /// The answer to a command the modem does not have.
    pub unknown: &'static str,
    /// Command prefixes the modem does not have (answered with `unknown`).
    pub lacks: &'static [&'static str],
    pub cgmi: &'static [&'static str],
    pub cgmm: &'static [&'static str],
    pub ati: &'static [&'static str],
    /// The answer to `AT+CGMR` (firmware).
    pub cgmr: &'static [&'static str],
    pub csq: &'static str,
    pub creg: &'static str,
    pub cops: &'static str,
    /// `AT+CPIN?` answered without a final `OK`.
    pub cpin_without_ok: bool,
    /// How the modem tells the PIN attempts left.
    pub pin_retries: PinRetries,
    /// How many of the first `AT+CPIN?` answer that the SIM is busy
    /// (alternately `+CME ERROR: 14` and `+CPIN: NOT READY`).
    pub sim_busy: usize,
    /// The first `ATE0` answers `OK` but echo stays on.
    pub echo_sticks: bool,
    /// The prompt after `AT+CMGS=<n>`.
    pub prompt: &'static str,
    /// Blank lines between `+CMGS: <mr>` and `OK`.
    pub blank_after_cmgs: usize,
    pub cpms_test: CpmsTest,
    /// The memories: name and slots (`MT` is SM and ME together).
    pub memories: &'static [(&'static str, usize)],
    /// Where new messages are stored.
    pub deliver_to: &'static str,
    /// The first slot's index.
    pub first_index: u32,
    pub cmgl: Cmgl,
    /// False: the modem has no SMS storage; messages are pushed as `+CMT`
    /// (once `AT+CNMI` asks for `<mt>`=2) and, with `AT+CSMS=1`, wait for
    /// `AT+CNMA`.
    pub sms_storage: bool,
    /// `AT+CNMA` must carry `<n>` (`AT+CNMA=1`); the bare form is unknown.
    pub cnma_needs_n: bool,
    /// `ATH` ends a voice call (V.250 hook control). False: it answers
    /// `OK` and ends only data calls; a voice call needs `AT+CHUP`.
    pub ath_ends_voice: bool,
    pub expect: Expected,
}

/// Siemens TC35i, the baseline: what the simulator always did.
pub const TC35I: Profile = Profile {
    name: "tc35i",
    about: "Siemens TC35i (the baseline)",
    boot: &[],
    junk: &[],
    deaf_first: 0,
    slow_first_answer: Duration::ZERO,
    late: &[],
    chatter: None,
    unknown: "ERROR",
    lacks: &[],
    cgmi: &["SIEMENS"],
    cgmm: &["TC35i (simulated)"],
    ati: &["SIEMENS", "TC35i", "REVISION 02.06"],
    cgmr: &["REVISION 02.06"],
    csq: "+CSQ: 21,99",
    creg: "+CREG: 0,1",
    cops: "+COPS: 0,0,\"SIMULATED\"",
    cpin_without_ok: false,
    // TC35i AT Command Set §8.40 (AT^SPIC, display PIN counter).
    pin_retries: PinRetries::CinterionSpic,
    sim_busy: 0,
    echo_sticks: false,
    prompt: "> ",
    blank_after_cmgs: 0,
    cpms_test: CpmsTest::Lists,
    memories: &[("SM", 20), ("ME", 50), ("SR", 20)],
    deliver_to: "SM",
    first_index: 1,
    cmgl: Cmgl::Lists,
    sms_storage: true,
    cnma_needs_n: false,
    ath_ends_voice: true,
    expect: Expected {
        manufacturer: "SIEMENS",
        model: "TC35i (simulated)",
        rssi: 21,
        registration: "home",
        operator: "SIMULATED",
    },
};

/// SIMCom SIM800L. Source: SIM800 Series AT Command Manual V1.09
/// (2015-08-03).
pub const SIM800: Profile = Profile {
    name: "sim800",
    about: "SIMCom SIM800L (2G module)",
    // §"Summary of unsolicited result codes": RDY (power on completed,
    // fixed baud rate), +CFUN: 1, +CPIN: READY.
    boot: &["RDY", "+CFUN: 1", "+CPIN: READY"],
    // AT+IPR entry: with autobauding (the factory setting) the module learns
    // the speed from the host's first "AT"; that one is not answered.
    deaf_first: 1,
    // URC summary: "Call Ready" (phonebook initialisation over, AT+CIURC)
    // and "SMS Ready" come seconds after RDY: in the middle of init.
    late: &[("AT+CGMI", "Call Ready"), ("AT+CGMM", "SMS Ready")],
    // AT+CGMI / AT+CGMM entries.
    cgmi: &["SIMCOM_Ltd"],
    cgmm: &["SIMCOM_SIM800L"],
    ati: &["SIM800 R14.18"],
    cgmr: &["Revision:1418B04SIM800L24"],
    csq: "+CSQ: 17,0",
    creg: "+CREG: 0,5",
    cops: "+COPS: 0,0,\"T-Mobile CZ\"",
    // AT+CPMS entry: "SM_P" and "ME_P" (SM or ME preferred) and "MT".
    cpms_test: CpmsTest::Literal(
        "+CPMS: (\"SM\",\"ME\",\"SM_P\",\"ME_P\",\"MT\"),(\"SM\",\"ME\",\"SM_P\",\"ME_P\",\"MT\"),(\"SM\",\"ME\",\"SM_P\",\"ME_P\",\"MT\")",
    ),
    memories: &[("SM", 30), ("ME", 50), ("SR", 20)],
    expect: Expected {
        manufacturer: "SIMCOM_Ltd",
        model: "SIMCOM_SIM800L",
        rssi: 17,
        registration: "roaming",
        operator: "T-Mobile CZ",
    },
    // §AT+SPIC: times remained to input SIM PIN/PUK.
    pin_retries: PinRetries::SimcomSpic,
    ..TC35I
};

/// SIMCom SIM7600E-H. Source: SIM7500_SIM7600 Series AT Command Manual
/// V1.10.
pub const SIM7600: Profile = Profile {
    name: "sim7600",
    about: "SIMCom SIM7600E-H (LTE module)",
    // §"Unsolicited result codes": RDY, +CPIN: READY, SMS DONE, PB DONE
    // after power on.
    boot: &["RDY", "+CPIN: READY", "SMS DONE", "PB DONE"],
    // ATI entry: labelled lines, then +GCAP.
    ati: &[
        "Manufacturer: SIMCOM INCORPORATED",
        "Model: SIMCOM_SIM7600E-H",
        "Revision: SIM7600M22_V2.0",
        "IMEI: 868822040061788",
        "+GCAP: +CGSM",
    ],
    // AT+CGMI / AT+CGMM entries.
    cgmi: &["SIMCOM INCORPORATED"],
    cgmm: &["SIMCOM_SIM7600E-H"],
    cgmr: &["+CGMR: LE11B12SIM7600M22"],
    csq: "+CSQ: 25,99",
    creg: "+CREG: 0,1",
    cops: "+COPS: 0,0,\"O2 - CZ\",7",
    // AT+CPMS entry: ("ME","MT","SM","SR"); new messages in ME.
    cpms_test: CpmsTest::Literal(
        "+CPMS: (\"ME\",\"MT\",\"SM\",\"SR\"),(\"ME\",\"MT\",\"SM\",\"SR\"),(\"ME\",\"MT\",\"SM\",\"SR\")",
    ),
    memories: &[("SM", 30), ("ME", 50), ("SR", 20)],
    deliver_to: "ME",
    // AT+CMGL / AT+CMTI examples: ME slots count from 0.
    first_index: 0,
    expect: Expected {
        manufacturer: "SIMCOM INCORPORATED",
        model: "SIMCOM_SIM7600E-H",
        rssi: 25,
        registration: "home",
        operator: "O2 - CZ",
    },
    // §AT+SPIC: times remained to input SIM PIN/PUK.
    pin_retries: PinRetries::SimcomSpic,
    ..TC35I
};

/// Quectel EC25. Source: EC25&EC21 AT Commands Manual V1.3 (2018-09-20).
pub const EC25: Profile = Profile {
    name: "ec25",
    about: "Quectel EC25 (LTE module)",
    // §"Summary of URCs" / AT+QINDCFG: RDY, +CFUN: 1, +CPIN: READY,
    // +QUSIM: 1, +QIND: SMS DONE, +QIND: PB DONE after power on.
    boot: &[
        "RDY",
        "+CFUN: 1",
        "+CPIN: READY",
        "+QUSIM: 1",
        "+QIND: SMS DONE",
    ],
    late: &[("AT+CGMM", "+QIND: PB DONE")],
    // ATI entry: "Quectel", "EC25", "Revision: ..." without labels.
    ati: &["Quectel", "EC25", "Revision: EC25EFAR06A06M4G"],
    cgmi: &["Quectel"],
    cgmm: &["EC25"],
    cgmr: &["Revision: EC25EFAR06A06M4G"],
    csq: "+CSQ: 28,99",
    creg: "+CREG: 0,1",
    cops: "+COPS: 0,0,\"Vodafone CZ\",7",
    // §"Summary of CME ERROR codes": 14 SIM busy; answered while the SIM
    // initialises after power on (before +QIND: SMS DONE).
    sim_busy: 2,
    // AT+CPMS entry: ("SM","ME","MT").
    cpms_test: CpmsTest::Literal(
        "+CPMS: (\"SM\",\"ME\",\"MT\"),(\"SM\",\"ME\",\"MT\"),(\"SM\",\"ME\",\"MT\")",
    ),
    memories: &[("SM", 30), ("ME", 255), ("SR", 20)],
    deliver_to: "ME",
    first_index: 0,
    expect: Expected {
        manufacturer: "Quectel",
        model: "EC25",
        rssi: 28,
        registration: "home",
        operator: "Vodafone CZ",
    },
    // §AT+QPINC: display PIN remainder counter.
    pin_retries: PinRetries::Qpinc,
    ..TC35I
};

/// Quectel M26. Source: M26 AT Commands Manual V1.x (Quectel).
pub const M26: Profile = Profile {
    name: "m26",
    about: "Quectel M26 (2G module)",
    // §"URC": RDY, +CFUN: 1, +CPIN: READY; Call Ready and SMS Ready
    // (AT+QIURC) follow later.
    boot: &["RDY", "+CFUN: 1"],
    late: &[
        ("AT+CMEE=1", "+CPIN: READY"),
        ("AT+CGMI", "Call Ready"),
        ("AT+CGMM", "SMS Ready"),
    ],
    // §AT+CPIN: "+CPIN: NOT READY" while the SIM is not ready.
    sim_busy: 2,
    // §AT+CGMI / AT+CGMM.
    cgmi: &["Quectel_Ltd"],
    cgmm: &["Quectel_M26"],
    ati: &["Quectel_Ltd", "Quectel_M26", "Revision: M26FBR03A03"],
    csq: "+CSQ: 19,0",
    creg: "+CREG: 0,1",
    cops: "+COPS: 0,0,\"T-Mobile CZ\"",
    // §AT+CPMS: ("SM","ME","MT").
    cpms_test: CpmsTest::Literal(
        "+CPMS: (\"SM\",\"ME\",\"MT\"),(\"SM\",\"ME\",\"MT\"),(\"SM\",\"ME\",\"MT\")",
    ),
    memories: &[("SM", 30), ("ME", 50), ("SR", 20)],
    expect: Expected {
        manufacturer: "Quectel_Ltd",
        model: "Quectel_M26",
        rssi: 19,
        registration: "home",
        operator: "T-Mobile CZ",
    },
    // §AT+QPINC: display PIN remainder counter.
    pin_retries: PinRetries::Qpinc,
    ..TC35I
};

/// Huawei E173 (3G USB stick). Source: HUAWEI UMTS Datacard/M2M AT Command
/// Interface Specification (EM770W, Issue 18, 2009; the E1xx sticks share
/// it).
pub const E173: Profile = Profile {
    name: "e173",
    about: "Huawei E173 (3G USB stick)",
    // §^BOOT, ^MODE, ^RSSI (unsolicited): reported at any time.
    boot: &["^BOOT:12780,0,0,0,72", "^MODE:5,4"],
    // §^RSSI "indicate RSSI change": whenever the signal moves; before
    // answers and between the prompt and +CMGS:.
    chatter: Some(("AT+CSQ", "^RSSI:14")),
    // §1.3 interface change principles: a command the MS does not know is
    // answered COMMAND NOT SUPPORT (not ERROR).
    unknown: "COMMAND NOT SUPPORT",
    lacks: &["AT+CMMS"],
    // §AT+CGMI / AT+CGMM.
    cgmi: &["huawei"],
    cgmm: &["E173"],
    ati: &[
        "Manufacturer: huawei",
        "Model: E173",
        "Revision: 11.126.85.00.209",
    ],
    cgmr: &["11.126.85.00.209"],
    csq: "+CSQ: 14,99",
    creg: "+CREG: 0,1",
    cops: "+COPS: 0,2,\"23003\",2",
    // §AT+CPMS: SIM memory only.
    cpms_test: CpmsTest::Literal("+CPMS: (\"SM\"),(\"SM\"),(\"SM\")"),
    memories: &[("SM", 20)],
    expect: Expected {
        manufacturer: "huawei",
        model: "E173",
        rssi: 14,
        registration: "home",
        operator: "23003",
    },
    // §AT^CPIN: enhanced PIN management (remaining PIN and PUK times).
    pin_retries: PinRetries::HuaweiCpin,
    // HUAWEI MU509 AT Command Interface Specification (Issue 04, 2013)
    // §9.10 H, Hook Control: "used to terminate data call in progress by
    // default"; §9.6 +CHUP hangs up the voice call. The same AT stack.
    ath_ends_voice: false,
    ..TC35I
};

/// Huawei E3372 (LTE USB stick, "stick" firmware with an AT port).
/// Source: HUAWEI ME909s Series LTE Module AT Command Interface
/// Specification (V100R001, Issue 03, 2019), the same AT stack.
pub const E3372: Profile = Profile {
    name: "e3372",
    about: "Huawei E3372 (LTE USB stick)",
    // §^SIMST (SIM state change), ^SRVST (service state), ^HCSQ (signal).
    boot: &["^SIMST: 1", "^SRVST: 2"],
    chatter: Some(("AT+CSQ", "^HCSQ: \"LTE\",52,42,171,29")),
    unknown: "COMMAND NOT SUPPORT",
    lacks: &["AT+CMMS", "AT+CGMM"],
    cgmi: &["huawei"],
    cgmm: &[],
    // §ATI: Manufacturer/Model/Revision/IMEI/+GCAP. The stick firmware
    // has no AT+CGMM: the model comes from ATI.
    ati: &[
        "Manufacturer: huawei",
        "Model: E3372",
        "Revision: 22.200.09.01.161",
        "IMEI: 866000000000000",
        "+GCAP: +CGSM,+DS,+ES",
    ],
    cgmr: &["22.200.09.01.161"],
    csq: "+CSQ: 22,99",
    creg: "+CREG: 0,1",
    cops: "+COPS: 0,0,\"Vodafone CZ\",7",
    // §+CPMS: ("ME","MT","SM","SR"); new messages in ME from index 0.
    cpms_test: CpmsTest::Literal(
        "+CPMS: (\"ME\",\"MT\",\"SM\",\"SR\"),(\"ME\",\"MT\",\"SM\",\"SR\"),(\"ME\",\"MT\",\"SM\",\"SR\")",
    ),
    memories: &[("SM", 20), ("ME", 100), ("SR", 20)],
    deliver_to: "ME",
    first_index: 0,
    expect: Expected {
        manufacturer: "huawei",
        model: "E3372",
        rssi: 22,
        registration: "home",
        operator: "Vodafone CZ",
    },
    // §AT^CPIN: enhanced PIN management (remaining PIN and PUK times).
    pin_retries: PinRetries::HuaweiCpin,
    // HUAWEI MU509 AT Command Interface Specification (Issue 04, 2013)
    // §9.10 H, Hook Control: "used to terminate data call in progress by
    // default"; §9.6 +CHUP hangs up the voice call. The same AT stack.
    ath_ends_voice: false,
    ..TC35I
};

/// Telit GL865-DUAL. Source: Telit AT Commands Reference Guide
/// 80000ST10025a (Rev. 13, 2012).
pub const TELIT: Profile = Profile {
    name: "telit",
    about: "Telit GL865-DUAL (2G module)",
    // §#QSS (query SIM status; unsolicited #QSS: <status> when enabled),
    // §#STIA / #STN (SIM toolkit notifications).
    boot: &["#QSS: 1"],
    late: &[("AT+CGMI", "#STN: 37")],
    // §+CGMI / +CGMM.
    cgmi: &["Telit"],
    cgmm: &["GL865-DUAL"],
    ati: &["Telit", "GL865-DUAL", "10.00.146"],
    csq: "+CSQ: 16,0",
    creg: "+CREG: 0,1",
    cops: "+COPS: 0,0,\"T-Mobile CZ\"",
    // §+CPMS: SIM and status reports only.
    cpms_test: CpmsTest::Literal("+CPMS: (\"SM\",\"SR\"),(\"SM\"),(\"SM\")"),
    memories: &[("SM", 30), ("SR", 20)],
    expect: Expected {
        manufacturer: "Telit",
        model: "GL865-DUAL",
        rssi: 16,
        registration: "home",
        operator: "T-Mobile CZ",
    },
    // Telit tells it with its own AT#PCT, which smss does not ask.
    pin_retries: PinRetries::Untold,
    ..TC35I
};

/// Sierra Wireless MC7455 (AirPrime). Source: AirPrime MC74xx AT Command
/// Reference (Sierra Wireless, 4118xxx); the missing OK after AT+CPIN? is
/// from published transcripts of Sierra and Falcom modems (the issue).
pub const SIERRA: Profile = Profile {
    name: "sierra",
    about: "Sierra Wireless MC7455 (LTE module)",
    cpin_without_ok: true,
    // §+CGMI / +CGMM.
    cgmi: &["Sierra Wireless, Incorporated"],
    cgmm: &["MC7455"],
    ati: &[
        "Manufacturer: Sierra Wireless, Incorporated",
        "Model: MC7455",
    ],
    csq: "+CSQ: 24,99",
    creg: "+CREG: 0,1",
    cops: "+COPS: 0,0,\"O2 - CZ\",7",
    // §+CPMS: ("ME","MT","SM","SR").
    cpms_test: CpmsTest::Literal(
        "+CPMS: (\"ME\",\"MT\",\"SM\",\"SR\"),(\"ME\",\"MT\",\"SM\",\"SR\"),(\"ME\",\"MT\",\"SM\",\"SR\")",
    ),
    memories: &[("SM", 30), ("ME", 100), ("SR", 20)],
    expect: Expected {
        manufacturer: "Sierra Wireless, Incorporated",
        model: "MC7455",
        rssi: 24,
        registration: "home",
        operator: "O2 - CZ",
    },
    // §+CPINR (TS 27.007).
    pin_retries: PinRetries::Cpinr,
    ..TC35I
};

/// u-blox SARA-U270. Source: u-blox Cellular Modules AT Commands Manual
/// (UBX-13002752); echo, prompt and blank lines from published transcripts.
pub const UBLOX: Profile = Profile {
    name: "ublox",
    about: "u-blox SARA-U270 (3G module)",
    // §+UUSIMSTAT: SIM status URC.
    boot: &["+UUSIMSTAT: 1"],
    // The first ATE0 right after power-on is taken but echo stays on
    // (published transcripts; the manual's E command says nothing of it).
    echo_sticks: true,
    // §+CMGS: the prompt is "> "; some firmware sends ">" alone, and blank
    // lines after +CMGS: (published transcripts).
    prompt: ">",
    blank_after_cmgs: 2,
    // §+CGMI / +CGMM.
    cgmi: &["u-blox"],
    cgmm: &["SARA-U270"],
    ati: &["Manufacturer: u-blox", "Model: SARA-U270"],
    csq: "+CSQ: 20,99",
    creg: "+CREG: 0,1",
    cops: "+COPS: 0,0,\"Vodafone CZ\",2",
    // §+CPMS: ("MT","ME","SM","BM","SR"); SM from index 1.
    cpms_test: CpmsTest::Literal(
        "+CPMS: (\"MT\",\"ME\",\"SM\",\"BM\",\"SR\"),(\"MT\",\"ME\",\"SM\"),(\"MT\",\"ME\",\"SM\")",
    ),
    memories: &[("SM", 30), ("ME", 100), ("SR", 20)],
    expect: Expected {
        manufacturer: "u-blox",
        model: "SARA-U270",
        rssi: 20,
        registration: "home",
        operator: "Vodafone CZ",
    },
    // §+CPINR (TS 27.007).
    pin_retries: PinRetries::Cpinr,
    ..TC35I
};

/// Wavecom (Sierra) Fastrack M1306B. Sources: Wavecom AT Commands
/// Interface Guide (WM_ASW_OAT_UGD, §"General Indications +WIND"), and the
/// Wavecom G900 user manual §2.3 ("in some cases like AT+CPIN? ... the
/// mobile does not finish its response with the string OK").
pub const FASTRACK: Profile = Profile {
    name: "fastrack",
    about: "Wavecom Fastrack M1306B (2G modem)",
    // §+WIND: +WIND: 3 (product ready), +WIND: 4 (ready for AT commands
    // after boot), unsolicited.
    boot: &["+WIND: 3", "+WIND: 4"],
    late: &[("AT+CGMM", "+WIND: 7")],
    // G900 manual §2.3.
    cpin_without_ok: true,
    // §+CGMI / +CGMM (the Multitech Wavecom reference shows the prefix).
    cgmi: &["+CGMI: WAVECOM MODEM"],
    cgmm: &["MULTIBAND  900E  1800"],
    ati: &["WAVECOM MODEM", "MULTIBAND  900E  1800"],
    csq: "+CSQ: 15,99",
    creg: "+CREG: 0,1",
    cops: "+COPS: 0,0,\"T-Mobile CZ\"",
    // §+CMMS is not in the Wavecom guide: "+CME ERROR: 3".
    lacks: &["AT+CMMS"],
    unknown: "+CME ERROR: 3",
    // §+CPMS: SIM memory (BM broadcast, SR reports).
    cpms_test: CpmsTest::Literal("+CPMS: (\"SM\",\"BM\",\"SR\"),(\"SM\"),(\"SM\")"),
    memories: &[("SM", 25), ("SR", 20)],
    expect: Expected {
        manufacturer: "WAVECOM MODEM",
        model: "MULTIBAND  900E  1800",
        rssi: 15,
        registration: "home",
        operator: "T-Mobile CZ",
    },
    // Wavecom tells it with its own AT+CPINC, which smss does not ask.
    pin_retries: PinRetries::Untold,
    ..TC35I
};

/// An old phone in AT mode: Motorola RAZR V3. Source: AT Commands
/// Reference for Motorola Handsets (Motorola OS 3G-GSM, 2008) and gammu's
/// Motorola notes; CMGL hanging from published reports (gammu reads such
/// phones with AT+CMGR).
pub const MOTOROLA: Profile = Profile {
    name: "motorola",
    about: "Motorola RAZR V3 (a phone in AT mode)",
    // §+CGMI / +CGMM: prefixed, quoted; the model is a list of bands and
    // MODEL=.
    cgmi: &["+CGMI: \"Motorola CE, Copyright 2000\""],
    cgmm: &["+CGMM: \"GSM900\",\"GSM1800\",\"GSM1900\",\"GSM850\",\"MODEL=V3\""],
    ati: &["Motorola Mobile Phone"],
    // Result codes: MODEM ERROR: <n> for what the phone does not do.
    unknown: "MODEM ERROR: 0",
    lacks: &["AT+CMMS", "AT+CNMI=2,1,0,2,0"],
    cgmr: &["+CGMR: \"R374_G_0E.41.C3R_A\""],
    csq: "+CSQ: 12,99",
    creg: "+CREG: 0,1",
    cops: "+COPS: 0,0,\"T-Mobile CZ\"",
    cmgl: Cmgl::Hangs,
    cpms_test: CpmsTest::Literal("+CPMS: (\"ME\",\"SM\"),(\"ME\",\"SM\"),(\"ME\",\"SM\")"),
    memories: &[("SM", 20), ("ME", 50)],
    deliver_to: "ME",
    expect: Expected {
        manufacturer: "Motorola CE",
        model: "V3",
        rssi: 12,
        registration: "home",
        operator: "T-Mobile CZ",
    },
    // Nothing in the handset reference.
    pin_retries: PinRetries::Untold,
    ..TC35I
};

/// Nordic nRF9160 (LTE-M/NB-IoT). Source: nRF9160 AT Commands Reference
/// Guide v1.x (§"Received SMS notification in PDU mode +CMT": `+CMT:
/// <alpha>,<length>` and the PDU line, "TE is expected to ACK received
/// message with the +CNMA command"; no +CPMS, +CMGL or +CMGR: nothing is
/// stored). smss takes every message as a `+CMT` and acknowledges it once
/// committed.
pub const NRF91: Profile = Profile {
    name: "nrf91",
    about: "Nordic nRF9160 (LTE-M/NB-IoT, no SMS storage)",
    // §%XSIM: SIM state notification.
    boot: &["%XSIM: 1"],
    // §+CGMI / +CGMM.
    cgmi: &["Nordic Semiconductor ASA"],
    cgmm: &["nRF9160-SICA"],
    ati: &[],
    // §+CNMI: <mode> 0 or 3 only (3: forward the result codes directly),
    // <mt> 0 or 2, <ds> 0 or 1 (set command example AT+CNMI=3,2,0,1).
    lacks: &[
        "AT+CMMS",
        "AT+CPMS",
        "AT+CMGL",
        "AT+CMGR",
        "AT+CNMI=2",
        "AT+CNMI=1",
    ],
    // §+CNMA: +CNMA=<n>, <n> 1 (RP-ACK) or 2 (RP-ERROR); PDU mode only.
    cnma_needs_n: true,
    csq: "+CSQ: 99,99",
    creg: "+CREG: 0,1",
    cops: "+COPS: 0,2,\"23001\",7",
    cpms_test: CpmsTest::Refused("ERROR"),
    memories: &[],
    sms_storage: false,
    expect: Expected {
        manufacturer: "Nordic Semiconductor ASA",
        model: "nRF9160-SICA",
        rssi: 99,
        registration: "home",
        operator: "23001",
    },
    // §+CPINR (remaining PIN retries).
    pin_retries: PinRetries::Cpinr,
    ..TC35I
};

/// Not a vendor: the "slow first answer" as one modem. It answers
/// its first `AT` after 2.5 s and prints junk when the port opens; smss
/// once took its late answers for the next commands' and sent the PDU as a
/// command (`+CMS ERROR: 304`).
pub const SLOW_START: Profile = Profile {
    name: "slow-start",
    about: "a USB stick still booting (slow first answer, junk)",
    junk: b"\x00\xff\xfe\x00",
    slow_first_answer: Duration::from_millis(2500),
    // CPMS=? refused while the modem is still starting (TS 27.005
    // §3.2.5: 302 operation not allowed); the memories are then tried one
    // by one.
    cpms_test: CpmsTest::Refused("+CMS ERROR: 302"),
    ..TC35I
};

/// Every profile, the baseline first.
pub const PROFILES: &[&Profile] = &[
    &TC35I,
    &SIM800,
    &SIM7600,
    &EC25,
    &M26,
    &E173,
    &E3372,
    &TELIT,
    &SIERRA,
    &UBLOX,
    &FASTRACK,
    &MOTOROLA,
    &NRF91,
    &SLOW_START,
];

/// The profile named `name`.
pub fn profile(name: &str) -> Option<&'static Profile> {
    PROFILES.iter().copied().find(|p| p.name == name)
}
