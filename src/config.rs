//! Settings: embedded defaults, then `/etc/smss/smss.conf` (or `--config`),
//! then the `SMSS_DB` environment variable, then the command line.
//!
//! The file is `key = value` lines with `#` comments; its keys are the long
//! command-line options (`max-parts` and `max_parts` are the same key). A
//! `#` that starts a word begins a comment, also after a value (`pin = 1234
//! # the SIM PIN`); `\#` is a literal `#` there; a `#` inside a word
//! (`mysql://smss:pa#ss@db/sms`) is part of the value ([`strip_comment`]).
//!
//! Each setting is one entry of the `settings!` table below: its field and
//! type, its key, the placeholder of its value, its default (written as in
//! the file), its parser, the commands that use it and its help. The table
//! makes [`Settings`], its `Default` (every default parsed by its parser),
//! [`SETTINGS`] (what `--help` prints and `etc/smss.conf` must document, a
//! test holds them together) and the dispatch of [`Settings::set`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use log::LevelFilter;

use crate::allow::Cidr;
use crate::charset::Legacy;

pub const DEFAULT_CONFIG: &str = "/etc/smss/smss.conf";
pub const DB_ENV: &str = "SMSS_DB";
pub const DEFAULT_LOG_FILE: &str = "/var/log/smss/smss.log";

/// The commands that read the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Serve,
    SendPending,
    InitDb,
    Status,
    Probe,
    Group,
    Token,
    SendSms,
}

impl Command {
    pub fn name(self) -> &'static str {
        match self {
            Command::Serve => "serve",
            Command::SendPending => "send-pending",
            Command::InitDb => "init-db",
            Command::Status => "status",
            Command::Probe => "probe",
            Command::Group => "group",
            Command::Token => "token",
            Command::SendSms => "sendsms",
        }
    }
}

use Command::{Group, InitDb, Probe, SendPending, SendSms, Serve, Status, Token};

/// Every command but `probe`: the database.
const ALL: &[Command] = &[Serve, SendPending, InitDb, Status, Group, Token];
/// Every command: the log.
const LOGS: &[Command] = &[Serve, SendPending, InitDb, Status, Probe];
/// What opening and initialising the modem takes: the modem thread and
/// `probe`.
const PORT: &[Command] = &[Serve, SendPending, Probe];
/// The modem's device and lock: the modem thread, `status`, `probe`.
const PORT_STATUS: &[Command] = &[Serve, SendPending, Status, Probe];
/// The modem thread, in `serve` and in `send-pending`.
const MODEM: &[Command] = &[Serve, SendPending];
/// The listeners, TCP and web.
const SERVE: &[Command] = &[Serve];
const STATUS: &[Command] = &[Status];

/// One setting as data: what `--help` prints and the sample config shows.
#[derive(Debug)]
pub struct Setting {
    /// The key in the file; `--name` on the command line.
    pub name: &'static str,
    /// The placeholder of the value in `--help`.
    pub value: &'static str,
    /// The default as it is written in the file; empty = unset.
    pub default: &'static str,
    pub help: &'static str,
    pub commands: &'static [Command],
}

impl Setting {
    /// The help with the default, as `--help` prints it.
    pub fn describe(&self) -> String {
        if self.default.is_empty() {
            self.help.to_owned()
        } else {
            format!("{} (default {})", self.help, self.default)
        }
    }
}

