//! Command line: subcommands, their options, and the settings they build.

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::config::{ConfigError, DB_ENV, DEFAULT_CONFIG, SETTINGS, Setting, Settings};
use crate::lock::LockError;
use crate::outbox::PassError;
use crate::store::StoreError;

/// Everything that ends a command unsuccessfully, with the exit code: 2
/// for a usage error, 1 for the rest. `Display` is the text after
/// `smss <command>: ` on stderr.
#[derive(Debug)]
pub enum CliError {
    Usage(String),
    Config(ConfigError),
    /// The database cannot be opened (or its schema is not usable).
    Store(StoreError),
    /// The database needs `smss init-db`: the store's error and the
    /// command to run.
    NeedsInit(StoreError, InitDbHint),
    /// `status --forget NAME`: no sender of that name.
    NoSuchModem(String),
    /// `device` names something that is not a serial port.
    NotSerialPort(String),
    /// `serve --check`: the lock directory, log or database directory
    /// lets this user create nothing; `what` names the file.
    CannotCreate {
        what: String,
        path: PathBuf,
    },
    /// The modem lock cannot be taken.
    Lock(LockError),
    /// A pass of `send-pending` failed (modem or database).
    Pass(PassError),
    /// The log file cannot be opened; `missing_dir`: its directory does
    /// not exist.
    LogFile {
        path: PathBuf,
        source: io::Error,
        missing_dir: bool,
    },
    /// `listen` cannot be bound.
    Listen {
        addr: String,
        source: io::Error,
    },
    /// `listen` is not an address (`serve --check`).
    ListenAddress {
        addr: String,
        source: io::Error,
    },
    /// `lock-dir` is not a directory (`serve --check`).
    LockDir(PathBuf),
    /// `device` names no modem; the configuration file to set it in.
    NoModem(PathBuf),
    /// The signal handler cannot be installed.
    Signal(ctrlc::Error),
    /// A thread of `serve` cannot be started.
    Thread(io::Error),
    /// The web interface cannot start: `web::start`'s reason.
    Web(String),
    /// Any other I/O failure; `what` says what was being done
    /// (`cannot start the simulated modem`).
    Io {
        what: String,
        source: io::Error,
    },
    /// A management command cannot do what it was asked (no such group,
    /// a token name in use): the reason.
    Refused(String),
    /// `hash-password` read an empty line.
    EmptyPassword,
    HashPassword(argon2::password_hash::Error),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            _ => 1,
        }
    }

    /// The log file `path` failed to open with `source`.
    pub fn log_file(path: &Path, source: io::Error) -> CliError {
        let dir = path.parent().unwrap_or(Path::new("/"));
        CliError::LogFile {
            path: path.to_owned(),
            missing_dir: source.kind() == io::ErrorKind::NotFound && !dir.is_dir(),
            source,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) => write!(f, "{m}\n(see smss --help)"),
            CliError::Refused(m) => f.write_str(m),
            CliError::Config(e) => e.fmt(f),
            CliError::Store(e) => e.fmt(f),
            CliError::NeedsInit(e, hint) => write!(f, "{e}: {hint}"),
            CliError::NoSuchModem(name) => write!(
                f,
                "no modem row of a sender named '{name}' (smss status lists them, after modem:)"
            ),
            CliError::NotSerialPort(device) => write!(
                f,
                "{device} is not a serial port: set device to the modem's port \
                 (/dev/ttyUSB0, /dev/ttyACM0, /dev/serial/by-id/...)"
            ),
            CliError::CannotCreate { what, path } => {
                let dir = path.parent().unwrap_or(Path::new("/"));
                write!(
                    f,
                    "cannot create {what} {}: {}",
                    path.display(),
                    crate::owner::unusable("the directory", &[dir])
                )
            }
            CliError::Lock(e) => e.fmt(f),
            CliError::Pass(e) => e.fmt(f),
            CliError::LogFile {
                path,
                source,
                missing_dir,
            } => {
                write!(f, "cannot open the log file {}: {source}", path.display())?;
                match source.kind() {
                    io::ErrorKind::PermissionDenied if path.exists() => write!(
                        f,
                        ": {} (or set log-file)",
                        crate::owner::unusable("the log file", &[path])
                    ),
                    io::ErrorKind::PermissionDenied => {
                        f.write_str(" (run as the smss user, or set log-file)")
                    }
                    _ if *missing_dir => write!(
                        f,
                        " (the directory {} does not exist: create it, e.g. with make install-user, or set log-file)",
                        path.parent().unwrap_or(Path::new("/")).display()
                    ),
                    _ => f.write_str(" (set log-file to another file, or to none)"),
                }
            }
            CliError::Listen { addr, source } => {
                write!(f, "cannot listen on {addr}: {source}")?;
                if source.kind() == io::ErrorKind::AddrInUse {
                    f.write_str(" (is another smss serve running? see listen)")?;
                }
                Ok(())
            }
            CliError::ListenAddress { addr, source } => write!(f, "listen = {addr}: {source}"),
            CliError::LockDir(dir) => {
                write!(f, "lock-dir {} is not a directory", dir.display())
            }
            CliError::NoModem(config) => write!(
                f,
                "device is not set: set device in {} (the modem's serial port, e.g. \
                 /dev/ttyUSB0; several separated by commas; sim = the simulated modem)",
                config.display()
            ),
            CliError::Signal(e) => write!(f, "cannot install the signal handler: {e}"),
            CliError::Thread(e) => e.fmt(f),
            CliError::Web(m) => f.write_str(m),
            CliError::Io { what, source } => write!(f, "{what}: {source}"),
            CliError::EmptyPassword => f.write_str("empty password: give it on standard input"),
            CliError::HashPassword(e) => write!(f, "cannot hash the password: {e}"),
        }
    }
}

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CliError::Config(e) => Some(e),
            CliError::Store(e) | CliError::NeedsInit(e, _) => Some(e),
            CliError::Lock(e) => Some(e),
            CliError::Pass(e) => Some(e),
            CliError::LogFile { source, .. }
            | CliError::Listen { source, .. }
            | CliError::ListenAddress { source, .. }
            | CliError::Io { source, .. }
            | CliError::Thread(source) => Some(source),
            CliError::Signal(e) => Some(e),
            CliError::HashPassword(e) => Some(e),
            CliError::Usage(_)
            | CliError::LockDir(_)
            | CliError::NoModem(_)
            | CliError::NotSerialPort(_)
            | CliError::NoSuchModem(_)
            | CliError::CannotCreate { .. }
            | CliError::Web(_)
            | CliError::Refused(_)
            | CliError::EmptyPassword => None,
        }
    }
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        CliError::Config(e)
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        CliError::Store(e)
    }
}

