//! The server-side commands: `serve`, `send-pending`, `init-db`, `status`.

use std::io::IsTerminal;
use std::net::ToSocketAddrs;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;

use log::LevelFilter;
use simplelog::{CombinedLogger, ConfigBuilder, SharedLogger, WriteLogger};

use crate::cli::{CliError, ServerArgs};
use crate::config::{DEFAULT_LOG_FILE, Settings};
use crate::intake::{self, Intake, Wake};
use crate::listener::Listener;
use crate::lock::{self, LockError, ModemLock};
use crate::outbox::Outbox;
use crate::server;
use crate::sim::{PtySim, SimState};
use crate::store::{self, ModemHealth, Store};

pub fn run(command: &str, args: ServerArgs) -> Result<ExitCode, CliError> {
    let settings = args.settings;
    // The terminal gets everything when someone watches it; from cron or a
    // script only problems (cron mails them).
    let interactive = |level: LevelFilter| {
        if std::io::stderr().is_terminal() {
            level
        } else {
            LevelFilter::Warn
        }
    };
    match command {
        "serve" if args.check => {
            init_logging(&settings, LevelFilter::Warn, false)?;
            check(&settings)
        }
        "serve" => {
            // In the foreground: systemd (or whoever started it) keeps stderr.
            init_logging(&settings, LevelFilter::Trace, true)?;
            serve(settings, args.demo)
        }
        "send-pending" => {
            init_logging(&settings, interactive(LevelFilter::Trace), true)?;
            send_pending(settings)
        }
        "init-db" => {
            init_logging(&settings, interactive(LevelFilter::Info), false)?;
            init_db(&settings)
        }
        _ => {
            init_logging(&settings, LevelFilter::Warn, false)?;
            status(&settings)
        }
    }
}

fn failed(e: impl std::fmt::Display) -> CliError {
    CliError::Failed(e.to_string())
}

/// The terminal (stderr) gets the configured level, capped at
/// `terminal_max`; with `to_file`, the log file gets the configured level.
/// A log file that cannot be opened is an error, except the default one,
/// which is only warned about (a fresh machine, a developer's run).
fn init_logging(
    settings: &Settings,
    terminal_max: LevelFilter,
    to_file: bool,
) -> Result<(), CliError> {
    let config = ConfigBuilder::new()
        .set_time_format_rfc3339()
        .set_thread_level(LevelFilter::Off)
        .set_target_level(LevelFilter::Off)
        // tiny_http's own lines name its internal socket, not the web port
        .add_filter_ignore_str("tiny_http")
        .build();
    let mut loggers: Vec<Box<dyn SharedLogger>> = vec![WriteLogger::new(
        settings.log_level.min(terminal_max),
        config.clone(),
        std::io::stderr(),
    )];
    if let Some(path) = settings.log_file.as_ref().filter(|_| to_file) {
        match open_log_file(path) {
            Ok(file) => loggers.push(WriteLogger::new(settings.log_level, config, file)),
            Err(e) if path == Path::new(DEFAULT_LOG_FILE) => {
                eprintln!("smss: warning: {e}; logging to the terminal only");
            }
            Err(e) => return Err(failed(e)),
        }
    }
    // A second init (tests calling twice) keeps the first logger.
    let _ = CombinedLogger::init(loggers);
    Ok(())
}

/// Opens the log file for appending, or says what to do about it.
fn open_log_file(path: &Path) -> Result<std::fs::File, String> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| {
            let dir = path.parent().unwrap_or(Path::new("/"));
            let hint = match e.kind() {
                std::io::ErrorKind::PermissionDenied => {
                    " (run as the smss user, or set log-file)".to_owned()
                }
                std::io::ErrorKind::NotFound if !dir.is_dir() => format!(
                    " (the directory {} does not exist: create it, e.g. with make install-user, or set log-file)",
                    dir.display()
                ),
                _ => " (set log-file to another file, or to none)".to_owned(),
            };
            format!("cannot open the log file {}: {e}{hint}", path.display())
        })
}

fn open_store(settings: &Settings) -> Result<Arc<dyn Store>, CliError> {
    // The embedded store creates its schema itself; a MySQL schema is the
    // administrator's to create with `init-db`.
    let create = settings.db.starts_with("sqlite:");
    store::open(&settings.db, create).map_err(failed)
}

/// The simulator for `device = sim`, and the path to open.
fn modem_port(settings: &Settings) -> Result<(Option<PtySim>, String), CliError> {
    if settings.device == "sim" {
        let sim = PtySim::start_with(SimState {
            send_delay: settings.sim_delay,
            ..SimState::default()
        })
        .map_err(|e| failed(format!("cannot start the simulated modem: {e}")))?;
        let path = sim.path.display().to_string();
        log::info!("simulated modem on {path}");
        Ok((Some(sim), path))
    } else {
        Ok((None, settings.device.clone()))
    }
}