/// Expands the table below into [`Settings`] (one field per entry, its help
/// as its doc), `Default` (each default parsed by the entry's parser),
/// [`SETTINGS`] and `Settings::set_known` (the key → parser → field match).
macro_rules! settings {
    ($(
        $field:ident: $ty:ty {
            name: $name:literal,
            value: $value:literal,
            default: $default:expr,
            parse: $parse:expr,
            commands: $commands:expr,
            help: $help:literal $(,)?
        }
    )*) => {
        #[derive(Debug, Clone, PartialEq)]
        pub struct Settings {
            $( #[doc = $help] pub $field: $ty, )*
        }

        /// Every setting, in the order of `--help`.
        pub const SETTINGS: &[Setting] = &[$(
            Setting {
                name: $name,
                value: $value,
                default: $default,
                help: $help,
                commands: $commands,
            },
        )*];

        impl Default for Settings {
            fn default() -> Self {
                Settings {$(
                    $field: ($parse)($default)
                        .unwrap_or_else(|e| panic!("the default of {}: {e}", $name)),
                )*}
            }
        }

        impl Settings {
            /// Parses `value` into the setting named `key`; `None` for no such key.
            fn set_known(&mut self, key: &str, value: &str) -> Option<Result<(), String>> {
                Some(match key {
                    $( $name => ($parse)(value).map(|v| self.$field = v), )*
                    _ => return None,
                })
            }
        }
    };
}

settings! {
    db: String {
        name: "db", value: "URL", default: "sqlite:///var/lib/smss/smss.db",
        parse: nonempty, commands: ALL,
        help: "database URL: sqlite:///PATH or mysql://user:pass@host:3306/sms; also $SMSS_DB",
    }
    device: String {
        name: "device", value: "PATH", default: "",
        parse: text, commands: PORT_STATUS,
        help: "modem serial port; several separated by commas, each with a modem thread of \
               its own; 'sim' = built-in simulated modem; unset = serve and send-pending \
               touch no port and say so",
    }
    baud: u32 {
        name: "baud", value: "N", default: "9600",
        parse: number(300, 4_000_000), commands: PORT,
        help: "serial speed",
    }
    pin: Option<String> {
        name: "pin", value: "PIN", default: "",
        parse: crate::modem::pin::parse_setting, commands: PORT,
        help: "SIM PIN (4 to 8 digits), when the SIM asks for one; a PIN the SIM refused is \
               not entered again (see lock-dir/smss-DEVICE.pin-refused), nor with one attempt left",
    }
    smsc: Option<String> {
        name: "smsc", value: "NUMBER", default: "",
        parse: optional, commands: PORT,
        help: "SMS centre number, when the SIM does not hold the right one",
    }
    listen: String {
        name: "listen", value: "ADDR", default: "0.0.0.0:2021",
        parse: nonempty, commands: SERVE,
        help: "TCP address for requests",
    }
    log_file: Option<PathBuf> {
        name: "log-file", value: "PATH", default: DEFAULT_LOG_FILE,
        parse: log_file, commands: LOGS,
        help: "log file; none = terminal only",
    }
    log_level: LevelFilter {
        name: "log-level", value: "LEVEL", default: "info",
        parse: level, commands: LOGS,
        help: "error, warn, info, or debug for the modem traffic too",
    }
    service_user: Option<String> {
        name: "service-user", value: "USER", default: "smss",
        parse: optional, commands: ALL,
        help: "run as root, smss gives the files it creates (database, log, lock) to this \
               user, when it exists, so that the service can use them; unset = keep them root's",
    }
    lock_dir: PathBuf {
        name: "lock-dir", value: "DIR", default: "/run/lock",
        parse: path, commands: PORT_STATUS,
        help: "where the modem lock file lives",
    }
    spool: PathBuf {
        name: "spool", value: "PATH", default: "/var/lib/smss/spool.db",
        parse: path, commands: &[Serve, Status],
        help: "with a MySQL database: the local SQLite file where serve commits what it \
               accepts while the database is unreachable (answered OK with L<id> ids), \
               moved into the database when it answers again",
    }
    spool_retry: Duration {
        name: "spool-retry", value: "DURATION", default: "5s",
        parse: duration, commands: SERVE,
        help: "while the spool holds messages, how often serve tries the database to move \
               them there",
    }
    spool_copy_every: Duration {
        name: "spool-copy-every", value: "DURATION", default: "1m",
        parse: positive_duration, commands: SERVE,
        help: "with a MySQL database: how often serve copies the groups and API tokens into \
               the spool, which answers @group lines and tokens while the database is \
               unreachable (a change by smss group or smss token reaches the copy within this)",
    }
    instance: Option<String> {
        name: "instance", value: "NAME", default: "",
        parse: optional, commands: MODEM,
        help: "name of this sender in the database; unset = host name + device",
    }
    max_connections: usize {
        name: "max-connections", value: "N", default: "64",
        parse: number(1, 100_000), commands: SERVE,
        help: "concurrent TCP connections; more get 'ERR busy'",
    }
    max_connections_per_peer: usize {
        name: "max-connections-per-peer", value: "N", default: "8",
        parse: number(1, 100_000), commands: SERVE,
        help: "concurrent TCP connections from one address (IPv6: one /64), so that no host \
               holds every place; more get 'ERR busy'",
    }
    max_line_bytes: usize {
        name: "max-line-bytes", value: "N", default: "16384",
        parse: number(64, 64 * 1024 * 1024), commands: SERVE,
        help: "longest request line; longer ones get ERR and are closed",
    }
    idle_timeout: Duration {
        name: "idle-timeout", value: "DURATION", default: "60s",
        parse: duration, commands: SERVE,
        help: "a client silent this long, or slower to finish a line, is closed",
    }
    quiet_pause: Duration {
        name: "quiet-pause", value: "DURATION", default: "1s",
        parse: duration, commands: SERVE,
        help: "a line without newline ends after this pause",
    }
    max_parts: usize {
        name: "max-parts", value: "N", default: "10",
        parse: number(1, 255), commands: MODEM,
        help: "most SMS parts one text may take, at most 255",
    }
    coalesce_window: Duration {
        name: "coalesce-window", value: "DURATION", default: "10m",
        parse: duration, commands: SERVE,
        help: "a request with the number and text of a message still queued is merged into it \
               (sent once, with (xN) appended when it fits); one repeating a message sent less \
               than this long ago is recorded as suppressed, not sent; 0 = off",
    }
    max_per_recipient: usize {
        name: "max-per-recipient", value: "N", default: "0",
        parse: number(0, 100_000), commands: MODEM,
        help: "most SMS one number gets in an hour (0 = no limit); the last one allowed carries \
               everything then waiting for that number as one digest (N alerts: first lines), \
               later ones wait and go out the same way; urgent messages are never held",
    }
    max_recipients: usize {
        name: "max-recipients", value: "N", default: "50",
        parse: number(1, 100_000), commands: SERVE,
        help: "most recipients of one request (the requests of a TCP line, the numbers of the \
               web form or of an API call); a request with more is refused whole, nothing queued",
    }
    legacy_charset: Legacy {
        name: "legacy-charset", value: "NAME", default: "windows-1250",
        parse: charset, commands: SERVE,
        help: "how request bytes that are not UTF-8 are read: windows-1250, iso-8859-2, \
               windows-1252, iso-8859-1",
    }
    poll_interval: Duration {
        name: "poll-interval", value: "DURATION", default: "10s",
        parse: duration, commands: &[Serve, SendPending, Status],
        help: "how often the queue is checked for rows inserted by other tools and the modem \
               read; send-pending, with nothing queued after a pass that found nothing, opens \
               the modem at most this often",
    }
    sql_poll_interval: Duration {
        name: "sql-poll-interval", value: "DURATION", default: "1s",
        parse: duration, commands: SERVE,
        help: "how often an idle serve asks the queue (one indexed query) whether rows that \
               other tools inserted with plain SQL are due, so they go out within about this \
               long rather than at the next poll-interval; 0 = off",
    }
    bare_numbers_international: bool {
        name: "bare-numbers", value: "KIND", default: "international",
        parse: bare_numbers, commands: MODEM,
        help: "numbers without + or 00: international (420608337726) or national",
    }
    command_timeout: Duration {
        name: "command-timeout", value: "DURATION", default: "10s",
        parse: duration, commands: PORT,
        help: "how long the modem may take to answer a command",
    }
    send_timeout: Duration {
        name: "send-timeout", value: "DURATION", default: "60s",
        parse: duration, commands: MODEM,
        help: "how long the modem may take to send one part",
    }
    max_attempts: u32 {
        name: "max-attempts", value: "N", default: "8",
        parse: number(1, 1000), commands: MODEM,
        help: "attempts before a message is marked failed (a modem that stopped answering \
               costs the message none)",
    }
    retry_delay: Duration {
        name: "retry-delay", value: "DURATION", default: "5s",
        parse: duration, commands: MODEM,
        help: "delay before the first retry of a temporary failure, doubling each time, \
               each stretched by up to a quarter at random",
    }
    sim_delay: Duration {
        name: "sim-delay", value: "DURATION", default: "0",
        parse: duration, commands: PORT,
        help: "with device = sim: how long the simulated modem takes per SMS",
    }
    sim_profile: &'static crate::sim::Profile {
        name: "sim-profile", value: "NAME", default: "tc35i",
        parse: sim_profile, commands: PORT,
        help: "with device = sim: the modem the simulated one answers as (tc35i, sim800, \
               sim7600, ec25, m26, e173, e3372, telit, sierra, ublox, fastrack, motorola, nrf91)",
    }
    on_receive: Option<PathBuf> {
        name: "on-receive", value: "PROGRAM", default: "",
        parse: optional_path, commands: MODEM,
        help: "run after each received message is stored: argument = its id; SMSS_ID, \
               SMSS_SENDER, SMSS_TEXT, SMSS_SMSC_TIME in the environment, the text also on \
               standard input; no shell",
    }
    on_receive_timeout: Duration {
        name: "on-receive-timeout", value: "DURATION", default: "30s",
        parse: duration, commands: MODEM,
        help: "the on-receive program is killed after this",
    }
    on_receive_queue: usize {
        name: "on-receive-queue", value: "N", default: "1000",
        parse: number(1, 1_000_000), commands: MODEM,
        help: "received messages that may wait for the on-receive program (it runs one at a \
               time); beyond, it is not run for a message (logged), the message is stored all \
               the same",
    }
    on_receive_log_bytes: usize {
        name: "on-receive-log-bytes", value: "N", default: "4096",
        parse: number(0, 16_777_216), commands: MODEM,
        help: "how much of the on-receive program's standard output, and of its standard \
               error, is logged; the rest is read and dropped",
    }
    multipart_timeout: Duration {
        name: "multipart-timeout", value: "DURATION", default: "24h",
        parse: duration, commands: MODEM,
        help: "parts of a received long message wait this long for the rest, then are stored \
               as incomplete",
    }
    sim_cleanup_stored: bool {
        name: "sim-cleanup", value: "off|stored", default: "off",
        parse: sim_cleanup, commands: MODEM,
        help: "stored: delete stored sent/unsent messages (left on the SIM by a phone or \
               another tool; smss does not read them) from the modem's memories, so that they \
               cannot fill it; each deletion is logged with its memory and index",
    }
    status_reports: bool {
        name: "status-reports", value: "yes|no", default: "no",
        parse: boolean, commands: MODEM,
        help: "ask the network for delivery reports and record them in sms",
    }
    rate_limit: u32 {
        name: "rate-limit", value: "N", default: "0",
        parse: number(0, 6000), commands: MODEM,
        help: "at most N SMS parts per minute through the modem, so the operator does not \
               block the SIM for bursts; 0 = no limit",
    }
    allow: Vec<Cidr> {
        name: "allow", value: "CIDRS", default: "",
        parse: crate::allow::parse_list, commands: SERVE,
        help: "who may connect: comma separated addresses or networks, IPv4 and IPv6 \
               (e.g. 10.0.0.0/8, 192.168.1.5, ::1); refused peers are logged; unset = everyone",
    }
    max_queue_age: Duration {
        name: "max-queue-age", value: "DURATION", default: "10m",
        parse: duration, commands: STATUS,
        help: "status: attention needed when the oldest queued message waits longer; \
               0 = no limit",
    }
    health_max_age: Duration {
        name: "health-max-age", value: "DURATION", default: "5m",
        parse: duration, commands: STATUS,
        help: "status: attention needed when serve last checked a modem longer ago",
    }
    health_retire_age: Duration {
        name: "health-retire-age", value: "DURATION", default: "24h",
        parse: duration, commands: STATUS,
        help: "status: a sender not checked for this long is shown as retired, not as a \
               problem (so is one of this host whose device is no longer configured, after \
               health-max-age); smss status --forget NAME deletes its row; 0 = never",
    }
    lease: Duration {
        name: "lease", value: "DURATION", default: "2m",
        parse: lease, commands: MODEM,
        help: "how long a sender's claim on a queued message holds; renewed while it works, \
               so only a dead sender's claims expire and another modem sends them",
    }
    web_listen: Option<String> {
        name: "web-listen", value: "ADDR", default: "",
        parse: optional, commands: SERVE,
        help: "address of the web interface and HTTP API, e.g. 127.0.0.1:8025; unset = off",
    }
    web_max_connections: usize {
        name: "web-max-connections", value: "N", default: "32",
        parse: number(1, 100_000), commands: SERVE,
        help: "concurrent connections to the web interface; more get 503",
    }
    web_max_connections_per_peer: usize {
        name: "web-max-connections-per-peer", value: "N", default: "8",
        parse: number(1, 100_000), commands: SERVE,
        help: "concurrent web connections from one address (IPv6: one /64); more get 503",
    }
    web_host: Vec<String> {
        name: "web-host", value: "NAMES", default: "",
        parse: host_names, commands: SERVE,
        help: "names the web interface answers to, comma separated (e.g. smss.lan), besides \
               its listen address, localhost and this machine's host name; a request naming another Host gets 421, \
               a POST from another Origin 403 (against DNS rebinding)",
    }
    web_head_timeout: Duration {
        name: "web-head-timeout", value: "DURATION", default: "5s",
        parse: duration, commands: SERVE,
        help: "a web request's head must arrive within this, and so must a body read before its \
               credentials are known (sendsms's form); slower clients get 408",
    }
    web_auth_concurrency: usize {
        name: "web-auth-concurrency", value: "N", default: "2",
        parse: number(1, 64), commands: SERVE,
        help: "password checks at once (Argon2, about 19 MiB of memory each, kept for reuse); \
               more wait",
    }
    web_auth_delay: Duration {
        name: "web-auth-delay", value: "DURATION", default: "1s",
        parse: duration, commands: SERVE,
        help: "after a wrong password, the next check for the same address (IPv6: /64) waits this \
               long, doubling with each failure in a row up to web-auth-max-delay; earlier \
               attempts get 429; 0 = no delay",
    }
    web_auth_max_delay: Duration {
        name: "web-auth-max-delay", value: "DURATION", default: "5m",
        parse: duration, commands: SERVE,
        help: "the longest delay after wrong passwords (web-auth-delay)",
    }
    web_user: String {
        name: "web-user", value: "NAME", default: "admin",
        parse: nonempty, commands: SERVE,
        help: "user name for the web interface, for HTTP Basic authentication",
    }
    web_password_hash: Option<String> {
        name: "web-password-hash", value: "HASH", default: "",
        parse: password_hash, commands: SERVE,
        help: "password hash from `smss hash-password`; required unless web-listen is a \
               loopback address",
    }
    kannel_user: Option<String> {
        name: "kannel-user", value: "NAME", default: "",
        parse: optional, commands: SERVE,
        help: "username= of /cgi-bin/sendsms (Kannel-compatible); unset = web-user",
    }
    kannel_password_hash: Option<String> {
        name: "kannel-password-hash", value: "HASH", default: "",
        parse: password_hash, commands: SERVE,
        help: "hash of the password= of /cgi-bin/sendsms; unset = web-password-hash \
               (neither set: sendsms is off)",
    }
    client_server: String {
        name: "client-server", value: "HOST[:PORT]", default: "localhost:2021",
        parse: nonempty, commands: &[SendSms],
        help: "the server smss sendsms sends to (its -a wins)",
    }
    alert_send_resolved: bool {
        name: "alert-send-resolved", value: "yes|no", default: "yes",
        parse: boolean, commands: SERVE,
        help: "/api/alertmanager and /api/grafana: send an SMS when an alert is resolved too",
    }
    alert_remember: Duration {
        name: "alert-remember", value: "DURATION", default: "720h",
        parse: duration, commands: SERVE,
        help: "/api/alertmanager remembers which alerts it notified (a repeat of the group \
               sends only what changed) this long; an alert still firing after that is sent \
               again once, as a reminder",
    }
    checkin_interval: Duration {
        name: "checkin-interval", value: "DURATION", default: "30s",
        parse: positive_duration, commands: SERVE,
        help: "how often serve looks for late check-ins (smss checkin) and whether the \
               heartbeat is due; a late check-in's SMS goes out at most this long after its \
               period and grace",
    }
    checkin_grace: Duration {
        name: "checkin-grace", value: "DURATION", default: "5m",
        parse: duration, commands: SERVE,
        help: "the grace of a check-in created by its first report without grace=: how long \
               after its period it may still come before the SMS",
    }
    heartbeat: Option<crate::pager::Heartbeat> {
        name: "heartbeat", value: "TIME RECIPIENTS", default: "",
        parse: crate::pager::heartbeat::parse, commands: SERVE,
        help: "a daily 'smss on HOST alive: ...' SMS at this local time to these numbers or \
               @groups (08:00 @ops), or at an interval (every 6h @ops); once across every \
               serve of one database; empty = none",
    }
    call_urgent: bool {
        name: "call-urgent", value: "yes|no", default: "no",
        parse: boolean, commands: MODEM,
        help: "after an urgent SMS is sent, the modem calls its number (a phone in silent \
               mode still rings for a favourite), lets it ring call-ring, hangs up and records \
               the outcome (answered, busy, no answer, rejected, failed) in the call table; a \
               number is not called again while its last call ended less than call-ring ago",
    }
    call_ring: Duration {
        name: "call-ring", value: "DURATION", default: "30s",
        parse: call_ring, commands: MODEM,
        help: "how long a call-urgent call rings before smss hangs up, from 1s to 5m; sending \
               waits for the call at most this long plus command-timeout",
    }
    alert_max_parts: usize {
        name: "alert-max-parts", value: "N", default: "2",
        parse: number(1, 255), commands: SERVE,
        help: "most SMS parts of one alert notification (/api/alertmanager, /api/grafana): \
               what does not fit is cut and counted as +N more (never more than max-parts)",
    }
}