impl CliError {
    /// A store error, with the `init-db` command when that fixes it.
    pub fn store(e: StoreError, hint: &InitDbHint) -> CliError {
        if e.needs_init() {
            CliError::NeedsInit(e, hint.clone())
        } else {
            CliError::Store(e)
        }
    }
}

/// `run `smss init-db ...``: the command that creates or upgrades the
/// schema of the database this command was given, with the same options
/// (`--db` and `--config` when they were given; the environment and the
/// default config need none), so that it can be run as it is printed. A
/// password in a `--db` URL is shown as `***`, and said so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitDbHint {
    command: String,
    password_hidden: bool,
}

impl InitDbHint {
    pub fn new(db_option: Option<&str>, config_option: Option<&Path>) -> InitDbHint {
        let mut command = String::from("smss init-db");
        let mut password_hidden = false;
        if let Some(db) = db_option {
            let shown = crate::secret::redact_url(db);
            password_hidden = shown != db;
            command.push_str(" --db ");
            command.push_str(&shell_word(&shown));
        }
        if let Some(config) = config_option {
            command.push_str(" --config ");
            command.push_str(&shell_word(&config.display().to_string()));
        }
        InitDbHint {
            command,
            password_hidden,
        }
    }
}

impl fmt::Display for InitDbHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "run `{}`", self.command)?;
        if self.password_hidden {
            f.write_str(" (with the password in place of ***)")?;
        }
        Ok(())
    }
}

