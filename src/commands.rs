//! The server-side commands: `serve`, `send-pending`, `init-db`, `status`.

use std::io::IsTerminal;
use std::net::ToSocketAddrs;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use log::LevelFilter;
use simplelog::{CombinedLogger, ConfigBuilder, SharedLogger, WriteLogger};

use crate::cli::{CliError, InitDbHint, ServerArgs, shell_word};
use crate::config::{DEFAULT_LOG_FILE, Settings};
use crate::intake::{self, Intake, Wake};
use crate::listener::Listener;
use crate::lock::{self, LockError, ModemLock};
use crate::modem::{Modem, SimPin};
use crate::outbox::Outbox;
use crate::printable::escape;
use crate::secret::redact_url;
use crate::server;
use crate::sim::{PtySim, SimState};
use crate::spool::Spool;
use crate::store::{self, ModemHealth, Store};

/// The log target of lines for the log file only: a fatal error is logged
/// with it, and printed to stderr once by `run::server_main`.
pub const LOG_FILE_ONLY: &str = "smss::log_file_only";

pub fn run(command: &str, args: ServerArgs) -> Result<ExitCode, CliError> {
    let demo_dir = args.demo_dir.clone();
    let result = run_command(command, args);
    // --demo: its database, lock and simulator's files go with it
    if let Some(dir) = demo_dir
        && let Err(e) = std::fs::remove_dir_all(&dir)
    {
        eprintln!("smss: cannot remove {}: {e}", dir.display());
    }
    result
}

fn run_command(command: &str, args: ServerArgs) -> Result<ExitCode, CliError> {
    let settings = args.settings;
    let config = args.config_path;
    let hint = args.init_db;
    crate::owner::set_service_user(settings.service_user.as_deref());
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
            check(&settings, &config, &hint)
        }
        "serve" => {
            validate(&settings, &config)?;
            // In the foreground: systemd (or whoever started it) keeps stderr.
            init_logging(&settings, LevelFilter::Trace, true)?;
            serve(settings, args.demo, &hint)
        }
        "send-pending" => {
            if settings.devices().is_empty() {
                // Quiet for cron (stdout is discarded) until it is configured.
                println!(
                    "smss send-pending: nothing to do: {}",
                    CliError::NoModem(config)
                );
                return Ok(ExitCode::SUCCESS);
            }
            init_logging(&settings, interactive(LevelFilter::Trace), true)?;
            send_pending(settings, &hint)
        }
        "init-db" => {
            init_logging(&settings, interactive(LevelFilter::Info), false)?;
            init_db(&settings)
        }
        "probe" => {
            init_logging(&settings, interactive(LevelFilter::Warn), false)?;
            probe(&settings)
        }
        "group" | "token" | "checkin" => {
            init_logging(&settings, LevelFilter::Warn, false)?;
            if command == "group" {
                crate::manage::group(&settings, &hint, &args.words)
            } else if command == "checkin" {
                crate::manage::checkin(&settings, &hint, &args.words)
            } else {
                crate::manage::token(&settings, &hint, &args.words)
            }
        }
        _ => {
            init_logging(&settings, LevelFilter::Warn, false)?;
            match &args.forget {
                Some(name) => forget(&settings, name, &hint),
                None => status(&settings, &config, &hint),
            }
        }
    }
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
    let mut builder = ConfigBuilder::new();
    builder
        .set_time_format_rfc3339()
        .set_thread_level(LevelFilter::Off)
        .set_target_level(LevelFilter::Off)
        // tiny_http's own lines name its internal socket, not the web port
        .add_filter_ignore_str("tiny_http");
    let config = builder.build();
    // Not on the terminal: what goes to the log file only (a fatal error,
    // which main prints).
    let terminal = builder.add_filter_ignore_str(LOG_FILE_ONLY).build();
    let mut loggers: Vec<Box<dyn SharedLogger>> = vec![WriteLogger::new(
        settings.log_level.min(terminal_max),
        terminal,
        std::io::stderr(),
    )];
    if let Some(path) = settings.log_file.as_ref().filter(|_| to_file) {
        match open_log_file(path) {
            Ok(file) => loggers.push(WriteLogger::new(settings.log_level, config, file)),
            Err(e) if path == Path::new(DEFAULT_LOG_FILE) => {
                eprintln!("smss: warning: {e}; logging to the terminal only");
            }
            Err(e) => return Err(e),
        }
    }
    // A second init (tests calling twice) keeps the first logger.
    let _ = CombinedLogger::init(loggers);
    Ok(())
}