/// One modem of `serve`: its lock, its simulator (for `sim`), its settings.
struct ModemSlot {
    lock: ModemLock,
    /// Kept alive as long as `serve` runs.
    _sim: Option<PtySim>,
    settings: Settings,
    port_path: String,
}

fn serve(settings: Settings, demo: bool) -> Result<ExitCode, CliError> {
    let store = open_store(&settings)?;
    let mut modems = Vec::new();
    for s in settings.per_device() {
        let lock = ModemLock::try_acquire(&s.lock_dir, &s.device, "smss serve").map_err(failed)?;
        let (sim, port_path) = modem_port(&s)?;
        modems.push(ModemSlot {
            lock,
            _sim: sim,
            settings: s,
            port_path,
        });
    }
    if modems.is_empty() {
        return Err(failed("no modem: set device (several separated by commas)"));
    }
    // Port 2021 and the modem threads share the stop flag.
    let stop = Arc::new(AtomicBool::new(false));
    let listener = Listener::bind(&settings.listen, Arc::clone(&stop)).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            " (is another smss serve running? see listen)"
        } else {
            ""
        };
        failed(format!("cannot listen on {}: {e}{hint}", settings.listen))
    })?;
    let local = listener.addr();

    let (wake_tx, wake_rx) = mpsc::channel::<Wake>();
    {
        let stop = Arc::clone(&stop);
        let stopper = listener.stopper();
        let wake = wake_tx.clone();
        ctrlc::set_handler(move || {
            // The flag first; then wake the idle modem threads, and the
            // accept() of port 2021, so that they see it.
            stop.store(true, Ordering::SeqCst);
            let _ = wake.send(Wake::Queued);
            stopper.stop();
        })
        .map_err(|e| failed(format!("cannot install the signal handler: {e}")))?;
    }

    // One thread per modem, each woken through a channel of its own; the
    // wake relay hands every wake-up to all of them.
    let mut modem_threads = Vec::new();
    let mut modem_wakes = Vec::new();
    for (i, slot) in modems.iter().enumerate() {
        let stop = Arc::clone(&stop);
        let mut outbox = Outbox::new(
            Arc::clone(&store),
            slot.settings.clone(),
            slot.port_path.clone(),
        );
        modem_wakes.push(outbox.waker());
        modem_threads.push(
            thread::Builder::new()
                .name(format!("modem {i}"))
                .spawn(move || outbox.run(stop))
                .map_err(failed)?,
        );
    }
    thread::Builder::new()
        .name("wake relay".into())
        .spawn(move || intake::relay_wakes(wake_rx, modem_wakes))
        .map_err(failed)?;

    // Every way in queues through the same intake.
    let intake = Intake::new(Arc::clone(&store), wake_tx, settings.max_parts);
    // The web interface, when configured (its own listener and threads).
    let web =
        crate::web::start(settings.clone(), Arc::clone(&store), intake.clone()).map_err(failed)?;
    let devices: Vec<&str> = modems.iter().map(|m| m.settings.device.as_str()).collect();
    let locks: Vec<String> = modems
        .iter()
        .map(|m| m.lock.path().display().to_string())
        .collect();
    log::info!(
        "smss {} listening on {local} (database {}, modem {}, lock {})",
        env!("CARGO_PKG_VERSION"),
        store.backend(),
        devices.join(", "),
        locks.join(", ")
    );
    if demo {
        log::info!("demo: try  smss client -a {local} '#420608337726;Hello from smss'");
    }
    server::run(listener, intake, settings);
    if let Some(web) = web {
        web.shutdown();
    }
    log::info!("stopping: waiting for the modem threads to finish their current message");
    for t in modem_threads {
        let _ = t.join();
    }
    drop(modems);
    log::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

fn send_pending(settings: Settings) -> Result<ExitCode, CliError> {
    let mut result = Ok(ExitCode::SUCCESS);
    for s in settings.per_device() {
        // Each modem on its own; a problem with one does not stop the others.
        if let Err(e) = send_pending_one(s) {
            log::error!("{e}");
            result = Err(e);
        }
    }
    result
}