/// `word` as one word for sh: as it is when it is plain, else in single quotes.
pub fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/:._@%+=,-".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

impl From<LockError> for CliError {
    fn from(e: LockError) -> Self {
        CliError::Lock(e)
    }
}

impl From<PassError> for CliError {
    fn from(e: PassError) -> Self {
        CliError::Pass(e)
    }
}

pub const COMMANDS: &str = "\
Commands:
  serve          TCP listener and modem thread (run by the init script or systemd)
  send-pending   one pass for cron: send what is queued, exit; a no-op while serve holds the modem
  client         send requests to a server: smss client -a HOST[:PORT] '#phone;text'
  init-db        create or upgrade the database schema
  status         queue, last 24 hours, modem health, lock holder; exit 1 when something needs attention
  probe          talk to the modem: what it is, what it offers, what smss will use (stop serve first)
  hash-password  read a password on standard input, print its hash for web-password-hash
  group          recipient groups (@NAME): smss group set NAME NUMBER... [--escalate STEP] | list | remove NAME
  token          API tokens: smss token add NAME | list | revoke NAME
  sendsms        smstools' sendsms: smss sendsms NUMBER|@GROUP... TEXT (to client-server)
";

pub const HASH_PASSWORD_HELP: &str = "\
Usage: printf '%s' 'PASSWORD' | smss hash-password

Reads a password (the first line of standard input) and prints its Argon2id
hash. Put the hash in the configuration file:
  web-password-hash = $argon2id$v=19$...
";

pub fn help_text(command: Option<&str>) -> String {
    let mut s = String::new();
    match command {
        None => {
            s.push_str("smss — SMS server: plaintext TCP requests queued in a database, sent through a GSM modem\n\n");
            s.push_str("Usage: smss COMMAND [OPTIONS]\n\n");
            s.push_str(COMMANDS);
            s.push_str("\nOptions of serve, send-pending, init-db, status and probe (also keys of the config file):\n");
        }
        Some(cmd) => {
            s.push_str(&format!("Usage: smss {cmd} [OPTIONS]\n\n"));
            s.push_str(match cmd {
                "serve" => "Listens for requests, queues them, and sends them through the modem.\n\
                            Logs to log-file and to stderr. With --check: checks what serve checks at\n\
                            start, as this user (the configuration, the log file, the database, the lock\n\
                            files, the ports), creates nothing, starts nothing, exits 0 when all is well.\n",
                "send-pending" => "One pass: sends what is queued and exits (for cron, every minute).\n\
                                   Exits 0 at once, saying so on stdout, when serve holds the modem.\n\
                                   On stderr only warnings and errors unless stderr is a terminal.\n",
                "init-db" => "Creates the database schema, or upgrades it to this version of smss.\n",
                "probe" => "Opens the modem, initialises it as serve would, and prints what it found:\n\
                            manufacturer, model, firmware, SIM, signal, registration, operator, the\n\
                            message memories and which smss reads, whether new messages are announced\n\
                            (AT+CNMI) and the radio link kept (AT+CMMS). Reads and deletes no message.\n\
                            Run it first with new hardware, and paste its output into a bug report.\n\
                            Exit status: 0 the modem answered; 1 it did not, or serve holds it.\n",
                _ => "Shows the queue and its oldest message, what was sent, failed and received in\n\
                      the last 24 hours, the last message sent, each modem's health as serve last\n\
                      recorded it, and who holds the modem lock.\n\
                      Exit status: 0 all is well; 1 something needs attention (the oldest queued\n\
                      message older than max-queue-age, a modem not healthy or not checked within\n\
                      health-max-age, the database unusable), with the reasons; 2 a usage error.\n\
                      A sender not checked within health-retire-age is shown as retired, not as a\n\
                      problem; --forget NAME deletes its row.\n",
            });
            s.push_str("\nOptions (also keys of the config file, written key = value):\n");
        }
    }
    let option = |s: &mut String, name: &str, help: &str| {
        s.push_str(&format!("  {name}\n      {help}\n"));
    };
    option(
        &mut s,
        "--config PATH",
        &format!("configuration file (default {DEFAULT_CONFIG}, read when present)"),
    );
    // A command's help explains the settings it uses; `smss --help` all.
    let used = |setting: &&Setting| {
        command.is_none_or(|cmd| setting.commands.iter().any(|c| c.name() == cmd))
    };
    for setting in SETTINGS.iter().filter(used) {
        let name = format!("--{} {}", setting.name, setting.value);
        option(&mut s, &name, &setting.describe());
    }
    if command.is_none() || command == Some("status") {
        s.push_str("  --forget NAME\n      status only: delete the health row of the sender NAME (one gone for good)\n");
    }
    if command.is_none() || command == Some("serve") {
        s.push_str("  --demo\n      serve only: SQLite in a temporary directory, simulated modem, listen on 127.0.0.1,\n      web interface on http://127.0.0.1:8025/\n");
        s.push_str("  --check\n      serve only: check what serve checks at start (config, log file, database, locks,\n      ports); create nothing, start nothing\n");
    }
    s.push_str("  -h, --help\n      this help\n");
    let others: Vec<String> = SETTINGS
        .iter()
        .filter(|setting| !used(setting))
        .map(|setting| format!("--{} {}", setting.name, setting.value))
        .collect();
    if !others.is_empty() {
        s.push_str("\nAccepted too (settings of other commands; the config file is shared):\n");
        s.push_str(&wrap(&others, "  ", 78));
    }
    s
}

