//! `smss group set|list|remove` and `smss token add|list|revoke`: the
//! recipient groups and API tokens, kept in the database (every host of a
//! cluster sees the same ones).

use std::process::ExitCode;
use std::time::Duration;

use crate::cli::{CliError, InitDbHint};
use crate::config::Settings;
use crate::store::{self, ErrorKind, Store};
use crate::{gsm, protocol, token};

pub const GROUP_USAGE: &str = "\
Usage: smss group set NAME NUMBER... [--escalate STEP]
                                       create the group, or replace its members
       smss group list                 every group and its members
       smss group remove NAME          delete the group

Send to every member with @NAME wherever a number is asked for: a TCP line
`#@NAME;text`, the web form, every API. A message is expanded into one SMS
per member when it is accepted; a later change of the group does not touch
what is already queued. NAME: letters, digits, '-', '_', '.' (at most 64).
A NUMBER as on a TCP line: an optional + and 3 to 20 digits.

--escalate STEP (10m, 1h; at least 1s) makes the group an escalation chain:
an alert to it goes, urgent, to the first member only, as `[1/N] text`; when
that SMS was sent and nobody replied ACK within STEP, the next member gets
`[2/N] text`, and so on until an ACK from any member alerted or the last
member's STEP has passed. `group set` without --escalate makes it a plain
group again (running chains go on as they started).
";

pub const TOKEN_USAGE: &str = "\
Usage: smss token add NAME      make a token; it is printed once, on the last line
       smss token list          the tokens' names and when they were made
       smss token revoke NAME   refuse the token from now on (every serve, at once)

A token lets a webhook or script use the HTTP API without the web password:
  Authorization: Bearer TOKEN, or an access-token: TOKEN header, or the
  access_token=TOKEN parameter. Messages it queues show NAME as their source.
Only a hash of the token is stored: a lost token cannot be shown again; revoke
it and add a new one.
";

fn open(settings: &Settings, hint: &InitDbHint) -> Result<std::sync::Arc<dyn Store>, CliError> {
    store::open(&settings.db, false).map_err(|e| CliError::store(e, hint))
}

fn name_arg(what: &str, name: Option<&String>) -> Result<String, CliError> {
    let name = name.ok_or_else(|| CliError::Usage(format!("{what}: give a NAME")))?;
    let name = name.strip_prefix('@').unwrap_or(name);
    if !protocol::valid_name(name) {
        return Err(CliError::Usage(format!(
            "'{}' cannot be a name: use letters, digits, '-', '_', '.' (at most 64)",
            crate::printable::escape(name)
        )));
    }
    Ok(name.to_owned())
}

/// `--escalate STEP` out of `group set`'s words: the step time (whole
/// seconds, at least 1) and the other words.
fn escalate_arg(name: &str, words: &[String]) -> Result<(Option<Duration>, Vec<String>), CliError> {
    let mut escalate = None;
    let mut rest = Vec::new();
    let mut it = words.iter();
    while let Some(w) = it.next() {
        if w != "--escalate" {
            rest.push(w.clone());
            continue;
        }
        let value = it.next().map(String::as_str).unwrap_or_default();
        let step = crate::duration::parse(value).map_err(|e| {
            CliError::Usage(format!("group set {name}: --escalate {e} (the step time)"))
        })?;
        if step < Duration::from_secs(1) || step.subsec_nanos() != 0 {
            return Err(CliError::Usage(format!(
                "group set {name}: --escalate {value}: the step time is whole seconds, at \
                 least 1s (such as 10m); leave --escalate out for a plain group"
            )));
        }
        escalate = Some(step);
    }
    Ok((escalate, rest))
}

fn describe_step(step: Option<Duration>) -> String {
    crate::pager::clock::human(step.map_or(0, |s| s.as_secs()))
}