/// A bad setting, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// `path:line` for the file, `--key` for the command line.
    pub origin: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.message)
    }
}

impl std::error::Error for ConfigError {}

impl Settings {
    /// Sets one key from its text value. Keys use `-` or `_`.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let key = key.replace('_', "-");
        self.set_known(&key, value)
            .unwrap_or_else(|| Err(format!("unknown setting '{key}' (see smss --help)")))
    }

    pub fn is_key(key: &str) -> bool {
        let key = key.replace('_', "-");
        SETTINGS.iter().any(|s| s.name == key)
    }

    /// Reads `key = value` lines; errors name `path:line`.
    pub fn apply_file_text(&mut self, path: &Path, text: &str) -> Result<(), ConfigError> {
        for (n, raw) in text.lines().enumerate() {
            let origin = || format!("{}:{}", path.display(), n + 1);
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line.split_once('=').ok_or_else(|| ConfigError {
                origin: origin(),
                message: format!("expected 'key = value', found '{line}'"),
            })?;
            self.set(key.trim(), &strip_comment(value))
                .map_err(|message| ConfigError {
                    origin: origin(),
                    message,
                })?;
        }
        Ok(())
    }

    /// Loads the config file: `explicit` must exist; the default path is
    /// read only when present.
    pub fn apply_file(&mut self, explicit: Option<&Path>) -> Result<(), ConfigError> {
        let path = explicit.unwrap_or(Path::new(DEFAULT_CONFIG));
        match std::fs::read_to_string(path) {
            Ok(text) => self.apply_file_text(path, &text),
            Err(e) if explicit.is_none() && e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => {
                let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
                    " (run as root or as the smss user, or name another file with --config)"
                } else {
                    ""
                };
                Err(ConfigError {
                    origin: path.display().to_string(),
                    message: format!("cannot read the configuration file: {e}{hint}"),
                })
            }
        }
    }

    /// The modems: `device` may name several, separated by commas.
    pub fn devices(&self) -> Vec<String> {
        self.device
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// One copy of the settings per modem, `device` set to that modem. With
    /// several modems a configured `instance` gets the device appended, so
    /// each modem thread claims under a name of its own.
    pub fn per_device(&self) -> Vec<Settings> {
        let devices = self.devices();
        let many = devices.len() > 1;
        devices
            .into_iter()
            .map(|device| {
                let mut s = self.clone();
                if many && let Some(instance) = &self.instance {
                    s.instance = Some(format!("{instance}:{device}"));
                }
                s.device = device;
                s
            })
            .collect()
    }

    /// The name this sender claims queue rows under.
    pub fn instance_name(&self) -> String {
        self.instance.clone().unwrap_or_else(|| {
            let host = host_name().unwrap_or_else(|| "localhost".into());
            format!("{host}:{}", self.device)
        })
    }
}