fn send_pending_one(settings: Settings) -> Result<(), CliError> {
    let lock =
        match ModemLock::try_acquire(&settings.lock_dir, &settings.device, "smss send-pending") {
            Ok(lock) => lock,
            Err(LockError::Held { holder, .. }) => {
                println!(
                    "smss send-pending: nothing to do, {holder} holds the modem {}",
                    settings.device
                );
                return Ok(());
            }
            Err(e) => return Err(failed(e)),
        };
    let store = open_store(&settings)?;
    let (sim, port_path) = modem_port(&settings)?;
    let device = settings.device.clone();
    let mut outbox = Outbox::new(store, settings, port_path);
    let summary = outbox.run_once().map_err(failed)?;
    log::info!(
        "send-pending: {} sent, {} failed, {} to retry later; {} received, {} delivery reports (modem {device})",
        summary.sent,
        summary.failed,
        summary.retried,
        summary.received.stored,
        summary.received.reports
    );
    outbox.wait_for_hooks();
    drop(sim);
    drop(lock);
    Ok(())
}

fn init_db(settings: &Settings) -> Result<ExitCode, CliError> {
    let store = store::open(&settings.db, true).map_err(failed)?;
    println!(
        "smss init-db: {} schema is at version {}",
        store.backend(),
        store::SCHEMA_VERSION
    );
    Ok(ExitCode::SUCCESS)
}

/// `smss status`: prints the state of the queue, the modem and the lock;
/// exit status 1 (with the reasons) when something needs attention.
fn status(settings: &Settings) -> Result<ExitCode, CliError> {
    let mut attention: Vec<String> = Vec::new();
    let shown_db = redact(&settings.db);
    let store = match store::open(&settings.db, false) {
        Err(e) => {
            println!("database:   {shown_db}: unusable");
            attention.push(format!("the database cannot be used: {e}"));
            None
        }
        Ok(store) => {
            println!(
                "database:   {} ({shown_db}), schema version {}",
                store.backend(),
                store::SCHEMA_VERSION
            );
            if let Err(e) = status_of_store(&*store, settings, &mut attention) {
                attention.push(format!("the database stopped answering: {e}"));
            }
            Some(store)
        }
    };
    for device in settings.devices() {
        let lock_path = lock::lock_path(&settings.lock_dir, &device);
        match lock::holder(&settings.lock_dir, &device) {
            Ok(Some(holder)) => println!("modem lock: {} held by {holder}", lock_path.display()),
            Ok(None) => println!(
                "modem lock: {} free (neither serve nor send-pending uses {device})",
                lock_path.display(),
            ),
            Err(e) => println!("modem lock: {e}"),
        }
    }
    if let Some(store) = store
        && let Err(e) = print_recent(&*store)
    {
        attention.push(format!("the database stopped answering: {e}"));
    }
    if attention.is_empty() {
        println!("status:     OK");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("status:     ATTENTION");
        for reason in &attention {
            println!("  - {reason}");
        }
        Ok(ExitCode::FAILURE)
    }
}

fn status_of_store(
    store: &dyn Store,
    settings: &Settings,
    attention: &mut Vec<String>,
) -> Result<(), store::StoreError> {
    let queue = store.queue_stats()?;
    match (&queue.oldest, queue.oldest_age_secs) {
        (Some(oldest), Some(age)) => {
            println!(
                "queue:      {} waiting, the oldest since {oldest} UTC ({} ago)",
                queue.depth,
                human_secs(age)
            );
            let max = settings.max_queue_age;
            if !max.is_zero() && age > max.as_secs() as i64 {
                attention.push(format!(
                    "the oldest queued message has waited {} (max-queue-age {}): \
                     is smss serve (or the cron send-pending) running, and the modem working?",
                    human_secs(age),
                    human_secs(max.as_secs() as i64)
                ));
            }
        }
        _ => println!("queue:      {} waiting", queue.depth),
    }
    let day = store.activity_since(std::time::Duration::from_secs(86_400))?;
    println!(
        "last 24 h:  {} sent, {} failed, {} received",
        day.sent, day.failed, day.received
    );
    match store.last_sent()? {
        Some((row, age)) => println!(
            "last sent:  #{} to {}, {} UTC ({} ago)",
            row.id,
            row.phone,
            row.sent_at.as_deref().unwrap_or("?"),
            human_secs(age)
        ),
        None => println!("last sent:  nothing yet"),
    }
    let modems = store.modem_health()?;
    if modems.is_empty() {
        println!("modem:      no health recorded (smss serve records it; send-pending does not)");
    }
    // serve records about once a minute, between passes of the queue.
    let stale_after = settings
        .health_max_age
        .max(settings.poll_interval + std::time::Duration::from_secs(60))
        .as_secs() as i64;
    for m in &modems {
        println!("modem:      {}", describe_modem(m));
        if m.checked_age_secs > stale_after {
            attention.push(format!(
                "modem {}: last checked {} ago by pid {} (health-max-age {}): \
                 is smss serve running there? (for an instance gone for good: \
                 DELETE FROM modem WHERE instance = '{}')",
                m.instance,
                human_secs(m.checked_age_secs),
                m.pid,
                human_secs(settings.health_max_age.as_secs() as i64),
                m.instance
            ));
        } else if !m.healthy {
            attention.push(format!(
                "modem {}: {}",
                m.instance,
                m.last_error.as_deref().unwrap_or("not healthy")
            ));
        }
    }
    Ok(())
}