/// `items` separated by commas, in lines of at most `width` characters
/// (an item is never split), each line starting with `indent`.
fn wrap(items: &[String], indent: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for (i, item) in items.iter().enumerate() {
        let item = if i + 1 < items.len() {
            format!("{item},")
        } else {
            item.clone()
        };
        if !line.is_empty() && indent.len() + line.len() + 1 + item.len() > width {
            out.push_str(&format!("{indent}{line}\n"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&item);
    }
    if !line.is_empty() {
        out.push_str(&format!("{indent}{line}\n"));
    }
    out
}

/// Options shared by the server-side commands.
#[derive(Debug)]
pub struct ServerArgs {
    pub settings: Settings,
    pub demo: bool,
    pub help: bool,
    /// `serve --check`: check the configuration, start nothing.
    pub check: bool,
    /// The configuration file in use (`--config`, else the default path,
    /// read when present): where the hints say to set things.
    pub config_path: PathBuf,
    /// What to run when the database needs `init-db`.
    pub init_db: InitDbHint,
    /// `status --forget NAME`: delete that sender's health row.
    pub forget: Option<String>,
    /// `serve --demo`: its temporary directory, removed when serve ends.
    pub demo_dir: Option<PathBuf>,
    /// The words of `group` and `token` (`set NAME NUMBER...`).
    pub words: Vec<String>,
}

/// A new directory `TMPDIR/PREFIXxxxxxxxxxx` (random, mode 0700, made
/// only if it did not exist: mkdtemp), so no other user can have made it
/// first or look into it.
fn make_temp_dir(prefix: &str) -> Result<PathBuf, CliError> {
    use std::os::unix::fs::DirBuilderExt;
    let mut last = None;
    for _ in 0..16 {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(|e| CliError::Io {
            what: "cannot make a random name".into(),
            source: io::Error::other(e.to_string()),
        })?;
        let name: String = bytes
            .iter()
            .map(|b| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[*b as usize % 36]))
            .collect();
        let dir = std::env::temp_dir().join(format!("{prefix}{name}"));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(source) => {
                return Err(CliError::Io {
                    what: format!("cannot create {}", dir.display()),
                    source,
                });
            }
        }
    }
    Err(CliError::Io {
        what: format!("cannot create a directory {prefix}... in the temporary directory"),
        source: last.unwrap_or_else(|| io::Error::other("no name free")),
    })
}