/// This machine's host name, as the kernel has it.
pub fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

/// The value of a `key = value` line without its comment, trimmed: a `#`
/// at the start of the value or after a space or tab begins a comment, so
/// `1234   # the SIM PIN` is `1234`; `\#` is a literal `#` anywhere (write
/// `\#1` for a value that starts with `#`); any other `#` (`pa#ss`) and
/// every other backslash are kept as they are.
pub fn strip_comment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    let mut word_start = true;
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'#') => {
                out.push('#');
                chars.next();
            }
            '#' if word_start => break,
            _ => out.push(c),
        }
        word_start = c == ' ' || c == '\t';
    }
    out.trim().to_owned()
}

// The parsers of the table: the text of a value (from the file, the command
// line or a default) to the value, or a message naming it and what it should be.

fn sim_profile(value: &str) -> Result<&'static crate::sim::Profile, String> {
    crate::sim::profile(value).ok_or_else(|| {
        let names: Vec<&str> = crate::sim::PROFILES.iter().map(|p| p.name).collect();
        format!("no simulated modem '{value}': one of {}", names.join(", "))
    })
}

/// Any text; empty = unset.
fn text(value: &str) -> Result<String, String> {
    Ok(value.to_owned())
}

fn nonempty(value: &str) -> Result<String, String> {
    if value.is_empty() {
        Err("needs a value".into())
    } else {
        Ok(value.to_owned())
    }
}