fn print_recent(store: &dyn Store) -> Result<(), store::StoreError> {
    let recent = store.recent_sms(5)?;
    if !recent.is_empty() {
        println!("recent:");
        for row in recent {
            let when = row.sent_at.as_deref().unwrap_or(&row.queued_at);
            let detail = match &row.error {
                Some(e) => format!("failed: {e}"),
                None => format!("{} part(s), mr {}", row.parts, row.part_refs),
            };
            println!(
                "  #{} {when} {} {} [{detail}] {}",
                row.id, row.status, row.phone, row.text
            );
        }
    }
    Ok(())
}

/// One line about a modem row: `host:/dev/ttyS0: OK, SIEMENS TC35i, signal
/// 21 (-71 dBm), home, T-Mobile CZ; checked 12s ago by pid 1234; ...`.
fn describe_modem(m: &ModemHealth) -> String {
    let mut s = format!(
        "{}: {}",
        m.instance,
        if m.healthy { "OK" } else { "NOT OK" }
    );
    let model = format!("{} {}", m.manufacturer, m.model);
    if !model.trim().is_empty() {
        s.push_str(&format!(", {}", model.trim()));
    }
    match m.rssi {
        Some(99) => s.push_str(", signal unknown"),
        Some(r) => s.push_str(&format!(
            ", signal {r}/31 ({} dBm)",
            crate::modem::rssi_dbm(r).unwrap_or(0)
        )),
        None => {}
    }
    if let Some(r) = &m.registration {
        s.push_str(&format!(", {r}"));
    }
    if let Some(o) = &m.operator {
        s.push_str(&format!(", operator {o}"));
    }
    if let Some(e) = m.last_error.as_ref().filter(|_| !m.healthy) {
        s.push_str(&format!(" ({e})"));
    }
    s.push_str(&format!(
        "; checked {} ago by pid {}",
        human_secs(m.checked_age_secs),
        m.pid
    ));
    if let Some(t) = &m.last_send_ok {
        s.push_str(&format!("; last sent {t} UTC"));
    }
    s
}

/// `75` → `1m 15s`; `90000` → `1d 1h`.
fn human_secs(secs: i64) -> String {
    let secs = secs.max(0);
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) if s == 0 => format!("{m}m"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// `smss serve --check`: what `serve` needs at start, checked as the user
/// who runs it, without starting anything (a running serve is not
/// disturbed). The init script runs it before start and restart.
fn check(settings: &Settings) -> Result<ExitCode, CliError> {
    if let Some(path) = &settings.log_file {
        open_log_file(path).map_err(failed)?;
    }
    let store = open_store(settings)?;
    settings
        .listen
        .to_socket_addrs()
        .map_err(|e| failed(format!("listen = {}: {e}", settings.listen)))?;
    if !settings.lock_dir.is_dir() {
        return Err(failed(format!(
            "lock-dir {} is not a directory",
            settings.lock_dir.display()
        )));
    }
    println!(
        "smss serve --check: configuration OK (database {} {}, modem {}, listen {}, log {})",
        store.backend(),
        redact(&settings.db),
        settings.device,
        settings.listen,
        settings
            .log_file
            .as_deref()
            .map_or("terminal only".into(), |p| p.display().to_string())
    );
    for device in settings.devices() {
        if device != "sim" && !Path::new(&device).exists() {
            println!(
                "note: {device} does not exist now; serve starts anyway and waits for the modem"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The database URL without its password, for display.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// `smss hash-password`: reads a password (the first line of standard
/// input) and prints its Argon2id hash for `web-password-hash`.
pub fn hash_password() -> Result<ExitCode, CliError> {
    use std::io::BufRead;
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password (shown as you type): ");
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| failed(format!("cannot read the password: {e}")))?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        return Err(failed("empty password: give it on standard input"));
    }
    let hash = crate::password::hash(password).map_err(failed)?;
    println!("{hash}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_for_people() {
        let h = super::human_secs;
        assert_eq!(
            [h(0), h(59), h(60), h(75), h(3600 + 120), h(90_000), h(-5)],
            ["0s", "59s", "1m", "1m 15s", "1h 2m", "1d 1h", "0s"]
        );
    }

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            super::redact("mysql://sms:secret@db:3306/sms"),
            "mysql://sms:***@db:3306/sms"
        );
        assert_eq!(
            super::redact("sqlite:///var/lib/smss/smss.db"),
            "sqlite:///var/lib/smss/smss.db"
        );
    }
}