/// Defaults, then the config file, then `$SMSS_DB`, then the command line.
pub fn parse_server_args(command: &str, args: Vec<OsString>) -> Result<ServerArgs, CliError> {
    use lexopt::prelude::*;
    let usage = |e: lexopt::Error| CliError::Usage(e.to_string());
    let mut parser = lexopt::Parser::from_args(args);
    let mut config: Option<PathBuf> = None;
    let mut demo = false;
    let mut help = false;
    let mut check = false;
    let mut forget = None;
    let mut words = Vec::new();
    let mut overrides: Vec<(String, String)> = Vec::new();
    while let Some(arg) = parser.next().map_err(usage)? {
        match arg {
            Short('h') | Long("help") => help = true,
            Long("demo") if command == "serve" => demo = true,
            Long("check") if command == "serve" => check = true,
            Long("forget") if command == "status" => {
                forget = Some(parser.value().map_err(usage)?.string().map_err(usage)?)
            }
            Long("config") => config = Some(parser.value().map_err(usage)?.into()),
            Value(word) if matches!(command, "group" | "token" | "checkin") => {
                words.push(word.string().map_err(usage)?)
            }
            Long("escalate") if command == "group" => {
                words.push("--escalate".into());
                words.push(parser.value().map_err(usage)?.string().map_err(usage)?);
            }
            Long(key @ ("every" | "grace" | "to")) if command == "checkin" => {
                words.push(format!("--{key}"));
                words.push(parser.value().map_err(usage)?.string().map_err(usage)?);
            }
            Long(key) if Settings::is_key(key) => {
                let key = key.to_owned();
                let value = parser.value().map_err(usage)?.string().map_err(usage)?;
                overrides.push((key, value));
            }
            _ => return Err(usage(arg.unexpected())),
        }
    }
    let mut settings = Settings::default();
    let config_path = config
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
    let db_option = overrides
        .iter()
        .rev()
        .find(|(k, _)| k == "db")
        .map(|(_, v)| v.as_str());
    let init_db = InitDbHint::new(db_option, config.as_deref());
    if help {
        return Ok(ServerArgs {
            settings,
            demo,
            help,
            check,
            config_path,
            init_db,
            forget,
            demo_dir: None,
            words,
        });
    }
    if !demo {
        settings.apply_file(config.as_deref())?;
    }
    if let Ok(db) = std::env::var(DB_ENV)
        && !db.is_empty()
        && !demo
    {
        settings.set("db", &db).map_err(|message| ConfigError {
            origin: format!("${DB_ENV}"),
            message,
        })?;
    }
    let mut demo_dir = None;
    if demo {
        let dir = make_temp_dir("smss-demo-")?;
        demo_dir = Some(dir.clone());
        settings.db = format!("sqlite://{}", dir.join("smss.db").display());
        settings.device = "sim".into();
        settings.listen = "127.0.0.1:2021".into();
        settings.lock_dir = dir;
        settings.poll_interval = std::time::Duration::from_secs(2);
        settings.web_listen = Some(crate::web::DEMO_LISTEN.into());
    }
    for (key, value) in overrides {
        settings.set(&key, &value).map_err(|message| ConfigError {
            origin: format!("--{key}"),
            message,
        })?;
    }
    Ok(ServerArgs {
        settings,
        demo,
        help,
        check,
        config_path,
        init_db,
        forget,
        demo_dir,
        words,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(Into::into).collect()
    }

    /// What `smss <command>: ` is followed by on stderr, for the errors the
    /// integration tests do not provoke.
    #[test]
    fn error_texts() {
        let io = |kind: io::ErrorKind| io::Error::new(kind, "oops");
        let cases = [
            (
                CliError::Listen {
                    addr: "0.0.0.0:2021".into(),
                    source: io(io::ErrorKind::AddrInUse),
                },
                "cannot listen on 0.0.0.0:2021: oops (is another smss serve running? see listen)",
            ),
            (
                CliError::Listen {
                    addr: "0.0.0.0:2021".into(),
                    source: io(io::ErrorKind::PermissionDenied),
                },
                "cannot listen on 0.0.0.0:2021: oops",
            ),
            (
                CliError::log_file(
                    Path::new("/var/log/x.log"),
                    io(io::ErrorKind::PermissionDenied),
                ),
                "cannot open the log file /var/log/x.log: oops (run as the smss user, or set log-file)",
            ),
            (
                CliError::log_file(Path::new("/var/log/x.log"), io(io::ErrorKind::Other)),
                "cannot open the log file /var/log/x.log: oops (set log-file to another file, or to none)",
            ),
            (
                CliError::LockDir("/run/nowhere".into()),
                "lock-dir /run/nowhere is not a directory",
            ),
            (
                CliError::NoModem("/etc/smss/smss.conf".into()),
                "device is not set: set device in /etc/smss/smss.conf (the modem's serial port, \
                 e.g. /dev/ttyUSB0; several separated by commas; sim = the simulated modem)",
            ),
            (
                CliError::Io {
                    what: "cannot start the simulated modem".into(),
                    source: io(io::ErrorKind::Other),
                },
                "cannot start the simulated modem: oops",
            ),
            (CliError::Thread(io(io::ErrorKind::Other)), "oops"),
            (
                CliError::Web("web-listen x: no address".into()),
                "web-listen x: no address",
            ),
            (
                CliError::EmptyPassword,
                "empty password: give it on standard input",
            ),
            (
                CliError::Store(StoreError::unavailable("gone")),
                "database unavailable: gone",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
            assert_eq!(e.exit_code(), 1);
        }
    }

    #[test]
    fn command_line_wins_over_the_file() {
        let dir = std::env::temp_dir().join(format!("smss-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("smss.conf");
        std::fs::write(&conf, "max-parts = 3\nbaud = 115200\n").unwrap();
        let parsed = parse_server_args(
            "serve",
            args(&["--config", conf.to_str().unwrap(), "--max-parts", "4"]),
        )
        .unwrap();
        assert_eq!(parsed.settings.max_parts, 4);
        assert_eq!(parsed.settings.baud, 115200);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_values_name_the_option() {
        let e = parse_server_args(
            "serve",
            args(&["--config", "/dev/null", "--max-parts", "x"]),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "--max-parts: 'x' should be a whole number from 1 to 255"
        );
        let e = parse_server_args("serve", args(&["--bogus", "1"])).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn missing_explicit_config_is_an_error() {
        let e =
            parse_server_args("serve", args(&["--config", "/nonexistent/smss.conf"])).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent/smss.conf: cannot read"),
            "{e}"
        );
    }

    #[test]
    fn init_db_hints_can_be_run_as_printed() {
        let hint = |db: Option<&str>, config: Option<&str>| {
            InitDbHint::new(db, config.map(Path::new)).to_string()
        };
        assert_eq!(hint(None, None), "run `smss init-db`");
        assert_eq!(
            hint(None, Some("/etc/smss/other.conf")),
            "run `smss init-db --config /etc/smss/other.conf`"
        );
        assert_eq!(
            hint(Some("mysql://smss:secret@localhost/sms?pool_max=2"), None),
            "run `smss init-db --db 'mysql://smss:***@localhost/sms?pool_max=2'` \
             (with the password in place of ***)"
        );
        assert_eq!(
            hint(Some("sqlite:///var/lib/smss/smss.db"), Some("/dev/null")),
            "run `smss init-db --db sqlite:///var/lib/smss/smss.db --config /dev/null`"
        );
        assert_eq!(shell_word("it's"), "'it'\\''s'");
    }

    #[test]
    fn help_lists_every_key() {
        let h = help_text(None);
        assert!(h.contains("--config PATH"));
        for setting in SETTINGS {
            assert!(
                h.contains(&format!("--{} ", setting.name)),
                "{}",
                setting.name
            );
        }
    }
}