/// Opens the log file for appending; the error says what to do about it.
/// A new log file is made 0640 (like the config) and, when running as
/// root, given to the service user.
fn open_log_file(path: &Path) -> Result<std::fs::File, CliError> {
    use std::os::unix::fs::OpenOptionsExt;
    let open = || std::fs::OpenOptions::new().append(true).open(path);
    let file = match open() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match std::fs::OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o640)
            .open(path)
        {
            Ok(file) => crate::owner::adopt(path).map(|()| file),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => open(),
            Err(e) => Err(e),
        },
        other => other,
    };
    file.map_err(|e| CliError::log_file(path, e))
}

fn open_store(settings: &Settings, hint: &InitDbHint) -> Result<Arc<dyn Store>, CliError> {
    // The embedded store creates its schema itself; a MySQL schema is the
    // administrator's to create with `init-db`.
    let create = store::sqlite_path(&settings.db).is_some();
    store::open(&settings.db, create).map_err(|e| CliError::store(e, hint))
}

/// What `serve` refuses before it touches anything (files, ports, the
/// modem), and `serve --check` first: no device, a device that is not a
/// serial port, an address that is none, the web interface on a network
/// without a password, no lock directory.
fn validate(settings: &Settings, config: &Path) -> Result<(), CliError> {
    if settings.devices().is_empty() {
        return Err(CliError::NoModem(config.to_owned()));
    }
    for device in settings.devices() {
        check_device(&device)?;
    }
    settings
        .listen
        .to_socket_addrs()
        .map_err(|source| CliError::ListenAddress {
            addr: settings.listen.clone(),
            source,
        })?;
    crate::web::listen_address(settings).map_err(CliError::Web)?;
    if !settings.lock_dir.is_dir() {
        return Err(CliError::LockDir(settings.lock_dir.clone()));
    }
    Ok(())
}

/// A device that exists must be a character device: a regular file or a
/// directory is a mistake, told before any port is touched. (One that does
/// not exist yet is a modem not plugged in: serve waits for it.)
fn check_device(device: &str) -> Result<(), CliError> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata(device) {
        Ok(m) if device != "sim" && !m.file_type().is_char_device() => {
            Err(CliError::NotSerialPort(device.to_owned()))
        }
        _ => Ok(()),
    }
}