/// Empty = unset.
fn optional(value: &str) -> Result<Option<String>, String> {
    Ok((!value.is_empty()).then(|| value.to_owned()))
}

fn path(value: &str) -> Result<PathBuf, String> {
    nonempty(value).map(PathBuf::from)
}

fn optional_path(value: &str) -> Result<Option<PathBuf>, String> {
    Ok(optional(value)?.map(PathBuf::from))
}

/// `none` (or empty): no log file.
fn log_file(value: &str) -> Result<Option<PathBuf>, String> {
    Ok(optional(value)?
        .filter(|v| !v.eq_ignore_ascii_case("none"))
        .map(PathBuf::from))
}

/// A whole number from `min` to `max`.
fn number<T>(min: T, max: T) -> impl Fn(&str) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    move |value| match value.parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(format!(
            "'{value}' should be a whole number from {min} to {max}"
        )),
    }
}

fn charset(value: &str) -> Result<Legacy, String> {
    Legacy::from_name(value).ok_or_else(|| {
        format!(
            "unknown charset '{value}': use windows-1250, iso-8859-2, windows-1252 or iso-8859-1"
        )
    })
}

/// Whether a number without `+` or `00` is international.
fn bare_numbers(value: &str) -> Result<bool, String> {
    match value {
        "international" => Ok(true),
        "national" => Ok(false),
        _ => Err(format!("'{value}' should be international or national")),
    }
}

