//! Subcommand dispatch: `main` is thin, every command returns a `Result`,
//! and the exit code comes from the error.

use std::ffi::OsString;
use std::io::{self, Write};
use std::process::ExitCode;

use crate::client;

/// `main` with the name the binary was run as: as `sendsms` (a link or
/// copy named so, where a tool expects smstools' command, Netdata's
/// smstools notification for one) it is `smss sendsms`.
pub fn main_as(invoked: Option<&std::ffi::OsStr>, args: Vec<OsString>) -> ExitCode {
    let name = invoked
        .map(std::path::Path::new)
        .and_then(std::path::Path::file_stem);
    if name.is_some_and(|n| n == "sendsms") {
        return sendsms_main(args);
    }
    main(args)
}

pub fn main(args: Vec<OsString>) -> ExitCode {
    let mut args = args.into_iter();
    let command = args
        .next()
        .and_then(|c| c.into_string().ok())
        .unwrap_or_default();
    let rest: Vec<OsString> = args.collect();
    match command.as_str() {
        "client" => client_main(rest),
        "sendsms" => sendsms_main(rest),
        // add | list | remove: the administrator's, on the database
        "checkin"
            if !(cfg!(feature = "server")
                && rest
                    .first()
                    .is_some_and(|w| w == "add" || w == "list" || w == "remove")) =>
        {
            checkin_main(rest)
        }
        "-V" | "--version" | "version" => {
            println!("smss {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        _ => server_main(&command, rest),
    }
}

fn client_main(args: Vec<OsString>) -> ExitCode {
    let parsed = match client::parse_args(args) {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{}", client::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("smss client: {e}");
            return ExitCode::from(2);
        }
    };
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut out = io::stdout().lock();
    let mut err = io::stderr().lock();
    match client::run(&parsed, &mut input, &mut out, &mut err) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(err, "smss client: {e}");
            ExitCode::FAILURE
        }
    }
}

fn checkin_main(args: Vec<OsString>) -> ExitCode {
    let parsed = match crate::checkin::parse_args(args) {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{}", crate::checkin::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!(
                "smss checkin: {}",
                e.to_string()
                    .replace("smss client --help", "smss checkin --help")
            );
            return ExitCode::from(2);
        }
    };
    let mut out = io::stdout().lock();
    match crate::checkin::run(&parsed, &mut out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ client::ClientError::Usage(_)) => {
            eprintln!("smss checkin: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("smss checkin: {e}");
            ExitCode::FAILURE
        }
    }
}

fn sendsms_main(args: Vec<OsString>) -> ExitCode {
    let parsed = match crate::sendsms::parse_args(args) {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{}", crate::sendsms::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!(
                "smss sendsms: {}",
                e.to_string()
                    .replace("smss client --help", "smss sendsms --help")
            );
            return ExitCode::from(2);
        }
    };
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut out = io::stdout().lock();
    let mut err = io::stderr().lock();
    match crate::sendsms::run(&parsed, &mut input, &mut out, &mut err) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ client::ClientError::Usage(_)) => {
            let _ = writeln!(
                err,
                "smss sendsms: {}",
                e.to_string()
                    .replace("smss client --help", "smss sendsms --help")
            );
            ExitCode::from(2)
        }
        Err(e) => {
            let _ = writeln!(err, "smss sendsms: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(feature = "server")]
fn server_main(command: &str, args: Vec<OsString>) -> ExitCode {
    use crate::cli::{self, CliError};
    let result = match command {
        "" | "-h" | "--help" | "help" => {
            print!("{}", cli::help_text(None));
            return ExitCode::SUCCESS;
        }
        "hash-password" => {
            if args.iter().any(|a| a == "-h" || a == "--help") {
                print!("{}", cli::HASH_PASSWORD_HELP);
                return ExitCode::SUCCESS;
            }
            if let Some(a) = args.first() {
                Err(CliError::Usage(format!(
                    "hash-password takes no arguments (got {}): it reads the password from standard input",
                    a.to_string_lossy()
                )))
            } else {
                crate::commands::hash_password()
            }
        }
        "serve" | "send-pending" | "init-db" | "status" | "probe" | "group" | "token"
        | "checkin" => cli::parse_server_args(command, args).and_then(|parsed| {
            if parsed.help {
                match command {
                    "group" => print!("{}", crate::manage::GROUP_USAGE),
                    "token" => print!("{}", crate::manage::TOKEN_USAGE),
                    "checkin" => print!("{}", crate::checkin::USAGE),
                    _ => print!("{}", cli::help_text(Some(command))),
                }
                return Ok(ExitCode::SUCCESS);
            }
            crate::commands::run(command, parsed)
        }),
        other => Err(CliError::Usage(format!(
            "unknown command '{other}'\n\n{}",
            cli::COMMANDS
        ))),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // Once in the log file, once on stderr (not through the logger's
            // stderr too).
            log::error!(target: crate::commands::LOG_FILE_ONLY, "{e}");
            eprintln!("smss {command}: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

#[cfg(not(feature = "server"))]
fn server_main(command: &str, _args: Vec<OsString>) -> ExitCode {
    match command {
        "" | "-h" | "--help" | "help" => {
            print!(
                "smss (client-only build)\n\n{}\n{}",
                client::USAGE,
                crate::sendsms::USAGE
            );
            ExitCode::SUCCESS
        }
        other => {
            eprintln!(
                "smss: '{other}' is not available in this client-only build; use: smss client -a HOST '#phone;text' or smss sendsms NUMBER TEXT"
            );
            ExitCode::from(2)
        }
    }
}
