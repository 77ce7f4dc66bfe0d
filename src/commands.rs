//! The server-side commands: `serve`, `send-pending`, `init-db`, `status`.

use std::io::IsTerminal;
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;

use log::LevelFilter;
use simplelog::{CombinedLogger, ConfigBuilder, SharedLogger, WriteLogger};

use crate::cli::{CliError, ServerArgs};
use crate::config::Settings;
use crate::lock::{LockError, ModemLock};
use crate::sender::{Sender, Wake};
use crate::server::{Limits, Server};
use crate::sim::{PtySim, SimState};
use crate::store::{self, Store};

pub fn run(command: &str, args: ServerArgs) -> Result<ExitCode, CliError> {
    let settings = args.settings;
    match command {
        "serve" => {
            init_logging(&settings, LevelFilter::Trace)?;
            serve(settings, args.demo)
        }
        "send-pending" => {
            // From cron: only problems on the terminal (cron mails them).
            let terminal = if std::io::stderr().is_terminal() {
                LevelFilter::Trace
            } else {
                LevelFilter::Warn
            };
            init_logging(&settings, terminal)?;
            send_pending(settings)
        }
        "init-db" => init_db(&settings),
        _ => status(&settings),
    }
}

fn failed(e: impl std::fmt::Display) -> CliError {
    CliError::Failed(e.to_string())
}

/// The log file (when configured) gets the configured level; the terminal
/// gets the same, capped at `terminal_max`.
fn init_logging(settings: &Settings, terminal_max: LevelFilter) -> Result<(), CliError> {
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
    if let Some(path) = &settings.log_file {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| failed(format!("cannot open the log file {}: {e}", path.display())))?;
        loggers.push(WriteLogger::new(settings.log_level, config, file));
    }
    // A second init (tests calling twice) keeps the first logger.
    let _ = CombinedLogger::init(loggers);
    Ok(())
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

fn serve(settings: Settings, demo: bool) -> Result<ExitCode, CliError> {
    let store = open_store(&settings)?;
    let lock = ModemLock::try_acquire(&settings.lock_dir, &settings.device, "smss serve")
        .map_err(failed)?;
    let listener = TcpListener::bind(&settings.listen).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            " (is another smss serve running? see listen)"
        } else {
            ""
        };
        failed(format!("cannot listen on {}: {e}{hint}", settings.listen))
    })?;
    let local = listener.local_addr().map_err(failed)?;
    let (sim, port_path) = modem_port(&settings)?;

    let stop = Arc::new(AtomicBool::new(false));
    let (wake_tx, wake_rx) = mpsc::channel::<Wake>();
    {
        let stop = Arc::clone(&stop);
        let wake = wake_tx.clone();
        ctrlc::set_handler(move || {
            stop.store(true, Ordering::SeqCst);
            let _ = wake.send(Wake::Queued);
            // Wake the accept() so the listener sees the flag.
            let _ = TcpStream::connect(local);
        })
        .map_err(|e| failed(format!("cannot install the signal handler: {e}")))?;
    }

    let modem_thread = {
        let stop = Arc::clone(&stop);
        let mut sender = Sender::new(Arc::clone(&store), settings.clone(), port_path);
        thread::Builder::new()
            .name("modem".into())
            .spawn(move || sender.run(wake_rx, &stop))
            .map_err(failed)?
    };

    // The web interface, when configured (its own listener and threads).
    let web = match crate::web::WebConfig::from_settings(&settings) {
        Some(config) => {
            Some(crate::web::start(config, Arc::clone(&store), wake_tx.clone()).map_err(failed)?)
        }
        None => None,
    };
    log::info!(
        "smss {} listening on {local} (database {}, modem {}, lock {})",
        env!("CARGO_PKG_VERSION"),
        store.backend(),
        settings.device,
        lock.path().display()
    );
    if demo {
        log::info!("demo: try  smss client -a {local} '#420608337726;Hello from smss'");
    }
    let server = Server::new(
        listener,
        store,
        wake_tx,
        Limits {
            max_connections: settings.max_connections,
            max_line_bytes: settings.max_line_bytes,
            idle_timeout: settings.idle_timeout,
            quiet_pause: settings.quiet_pause,
            max_parts: settings.max_parts,
            legacy_charset: settings.legacy_charset,
        },
        Arc::clone(&stop),
    );
    server.run();
    if let Some(web) = web {
        web.shutdown();
    }
    log::info!("stopping: waiting for the modem thread to finish its current message");
    let _ = modem_thread.join();
    drop(sim);
    drop(lock);
    log::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

fn send_pending(settings: Settings) -> Result<ExitCode, CliError> {
    let lock =
        match ModemLock::try_acquire(&settings.lock_dir, &settings.device, "smss send-pending") {
            Ok(lock) => lock,
            Err(LockError::Held { holder, .. }) => {
                println!(
                    "smss send-pending: nothing to do, {holder} holds the modem {}",
                    settings.device
                );
                return Ok(ExitCode::SUCCESS);
            }
            Err(e) => return Err(failed(e)),
        };
    let store = open_store(&settings)?;
    let (sim, port_path) = modem_port(&settings)?;
    let mut sender = Sender::new(store, settings, port_path);
    let summary = sender.run_once().map_err(failed)?;
    log::info!(
        "send-pending: {} sent, {} failed, {} to retry later",
        summary.sent,
        summary.failed,
        summary.retried
    );
    drop(sender);
    drop(sim);
    drop(lock);
    Ok(ExitCode::SUCCESS)
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

fn status(settings: &Settings) -> Result<ExitCode, CliError> {
    let store = store::open(&settings.db, false).map_err(failed)?;
    let stats = store.queue_stats().map_err(failed)?;
    println!("database: {} ({})", store.backend(), redact(&settings.db));
    match (&stats.oldest, stats.oldest_age_secs) {
        (Some(oldest), Some(age)) => {
            println!(
                "queued:   {} (oldest {oldest} UTC, {age} s ago)",
                stats.depth
            )
        }
        _ => println!("queued:   {}", stats.depth),
    }
    let recent = store.recent_sms(10).map_err(failed)?;
    if recent.is_empty() {
        println!("recent:   nothing sent yet");
    } else {
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
    let hash = crate::web::auth::hash_password(password).map_err(failed)?;
    println!("{hash}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
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