/// `sim-cleanup`: `stored` (true) or `off`.
fn sim_cleanup(value: &str) -> Result<bool, String> {
    match value {
        "stored" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("'{value}' should be off or stored")),
    }
}

fn boolean(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Ok(true),
        "no" | "false" | "off" | "0" => Ok(false),
        _ => Err(format!("'{value}' should be yes or no")),
    }
}

/// Host names, comma separated: letters, digits, `-`, `.`; no port.
fn host_names(value: &str) -> Result<Vec<String>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| {
            let ok = n
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            if ok {
                Ok(n.to_ascii_lowercase())
            } else {
                Err(format!(
                    "'{n}' is not a host name (letters, digits, - and ., without a port)"
                ))
            }
        })
        .collect()
}

/// An Argon2 PHC string (`$argon2id$v=19$m=...`), checked now so that a
/// mistyped hash is reported with its line, not at the first login.
fn password_hash(value: &str) -> Result<Option<String>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    crate::password::check_hash(value)?;
    Ok(Some(value.to_owned()))
}

/// A duration of at least 1s.
fn lease(value: &str) -> Result<Duration, String> {
    let lease = duration(value)?;
    if lease < Duration::from_secs(1) {
        return Err(format!("'{value}' is too short: a lease needs at least 1s"));
    }
    Ok(lease)
}

fn level(value: &str) -> Result<LevelFilter, String> {
    match value.to_ascii_lowercase().as_str() {
        "error" => Ok(LevelFilter::Error),
        "warn" | "warning" => Ok(LevelFilter::Warn),
        "info" => Ok(LevelFilter::Info),
        "debug" => Ok(LevelFilter::Debug),
        "trace" => Ok(LevelFilter::Trace),
        _ => Err(format!("'{value}' should be error, warn, info or debug")),
    }
}