/// `smss group ...` with its words after `group`.
pub fn group(
    settings: &Settings,
    hint: &InitDbHint,
    args: &[String],
) -> Result<ExitCode, CliError> {
    match args.first().map(String::as_str) {
        Some("set") => {
            let name = name_arg("group set", args.get(1))?;
            let (escalate, words) = escalate_arg(&name, &args[2..])?;
            let members: Vec<String> = words
                .iter()
                .flat_map(|a| a.split(',').map(str::trim).filter(|s| !s.is_empty()))
                .map(str::to_owned)
                .collect();
            if members.is_empty() {
                return Err(CliError::Usage(format!(
                    "group set {name}: give at least one NUMBER (smss group remove {name} deletes it)"
                )));
            }
            if let Some(bad) = members.iter().find(|m| !gsm::valid_phone(m)) {
                return Err(CliError::Usage(format!(
                    "group set {name}: invalid phone number '{}' (use an optional + and 3 to 20 digits)",
                    crate::printable::escape(bad)
                )));
            }
            let created = open(settings, hint)?.set_group_with(&name, &members, escalate)?;
            println!(
                "smss group: {} @{name}: {}{}",
                if created { "created" } else { "replaced" },
                members.join(", "),
                match escalate {
                    None => String::new(),
                    Some(_) if members.len() == 1 => format!(
                        " (an escalation chain of one member: the alert goes to {} alone, \
                         urgent, and ends unacknowledged after {})",
                        members[0],
                        describe_step(escalate)
                    ),
                    Some(_) => format!(
                        " (escalation chain: the next member after {} without an ACK)",
                        describe_step(escalate)
                    ),
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Some("list") if args.len() == 1 => {
            let groups = open(settings, hint)?.list_groups()?;
            if groups.is_empty() {
                println!("no groups (smss group set NAME NUMBER... makes one)");
            }
            for g in groups {
                match g.escalate {
                    None => println!("@{}\t{}", g.name, g.members.join(",")),
                    Some(_) => println!(
                        "@{}\t{}\tescalate {}",
                        g.name,
                        g.members.join(","),
                        describe_step(g.escalate)
                    ),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Some("remove") if args.len() == 2 => {
            let name = name_arg("group remove", args.get(1))?;
            if !open(settings, hint)?.remove_group(&name)? {
                return Err(CliError::Refused(format!(
                    "there is no group @{name} (smss group list shows them)"
                )));
            }
            println!("smss group: removed @{name} (messages already queued to it still go out)");
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(CliError::Usage(GROUP_USAGE.trim_end().to_owned())),
    }
}

/// `smss token ...` with its words after `token`.
pub fn token(
    settings: &Settings,
    hint: &InitDbHint,
    args: &[String],
) -> Result<ExitCode, CliError> {
    match args.first().map(String::as_str) {
        Some("add") if args.len() == 2 => {
            let name = name_arg("token add", args.get(1))?;
            let store = open(settings, hint)?;
            let secret = token::generate().map_err(CliError::Refused)?;
            match store.add_token(&name, &token::hash(&secret)) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::Constraint => {
                    return Err(CliError::Refused(format!(
                        "a token named {name} exists already (smss token revoke {name} first, \
                         or choose another name)"
                    )));
                }
                Err(e) => return Err(e.into()),
            }
            println!("smss token: added {name}; the token is shown only now:");
            println!("{secret}");
            Ok(ExitCode::SUCCESS)
        }
        Some("list") if args.len() == 1 => {
            let tokens = open(settings, hint)?.list_tokens()?;
            if tokens.is_empty() {
                println!("no tokens (smss token add NAME makes one)");
            }
            for t in tokens {
                println!("{}\tadded {} UTC", t.name, t.created);
            }
            Ok(ExitCode::SUCCESS)
        }
        Some("revoke") if args.len() == 2 => {
            let name = name_arg("token revoke", args.get(1))?;
            if !open(settings, hint)?.revoke_token(&name)? {
                return Err(CliError::Refused(format!(
                    "there is no token {name} (smss token list shows them)"
                )));
            }
            println!("smss token: revoked {name}: refused from now on");
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(CliError::Usage(TOKEN_USAGE.trim_end().to_owned())),
    }
}

/// `smss checkin add|list|remove` with its words after `checkin`
/// (`--every`, `--grace`, `--to` come as pairs of words).
pub fn checkin(
    settings: &Settings,
    hint: &InitDbHint,
    args: &[String],
) -> Result<ExitCode, CliError> {
    use crate::pager::clock;
    let usage = || CliError::Usage(crate::checkin::USAGE.trim_end().to_owned());
    match args.first().map(String::as_str) {
        Some("add") => {
            let mut call = crate::checkin::Call::default();
            let mut rest = args[1..].iter();
            while let Some(w) = rest.next() {
                if let Some(key) = w.strip_prefix("--") {
                    let value = rest.next().ok_or_else(usage)?;
                    call.set(key, value).map_err(CliError::Usage)?;
                } else if call.name.is_empty() && crate::checkin::valid_name(w) {
                    call.name = w.clone();
                } else {
                    return Err(CliError::Usage(format!(
                        "checkin add: '{}' is not a check-in name (letters, digits, '-', '_', '.')",
                        crate::printable::escape(w)
                    )));
                }
            }
            let (false, Some(every), false) =
                (call.name.is_empty(), call.every, call.to.is_empty())
            else {
                return Err(CliError::Usage(
                    "checkin add NAME --every DURATION --to RECIPIENT [--grace DURATION]".into(),
                ));
            };
            let store = open(settings, hint)?;
            let (tx, _rx) = std::sync::mpsc::channel();
            let intake = crate::intake::Intake::new(std::sync::Arc::clone(&store), tx, 1, 1);
            crate::pager::check_recipients(&intake, &call.to).map_err(|e| match e {
                crate::pager::CheckinError::Store(e) => CliError::from(e),
                e => CliError::Refused(e.to_string()),
            })?;
            let def = crate::store::CheckinDef {
                name: call.name.clone(),
                every,
                grace: call.grace.unwrap_or(settings.checkin_grace),
                recipients: call.to.clone(),
            };
            let created = store.define_checkin(&def, clock::now())?;
            println!(
                "smss checkin: {} {}: every {}, grace {}, to {}",
                if created { "added" } else { "changed" },
                def.name,
                clock::human(def.every.as_secs()),
                clock::human(def.grace.as_secs()),
                def.recipients.join(",")
            );
            Ok(ExitCode::SUCCESS)
        }
        Some("list") if args.len() == 1 => {
            let list = open(settings, hint)?.checkins()?;
            if list.is_empty() {
                println!("no check-ins (smss checkin add NAME --every 24h --to @group makes one)");
            }
            for c in list {
                println!(
                    "{}\t{}\tevery {} grace {}\tlast {}\tnext due {}\tto {}",
                    c.def.name,
                    if c.late { "LATE" } else { "ok" },
                    clock::human(c.def.every.as_secs()),
                    clock::human(c.def.grace.as_secs()),
                    c.last_seen.map_or_else(|| "never".into(), clock::local),
                    clock::local(c.due_at()),
                    c.def.recipients.join(",")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Some("remove") if args.len() == 2 => {
            let name = &args[1];
            if !open(settings, hint)?.remove_checkin(name)? {
                return Err(CliError::Refused(format!(
                    "there is no check-in {} (smss checkin list shows them)",
                    crate::printable::escape(name)
                )));
            }
            println!("smss checkin: removed {name}");
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(usage()),
    }
}