/// The simulator for `device = sim`, and the path to open.
fn modem_port(settings: &Settings) -> Result<(Option<PtySim>, String), CliError> {
    if settings.device == "sim" {
        let profile = settings.sim_profile;
        let sim = PtySim::start_with(SimState {
            send_delay: settings.sim_delay,
            memories: crate::sim::memories_of(profile),
            profile,
            ..SimState::default()
        })
        .map_err(|source| CliError::Io {
            what: "cannot start the simulated modem".into(),
            source,
        })?;
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

fn serve(settings: Settings, demo: bool, hint: &InitDbHint) -> Result<ExitCode, CliError> {
    // A MySQL database that is down now does not keep serve from starting:
    // what it accepts goes to the local spool until the database answers.
    let (store, schema_checked) = if store::sqlite_path(&settings.db).is_some() {
        (open_store(&settings, hint)?, true)
    } else {
        store::open_or_defer(&settings.db).map_err(|e| CliError::store(e, hint))?
    };
    let spool = match store.backend() {
        "mysql" => Some(Arc::new(
            Spool::open(&settings.spool).map_err(|e| CliError::store(e, hint))?,
        )),
        _ => None,
    };
    let mut modems = Vec::new();
    for s in settings.per_device() {
        let lock = ModemLock::try_acquire(&s.lock_dir, &s.device, "smss serve")?;
        let (sim, port_path) = modem_port(&s)?;
        modems.push(ModemSlot {
            lock,
            _sim: sim,
            settings: s,
            port_path,
        });
    }
    // Port 2021 and the modem threads share the stop flag.
    let stop = Arc::new(AtomicBool::new(false));
    let listener =
        Listener::bind(&settings.listen, Arc::clone(&stop)).map_err(|source| CliError::Listen {
            addr: settings.listen.clone(),
            source,
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
        .map_err(CliError::Signal)?;
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
        if let Some(spool) = &spool {
            outbox = outbox.with_spool(Arc::clone(spool));
        }
        modem_wakes.push(outbox.waker());
        modem_threads.push(
            thread::Builder::new()
                .name(format!("modem {i}"))
                .spawn(move || outbox.run(stop))
                .map_err(CliError::Thread)?,
        );
    }
    thread::Builder::new()
        .name("wake relay".into())
        .spawn(move || intake::relay_wakes(wake_rx, modem_wakes))
        .map_err(CliError::Thread)?;

    // Every way in queues through the same intake.
    let mut intake = Intake::new(
        Arc::clone(&store),
        wake_tx.clone(),
        settings.max_parts,
        settings.max_recipients,
    )
    .with_coalesce_window(settings.coalesce_window);
    if let Some(spool) = &spool {
        intake = intake.with_spool(Arc::clone(spool));
        let spool = Arc::clone(spool);
        let main = Arc::clone(&store);
        let check = (!schema_checked).then(|| settings.db.clone());
        let every = settings.spool_retry.max(Duration::from_millis(100));
        let copy_every = settings.spool_copy_every;
        let stop = Arc::clone(&stop);
        // Not joined at the end: a move cut short is moved again (once)
        // by the next serve.
        thread::Builder::new()
            .name("spool reconcile".into())
            .spawn(move || spool.reconcile(&*main, check, every, copy_every, &wake_tx, &stop))
            .map_err(CliError::Thread)?;
    }
    // Check-ins and the heartbeat: no modem needed, only the queue.
    {
        let intake = intake.clone();
        let settings = Arc::new(settings.clone());
        let stop = Arc::clone(&stop);
        thread::Builder::new()
            .name("pager".into())
            .spawn(move || crate::pager::run(intake, settings, stop))
            .map_err(CliError::Thread)?;
    }
    // The web interface, when configured (its own listener and threads).
    let web = crate::web::start(settings.clone(), Arc::clone(&store), intake.clone())
        .map_err(CliError::Web)?;
    let devices: Vec<&str> = modems.iter().map(|m| m.settings.device.as_str()).collect();
    let locks: Vec<String> = modems
        .iter()
        .map(|m| m.lock.path().display().to_string())
        .collect();
    let spool_note = spool
        .as_ref()
        .map(|s| format!(", spool {}", s.path().display()))
        .unwrap_or_default();
    log::info!(
        "smss {} listening on {local} (database {}{spool_note}, modem {}, lock {})",
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

fn send_pending(settings: Settings, hint: &InitDbHint) -> Result<ExitCode, CliError> {
    let mut failed: Option<CliError> = None;
    for s in settings.per_device() {
        // Each modem on its own; a problem with one does not stop the
        // others. Each error is printed once: the last by main.
        if let Err(e) = send_pending_one(s, hint)
            && let Some(earlier) = failed.replace(e)
        {
            log::error!("{earlier}");
        }
    }
    failed.map_or(Ok(ExitCode::SUCCESS), Err)
}

fn send_pending_one(settings: Settings, hint: &InitDbHint) -> Result<(), CliError> {
    check_device(&settings.device)?;
    let store = open_store(&settings, hint)?;
    // Nothing queued and nothing found by the last pass: the port is
    // opened again (to read what arrived) only after poll-interval.
    if store.queue_stats()?.depth == 0
        && let Some(ago) = lock::idle_for(&settings.lock_dir, &settings.device)
        && ago < settings.poll_interval
    {
        if let Ok(Some(holder)) = lock::holder(&settings.lock_dir, &settings.device) {
            println!(
                "smss send-pending: nothing to do, {holder} holds the modem {}",
                settings.device
            );
            return Ok(());
        }
        log::info!(
            "send-pending: nothing queued, and modem {} had nothing to read {}s ago \
             (poll-interval {}s): not opening it",
            settings.device,
            ago.as_secs(),
            settings.poll_interval.as_secs()
        );
        return Ok(());
    }
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
            Err(e) => return Err(e.into()),
        };
    let (sim, port_path) = modem_port(&settings)?;
    let device = settings.device.clone();
    let mut outbox = Outbox::new(store, settings, port_path);
    // Until the pass ends well, the next one opens the port.
    let _ = lock::mark_idle(&lock, false);
    let summary = outbox.run_once()?;
    let r = &summary.received;
    let idle = summary.sent + summary.failed + summary.retried + r.stored + r.reports + r.deleted;
    if let Err(e) = lock::mark_idle(&lock, idle == 0) {
        log::warn!("cannot record the pass in {}: {e}", lock.path().display());
    }
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

/// `smss probe`: opens each modem, initialises it and prints what it
/// found; exit 1 when one could not be probed.
fn probe(settings: &Settings) -> Result<ExitCode, CliError> {
    let mut code = ExitCode::SUCCESS;
    for s in settings.per_device() {
        if let Err(e) = probe_one(&s) {
            println!("device:       {}\nnot probed:   {e}", s.device);
            code = ExitCode::from(1);
        }
    }
    Ok(code)
}

fn probe_one(settings: &Settings) -> Result<(), String> {
    let _lock = match ModemLock::try_acquire(&settings.lock_dir, &settings.device, "smss probe") {
        Ok(lock) => lock,
        Err(LockError::Held { holder, .. }) => {
            return Err(format!(
                "{holder} holds the modem; stop it first (service smss stop)"
            ));
        }
        Err(e) => return Err(e.to_string()),
    };
    let (_sim, port_path) = modem_port(settings).map_err(|e| e.to_string())?;
    let mut modem = Modem::open(&port_path, settings.baud, settings.command_timeout)
        .map_err(|e| e.to_string())?;
    let mut pin = settings
        .pin
        .as_deref()
        .map(|pin| SimPin::new(pin, &settings.lock_dir, &settings.device));
    let info = modem
        .init(pin.as_mut(), settings.smsc.as_deref())
        .map_err(|e| e.to_string())?;
    let mut probe = modem.probe(info).map_err(|e| e.to_string())?;
    probe.device = settings.device.clone();
    print!("{}", probe.report());
    Ok(())
}

fn init_db(settings: &Settings) -> Result<ExitCode, CliError> {
    let store = store::open(&settings.db, true)?;
    println!(
        "smss init-db: {} schema is at version {}",
        store.backend(),
        store::SCHEMA_VERSION
    );
    Ok(ExitCode::SUCCESS)
}

/// `smss status`: prints the state of the queue, the modem and the lock;
/// exit status 1 (with the reasons) when something needs attention.
fn status(settings: &Settings, config: &Path, hint: &InitDbHint) -> Result<ExitCode, CliError> {
    let mut attention: Vec<String> = Vec::new();
    let shown_db = redact_url(&settings.db);
    let store = match store::open(&settings.db, false) {
        Err(e) => {
            println!("database:   {shown_db}: unusable");
            attention.push(format!(
                "the database cannot be used: {}",
                CliError::store(e, hint)
            ));
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
    if settings.db.starts_with("mysql://") {
        status_of_spool(&settings.spool, &mut attention);
    }
    if settings.devices().is_empty() {
        println!("modem lock: none: {}", CliError::NoModem(config.to_owned()));
    }
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

/// The local spool of a MySQL setup: messages accepted while the
/// database was unreachable and not moved in yet need attention (is serve
/// running, does the database answer?).
fn status_of_spool(path: &Path, attention: &mut Vec<String>) {
    if !path.exists() {
        return;
    }
    let url = format!("sqlite://{}", path.display());
    // How many of them the modem sent from the spool (their outcomes wait
    // to be recorded in the database).
    let counts = store::open(&url, false).and_then(|s| {
        let sent = s
            .list_spooled_done(usize::MAX >> 1)?
            .iter()
            .filter(|m| m.status == store::SmsStatus::Sent.as_str())
            .count();
        Ok((s.count_spooled()?, sent))
    });
    match counts {
        Ok((0, _)) => println!("spool:      {} empty", path.display()),
        Ok((n, sent)) => {
            println!(
                "spool:      {} holds {n} message(s), {sent} sent from spool",
                path.display()
            );
            attention.push(format!(
                "{n} message(s) accepted while the database was unreachable wait in the local \
                 spool {}: serve moves them into the database when it answers",
                path.display()
            ));
        }
        Err(e) => {
            println!("spool:      {}: unreadable", path.display());
            attention.push(format!(
                "the local spool {} cannot be read: {e}",
                path.display()
            ));
        }
    }
}

/// `smss status --forget NAME`: deletes the health row of a sender gone
/// for good.
fn forget(settings: &Settings, name: &str, hint: &InitDbHint) -> Result<ExitCode, CliError> {
    let store = store::open(&settings.db, false).map_err(|e| CliError::store(e, hint))?;
    if !store.forget_modem(name)? {
        return Err(CliError::NoSuchModem(name.to_owned()));
    }
    println!(
        "smss status: forgot modem {name} (a sender of that name that runs again records a new row)"
    );
    Ok(ExitCode::SUCCESS)
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
    let totals = store.totals()?;
    println!(
        "storms:     {} urgent queued; {} repeats merged, {} suppressed, {} expired (all time)",
        totals.queued_urgent, totals.merged, totals.suppressed, totals.expired
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
        let stale = m.checked_age_secs > stale_after;
        if let Some(why) = retired(m, settings) {
            println!(
                "modem:      {}: retired ({why}; `smss status --forget {}` deletes the row)",
                m.instance,
                shell_word(&m.instance)
            );
            continue;
        }
        println!("modem:      {}", describe_modem(m));
        if stale {
            attention.push(format!(
                "modem {}: last checked {} ago by pid {} (health-max-age {}): \
                 is smss serve running there? (for a sender gone for good: \
                 smss status --forget {})",
                m.instance,
                human_secs(m.checked_age_secs),
                m.pid,
                human_secs(settings.health_max_age.as_secs() as i64),
                shell_word(&m.instance)
            ));
        } else if !m.healthy {
            attention.push(format!(
                "modem {}: {}",
                m.instance,
                m.last_error.as_deref().unwrap_or("not healthy")
            ));
        }
        for memory in &m.sim_memories {
            if let Some(what) = memory.attention() {
                attention.push(format!("modem {}: {what}", m.instance));
            }
        }
    }
    let checkins = store.checkins()?;
    if !checkins.is_empty() {
        let late = checkins.iter().filter(|c| c.late).count();
        println!("check-ins:  {}, {late} late", checkins.len());
    }
    let chains = store.escalations(true, 20)?;
    if !chains.is_empty() {
        println!("escalations: {} active", chains.len());
    }
    for c in &chains {
        println!(
            "  #{} @{} step {}/{} since {}: {}",
            c.id,
            c.group,
            c.step,
            c.members.len(),
            c.started,
            escape(&c.text)
        );
    }
    for c in checkins.iter().filter(|c| c.late) {
        use crate::pager::clock;
        attention.push(format!(
            "check-in {} is late: last {}, expected every {} (smss checkin list)",
            c.def.name,
            c.last_seen.map_or_else(|| "never".into(), clock::local),
            clock::human(c.def.every.as_secs())
        ));
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
                Some(e) => format!("failed: {}", escape(e)),
                None => format!("{} part(s), mr {}", row.parts, row.part_refs),
            };
            // the text came from a client: no line breaks or terminal escapes
            println!(
                "  #{} {when} {} {} [{detail}] {}",
                row.id,
                row.status,
                escape(&row.phone),
                escape(&row.text)
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
        s.push_str(&format!(", {}", escape(model.trim())));
    }
    match m.rssi {
        Some(99) => s.push_str(", signal unknown"),
        Some(r) => s.push_str(&format!(
            ", signal {r}/31 ({} dBm)",
            crate::modem::rssi_dbm(r).unwrap_or(0)
        )),
        None => {}
    }
    // what the modem and the network say is shown escaped too
    if let Some(r) = &m.registration {
        s.push_str(&format!(", {}", escape(r)));
    }
    if let Some(o) = &m.operator {
        s.push_str(&format!(", operator {}", escape(o)));
    }
    if let Some(e) = m.last_error.as_ref().filter(|_| !m.healthy) {
        s.push_str(&format!(" ({})", escape(e)));
    }
    if let Some(w) = &m.warnings {
        s.push_str(&format!("; warning: {}", w.replace('\n', "; ")));
    }
    if !m.sim_memories.is_empty() {
        let memories: Vec<String> = m.sim_memories.iter().map(|u| u.describe()).collect();
        s.push_str(&format!("; memory {}", escape(&memories.join(", "))));
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
/// Why a sender's `modem` row is retired (shown as such, not as a fault:
/// `status`, the web panel, `/metrics`), or `None`: not checked for
/// `health-retire-age`, or of this host by its default name for a device
/// no longer configured (the device was changed: the new one has a row of
/// its own) and not checked for `health-max-age`.
pub(crate) fn retired(m: &crate::store::ModemHealth, settings: &Settings) -> Option<String> {
    let retire_after = settings.health_retire_age.as_secs() as i64;
    let stale_after = settings
        .health_max_age
        .max(settings.poll_interval + std::time::Duration::from_secs(60))
        .as_secs() as i64;
    let host = crate::config::host_name().unwrap_or_else(|| "localhost".into());
    let former =
        m.instance == format!("{host}:{}", m.device) && !settings.devices().contains(&m.device);
    if retire_after > 0 && m.checked_age_secs > retire_after {
        Some(format!(
            "not checked for {} (health-retire-age {})",
            human_secs(m.checked_age_secs),
            human_secs(retire_after)
        ))
    } else if m.checked_age_secs > stale_after && former {
        Some(format!(
            "{} is not a device of this host's configuration now; last checked {} ago",
            m.device,
            human_secs(m.checked_age_secs)
        ))
    } else {
        None
    }
}

fn human_secs(secs: i64) -> String {
    let secs = secs.max(0);
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) if s == 0 => format!("{m}m"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        (_, 0, _) => format!("{d}d"),
        _ => format!("{d}d {h}h"),
    }
}

/// `smss serve --check`: everything `serve` checks and opens at start but
/// the threads, as the user who runs it, creating no file: [`validate`],
/// the log file, the database (opened as `serve` opens it; an SQLite file
/// not there yet must be creatable), the lock files, the ports. A running
/// serve is not disturbed: the ports and locks it holds are notes (a
/// restart replaces it); the init script runs this before start and restart.
fn check(settings: &Settings, config: &Path, hint: &InitDbHint) -> Result<ExitCode, CliError> {
    validate(settings, config)?;
    let mut notes: Vec<String> = Vec::new();
    if let Some(path) = &settings.log_file {
        match check_log_file(path) {
            Ok(()) => {}
            // serve only warns about the default log file, and logs to stderr
            Err(e) if path == Path::new(DEFAULT_LOG_FILE) => {
                notes.push(format!("{e}; serve logs to the terminal only"))
            }
            Err(e) => return Err(e),
        }
    }
    let backend = match store::sqlite_preflight(&settings.db) {
        Some(Ok(false)) => {
            notes.push(format!(
                "the database file {} does not exist yet: serve creates it",
                store::sqlite_path(&settings.db).unwrap_or("")
            ));
            "sqlite"
        }
        Some(Err(e)) => return Err(CliError::Store(e)),
        // open as serve does, but let serve create or upgrade an SQLite schema
        _ => match store::open(&settings.db, false) {
            Ok(store) => store.backend(),
            Err(e) if e.needs_init() && store::sqlite_path(&settings.db).is_some() => {
                notes.push(format!("{e}: serve upgrades it when it starts"));
                "sqlite"
            }
            // serve starts all the same (degraded, into the local spool), so
            // the init script's check must not keep it from starting at boot
            Err(e)
                if e.kind() == store::ErrorKind::Unavailable
                    && store::sqlite_path(&settings.db).is_none() =>
            {
                let spool = settings.spool.display().to_string();
                let spool_url = if settings.spool.is_absolute() {
                    format!("sqlite://{spool}")
                } else {
                    format!("sqlite:{spool}")
                };
                if let Some(Err(e)) = store::sqlite_preflight(&spool_url) {
                    return Err(CliError::Store(e));
                }
                notes.push(format!(
                    "{e}: serve starts degraded and keeps what it accepts in the local spool \
                     {spool} until the database answers"
                ));
                "mysql"
            }
            Err(e) => return Err(CliError::store(e, hint)),
        },
    };
    // The lock files: held by a running serve (a restart replaces it) or
    // usable by this user.
    let mut running: Option<String> = None;
    for device in settings.devices() {
        let path = lock::lock_path(&settings.lock_dir, &device);
        match lock::holder(&settings.lock_dir, &device)? {
            Some(holder) if holder.starts_with("smss serve") => {
                notes.push(format!(
                    "{holder} holds {device} now: a restart replaces it"
                ));
                running = Some(holder);
            }
            Some(holder) => notes.push(format!("{holder} holds {device} for the moment")),
            None => {}
        }
        if let Some(pin) = &settings.pin {
            let pin = SimPin::new(pin, &settings.lock_dir, &device);
            if pin.was_refused() {
                notes.push(format!(
                    "the SIM of {device} refused this pin before: serve does not enter it again \
                     (fix pin; to enter this same PIN once more, delete {})",
                    pin.record().display()
                ));
            }
        }
        if path.exists() {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(|error| LockError::Io {
                    path: path.clone(),
                    error,
                })?;
        } else if !crate::owner::writable(&settings.lock_dir) {
            return Err(CliError::CannotCreate {
                what: "the lock file".into(),
                path,
            });
        }
    }
    // The ports: bound for an instant, as serve binds them (its errors).
    let web = crate::web::listen_address(settings).map_err(CliError::Web)?;
    let ports = std::iter::once((settings.listen.clone(), false))
        .chain(web.map(|addr| (addr.to_string(), true)));
    for (addr, is_web) in ports {
        match std::net::TcpListener::bind(&addr) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && running.is_some() => {
                notes.push(format!(
                    "{addr} is in use, by {} presumably: a restart replaces it",
                    running.as_deref().unwrap_or("")
                ));
            }
            Err(e) if is_web => {
                return Err(CliError::Web(format!(
                    "cannot listen on {addr} (web-listen): {e}"
                )));
            }
            Err(source) => return Err(CliError::Listen { addr, source }),
        }
    }
    for device in settings.devices() {
        if device != "sim" && !Path::new(&device).exists() {
            notes.push(format!(
                "{device} does not exist now; serve starts anyway and waits for the modem"
            ));
        }
    }
    println!(
        "smss serve --check: configuration OK (database {backend} {}, modem {}, listen {}, log {})",
        redact_url(&settings.db),
        settings.device,
        settings.listen,
        settings
            .log_file
            .as_deref()
            .map_or("terminal only".into(), |p| p.display().to_string())
    );
    for note in notes {
        println!("note: {note}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The log file can be opened for appending, or created in its directory
/// (serve creates it; this does not).
fn check_log_file(path: &Path) -> Result<(), CliError> {
    match std::fs::OpenOptions::new().append(true).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let dir = path.parent().unwrap_or(Path::new("/"));
            if !dir.is_dir() {
                Err(CliError::log_file(path, e))
            } else if !crate::owner::writable(dir) {
                Err(CliError::CannotCreate {
                    what: "the log file".into(),
                    path: path.to_owned(),
                })
            } else {
                Ok(())
            }
        }
        Err(e) => Err(CliError::log_file(path, e)),
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
        .map_err(|source| CliError::Io {
            what: "cannot read the password".into(),
            source,
        })?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        return Err(CliError::EmptyPassword);
    }
    let hash = crate::password::hash(password).map_err(CliError::HashPassword)?;
    println!("{hash}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_for_people() {
        let h = super::human_secs;
        assert_eq!(
            [
                h(0),
                h(59),
                h(60),
                h(75),
                h(3600 + 120),
                h(90_000),
                h(86_400),
                h(-5)
            ],
            ["0s", "59s", "1m", "1m 15s", "1h 2m", "1d 1h", "1d", "0s"]
        );
    }
}