/// A duration that is not zero.
fn positive_duration(value: &str) -> Result<Duration, String> {
    match crate::duration::parse(value)? {
        d if d.is_zero() => Err("must be more than 0".into()),
        d => Ok(d),
    }
}

/// The longest `call-ring`: networks end an unanswered call after one to
/// three minutes anyway, and sending waits for the call.
pub const MAX_CALL_RING: Duration = Duration::from_secs(300);

/// `call-ring`: from 1s to [`MAX_CALL_RING`].
fn call_ring(value: &str) -> Result<Duration, String> {
    let ring = duration(value)?;
    if ring < Duration::from_secs(1) {
        return Err(format!(
            "'{value}' is too short: a call needs at least 1s to ring (to make no calls, set call-urgent = no)"
        ));
    }
    if ring > MAX_CALL_RING {
        return Err(format!(
            "'{value}' is too long: at most 5m (sending waits for the call; networks stop ringing after 1 to 3 minutes)"
        ));
    }
    Ok(ring)
}

/// `250ms`, `10s`, `5m`, `1h`; a bare number is seconds.
pub fn duration(value: &str) -> Result<Duration, String> {
    crate::duration::parse(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(duration("5m"), Ok(Duration::from_secs(300)));
        assert!(duration("ten").is_err());
        assert!(duration("5 parsecs").is_err());
    }

    #[test]
    fn call_ring_is_refused_at_zero_and_beyond_its_max() {
        assert_eq!(call_ring("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(call_ring("5m"), Ok(MAX_CALL_RING));
        assert_eq!(call_ring("30"), Ok(Duration::from_secs(30)));
        let zero = call_ring("0").unwrap_err();
        assert!(
            zero.contains("too short") && zero.contains("call-urgent = no"),
            "{zero}"
        );
        assert!(call_ring("999ms").unwrap_err().contains("too short"));
        let long = call_ring("301").unwrap_err();
        assert!(long.contains("too long: at most 5m"), "{long}");
        assert!(call_ring("ten").is_err());
        let mut s = Settings::default();
        assert!(!s.call_urgent, "calls are off unless asked for");
        let e = s
            .apply_file_text(Path::new("smss.conf"), "call-urgent = yes\ncall-ring = 0\n")
            .unwrap_err();
        assert!(
            e.to_string().starts_with("smss.conf:2: '0' is too short"),
            "{e}"
        );
        assert!(s.call_urgent);
    }

    #[test]
    fn file_lines_with_comments_and_both_key_styles() {
        let mut s = Settings::default();
        let text = "# smss\n\nmax_parts = 3\nmax-connections=5\n  device = /dev/ttyUSB0  \npin =\n";
        s.apply_file_text(Path::new("/etc/smss/smss.conf"), text)
            .unwrap();
        assert_eq!(s.max_parts, 3);
        assert_eq!(s.max_connections, 5);
        assert_eq!(s.device, "/dev/ttyUSB0");
        assert_eq!(s.pin, None);
    }

    #[test]
    fn comments_after_a_value() {
        for (value, expect) in [
            ("1234   # the SIM PIN", "1234"),
            ("1234\t# tab", "1234"),
            ("# nothing", ""),
            ("mysql://smss:pa#ss@db/sms", "mysql://smss:pa#ss@db/sms"),
            ("gw\\#1 # a literal # after a space", "gw#1"),
            ("\\#1", "#1"),
            ("a \\# b", "a # b"),
            ("C:\\smss\\hook.exe", "C:\\smss\\hook.exe"),
            ("  spaced  ", "spaced"),
        ] {
            assert_eq!(strip_comment(value), expect, "{value}");
        }
        let mut s = Settings::default();
        let text = "instance = gw\\#1   # the first gateway\nmax-parts = 3 # fewer\n";
        s.apply_file_text(Path::new("smss.conf"), text).unwrap();
        assert_eq!(s.instance.as_deref(), Some("gw#1"));
        assert_eq!(s.max_parts, 3);
    }

    #[test]
    fn errors_name_the_line() {
        let mut s = Settings::default();
        let e = s
            .apply_file_text(Path::new("smss.conf"), "baud = 9600\nspeed = 1\n")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "smss.conf:2: unknown setting 'speed' (see smss --help)"
        );
        let e = s
            .apply_file_text(Path::new("smss.conf"), "\nmax-parts = 0\n")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "smss.conf:2: '0' should be a whole number from 1 to 255"
        );
        let e = s
            .apply_file_text(Path::new("smss.conf"), "just words")
            .unwrap_err();
        assert_eq!(e.origin, "smss.conf:1");
    }

    const SAMPLE: &str = include_str!("../etc/smss.conf");

    /// The setting lines of the sample, `key = value` or `#key = value`
    /// (commented out: the default applies), each with the comment lines
    /// right above it. A comment is `# text`: `#` then a space.
    fn sample_settings() -> Vec<(&'static str, &'static str, Vec<&'static str>)> {
        let mut found = Vec::new();
        let mut comments = Vec::new();
        for line in SAMPLE.lines() {
            let setting = line.strip_prefix('#').unwrap_or(line);
            let key_like = |key: &str| {
                !key.is_empty()
                    && key
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_".contains(c))
            };
            match setting.split_once('=') {
                Some((key, value)) if key_like(key.trim_end()) => {
                    found.push((key.trim_end(), value.trim(), std::mem::take(&mut comments)));
                }
                _ => match line.strip_prefix("# ") {
                    Some(comment) => comments.push(comment),
                    None => comments.clear(),
                },
            }
        }
        found
    }

    #[test]
    fn the_sample_config_documents_every_key() {
        let sample = sample_settings();
        for (key, _, comments) in &sample {
            let setting = SETTINGS.iter().find(|s| s.name == *key);
            let setting = setting.unwrap_or_else(|| {
                panic!("etc/smss.conf: '{key}' is not a setting (see SETTINGS)")
            });
            assert!(
                comments.contains(&setting.help),
                "etc/smss.conf: the comment above {key} is not its help in config::SETTINGS"
            );
        }
        for setting in SETTINGS {
            let times = sample.iter().filter(|(k, _, _)| *k == setting.name).count();
            assert_eq!(
                times, 1,
                "etc/smss.conf shows '#{} = ...' {times} times",
                setting.name
            );
        }
    }

    #[test]
    fn the_sample_config_shows_the_defaults() {
        // As installed it parses, and uncommenting every setting changes nothing.
        let mut s = Settings::default();
        s.apply_file_text(Path::new("etc/smss.conf"), SAMPLE)
            .unwrap();
        let mut all = Settings::default();
        for (key, value, _) in sample_settings() {
            all.set(key, value)
                .unwrap_or_else(|e| panic!("etc/smss.conf: {key} = {value}: {e}"));
        }
        let default = format!("{:?}", Settings::default());
        assert_eq!(format!("{s:?}"), default);
        assert_eq!(format!("{all:?}"), default);
        // Written as the table writes it, so that it reads as --help does.
        for (key, value, _) in sample_settings() {
            let setting = SETTINGS.iter().find(|s| s.name == key).unwrap();
            assert_eq!(value, setting.default, "etc/smss.conf: {key}");
        }
    }

    /// The default that `--help` shows for `setting`: `(default X)` at the
    /// end of its text, or none (unset).
    fn default_in_help<'a>(help: &'a str, setting: &Setting) -> &'a str {
        let option = format!("  --{} {}\n      ", setting.name, setting.value);
        let at = help
            .find(&option)
            .unwrap_or_else(|| panic!("--help lacks {option}"));
        let text = help[at + option.len()..].lines().next().unwrap();
        text.strip_suffix(')')
            .and_then(|t| t.rsplit_once(" (default "))
            .map_or("", |(_, default)| default)
    }

    #[test]
    fn every_documented_default_is_the_default() {
        let help = crate::cli::help_text(None);
        let sample = sample_settings();
        for setting in SETTINGS {
            let in_sample = sample
                .iter()
                .find(|(k, _, _)| *k == setting.name)
                .unwrap()
                .1;
            for (place, shown) in [
                ("--help", default_in_help(&help, setting)),
                ("etc/smss.conf", in_sample),
            ] {
                let mut s = Settings::default();
                s.set(setting.name, shown)
                    .unwrap_or_else(|e| panic!("{place}: {} = {shown}: {e}", setting.name));
                assert_eq!(
                    s,
                    Settings::default(),
                    "{place} shows {} = '{shown}', not the default",
                    setting.name
                );
            }
        }
    }

    #[test]
    fn help_texts_leave_the_default_to_the_table() {
        for setting in SETTINGS {
            assert!(
                !setting.help.contains("default"),
                "{}: the help restates the default; `default:` is the one place",
                setting.name
            );
            assert!(
                !setting.commands.is_empty(),
                "{}: used by no command",
                setting.name
            );
        }
    }

    #[test]
    fn log_file_none_means_terminal_only() {
        let mut s = Settings::default();
        assert_eq!(s.log_file.as_deref(), Some(Path::new(DEFAULT_LOG_FILE)));
        s.set("log-file", "/tmp/x.log").unwrap();
        assert_eq!(s.log_file.as_deref(), Some(Path::new("/tmp/x.log")));
        s.set("log-file", "none").unwrap();
        assert_eq!(s.log_file, None);
        s.set("log-file", "/tmp/x.log").unwrap();
        s.set("log-file", "").unwrap();
        assert_eq!(s.log_file, None);
    }

    #[test]
    fn every_key_in_the_help_table_is_settable() {
        for setting in SETTINGS {
            let mut s = Settings::default();
            let err = s.set(setting.name, "").err().unwrap_or_default();
            assert!(
                !err.starts_with("unknown setting"),
                "{}: {err}",
                setting.name
            );
        }
    }
}
