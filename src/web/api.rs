//! The HTTP API: `POST /api/send`, `GET /api/messages`, and the
//! Kannel-compatible `/cgi-bin/sendsms` for monitoring scripts that already
//! speak Kannel (Nagios, Icinga, Zabbix).

use std::time::Duration;

use serde_json::{Value, json};

use super::form::{self, Params};
use super::{App, Reply, Req, number_prefix, queue};
use crate::intake::{IntakeError, Rejection};
use crate::options::{MAX_TTL, Options, Priority, SendAt};
use crate::store::{ListFilter, QueueRow, RcvRow, SmsRow, SmsStatus, StoreError};

/// Default and largest page of `/api/messages`.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;

fn error(status: u16, message: impl std::fmt::Display) -> Reply {
    Reply::json(status, &json!({ "error": message.to_string() }))
}

fn content_type(req: &Req<'_>) -> String {
    req.header("Content-Type")
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// A JSON value that lists recipients: a string (`"420608337726,@oncall"`)
/// or a list of strings.
fn json_recipients(v: &Value, name: &str) -> Result<Vec<String>, Reply> {
    match v {
        Value::String(s) => Ok(form::split_numbers(s)),
        Value::Array(a) => {
            let mut out = Vec::new();
            for n in a {
                match n {
                    Value::String(s) => out.extend(form::split_numbers(s)),
                    _ => {
                        return Err(error(
                            400,
                            format!("'{name}' must be a string or a list of strings"),
                        ));
                    }
                }
            }
            Ok(out)
        }
        _ => Err(error(
            400,
            format!("'{name}' must be a string or a list of strings"),
        )),
    }
}

/// The text of a send: `text` or `message` (Home Assistant's), with a
/// `title` in front (`Alarm: motion in the garage`; Home Assistant's
/// default title "Home Assistant" says nothing and is left out).
fn send_text(text: Option<&str>, title: Option<&str>) -> Option<String> {
    let text = text?;
    match title
        .map(str::trim)
        .filter(|t| !t.is_empty() && *t != "Home Assistant")
    {
        Some(t) => Some(format!("{t}: {text}")),
        None => Some(text.to_owned()),
    }
}

/// `/api/send`: JSON `{"to": "420608337726" | ["...", "@oncall"], "text": "..."}`,
/// or a form (`POST`) or query (`GET`, with an API token only: a browser
/// sends no token by itself, so a cross-site link cannot send) with
/// `to=...&text=...` (several recipients separated by commas). Home
/// Assistant's `rest` notify names them `target` and `message`, and may
/// add a `title`. All may carry the options `priority` (urgent, normal,
/// low), `ttl` (10m), `flash` (true), `send_at` (a UTC time or a duration
/// from now), `send_after` and `send_before` (HH:MM).
/// `202 {"queued": n, "ids": [...]}`, or `400 {"error": "..."}`.
pub fn send(app: &App, req: &Req<'_>, user: &str, body: &[u8]) -> Reply {
    let get = matches!(req.method, tiny_http::Method::Get);
    if get && !user.starts_with("token:") {
        return error(
            403,
            "GET /api/send needs an API token (smss token add NAME): Authorization: Bearer \
             TOKEN, an access-token header or access_token=TOKEN; or POST",
        );
    }
    let (numbers, text, options) = match content_type(req).as_str() {
        "application/json" if !get => {
            let Ok(v) = serde_json::from_slice::<Value>(body) else {
                return error(400, "the body is not valid JSON");
            };
            let to = match v.get("to").filter(|t| !t.is_null()) {
                Some(t) => Some(("to", t)),
                None => v
                    .get("target")
                    .filter(|t| !t.is_null())
                    .map(|t| ("target", t)),
            };
            let numbers = match to {
                Some((name, t)) => match json_recipients(t, name) {
                    Ok(n) => n,
                    Err(reply) => return reply,
                },
                None => return error(400, "missing 'to'"),
            };
            let field = |name: &str| match v.get(name) {
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                None | Some(Value::Null) => Ok(None),
                Some(_) => Err(error(400, format!("'{name}' must be a string"))),
            };
            let (text, message, title) = match (field("text"), field("message"), field("title")) {
                (Ok(a), Ok(b), Ok(c)) => (a, b, c),
                (Err(r), _, _) | (_, Err(r), _) | (_, _, Err(r)) => return r,
            };
            let Some(text) = send_text(text.or(message), title) else {
                return error(400, "missing 'text'");
            };
            let options = Options::from_fields(|k| match v.get(k) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(other) => Some(other.to_string()),
            });
            match options {
                Ok(o) => (numbers, text, o),
                Err(e) => return error(400, e),
            }
        }
        // GET (whatever its Content-Type): the query; POST: the form (or,
        // with no body, the query)
        ct if get
            || matches!(
                ct,
                "application/x-www-form-urlencoded" | "" | "multipart/form-data"
            ) =>
        {
            let p = if get || body.is_empty() {
                req.query.clone()
            } else {
                Params::parse(body, app.settings.legacy_charset)
            };
            let Some(to) = p.get("to").or_else(|| p.get("target")) else {
                return error(400, "missing 'to'");
            };
            let Some(text) = send_text(p.get("text").or_else(|| p.get("message")), p.get("title"))
            else {
                return error(400, "missing 'text'");
            };
            match Options::from_fields(|k| p.get(k).map(str::to_owned)) {
                Ok(o) => (form::split_numbers(to), text, o),
                Err(e) => return error(400, e),
            }
        }
        other => {
            return error(
                415,
                format!("unsupported Content-Type '{other}': send application/json or a form"),
            );
        }
    };
    queued_reply(app, req, user, (&numbers, &text, &options), "api", 202)
}

/// Queues `text` to `numbers` and answers `status {"queued": n, "ids": [...]}`.
fn queued_reply(
    app: &App,
    req: &Req<'_>,
    user: &str,
    (numbers, text, options): (&[String], &str, &Options),
    way: &str,
    status: u16,
) -> Reply {
    match queue(app, numbers, text, options, &super::source(way, user)) {
        Ok(ids) => {
            log::info!(
                "web: {}{} queued {} message(s) through {way}: {ids:?}",
                req.peer,
                if user.is_empty() {
                    String::new()
                } else {
                    format!(" ({user})")
                },
                ids.len()
            );
            Reply::json(
                status,
                &json!({ "queued": ids.len(), "ids": super::ids_json(&ids) }),
            )
        }
        Err(e @ (IntakeError::Unavailable(_) | IntakeError::Failed(_))) => error(503, e),
        Err(IntakeError::Rejected(Rejection::NoRecipient)) => error(400, "missing 'to'"),
        Err(e) => error(400, e),
    }
}

/// `GET|POST /api/webhook?to=RECIPIENTS`: Uptime Kuma's webhook
/// notification, its text in `msg`: a JSON body (`{"heartbeat": ...,
/// "monitor": ..., "msg": "..."}`), a multipart form whose field `data`
/// holds that JSON, or `?msg=` (its GET, which needs an API token as
/// `/api/send`'s does). Anything else with a `msg` works too.
pub fn webhook(app: &App, req: &Req<'_>, user: &str, body: &[u8]) -> Reply {
    let get = matches!(req.method, tiny_http::Method::Get);
    if get && !user.starts_with("token:") {
        return error(
            403,
            "GET /api/webhook needs an API token (smss token add NAME); or POST",
        );
    }
    let msg_of = |json: &[u8]| -> Result<Option<String>, Reply> {
        let v: Value =
            serde_json::from_slice(json).map_err(|_| error(400, "the body is not valid JSON"))?;
        match v.get("msg") {
            Some(Value::String(s)) => Ok(Some(s.clone())),
            None | Some(Value::Null) => Ok(None),
            Some(_) => Err(error(400, "'msg' must be a string")),
        }
    };
    let from_body = if get || body.is_empty() {
        Ok(None)
    } else {
        match content_type(req).as_str() {
            "application/json" => msg_of(body),
            "multipart/form-data" => {
                match form::multipart_field(body, req.header("Content-Type").unwrap_or(""), "data")
                {
                    Some(data) => msg_of(&data),
                    None => Err(error(
                        400,
                        "missing form field 'data' (Uptime Kuma's form-data)",
                    )),
                }
            }
            "application/x-www-form-urlencoded" => {
                Ok(Params::parse(body, app.settings.legacy_charset)
                    .get("msg")
                    .map(str::to_owned))
            }
            other => Err(error(
                415,
                format!("unsupported Content-Type '{other}': send application/json or a form"),
            )),
        }
    };
    let msg = match from_body {
        Ok(Some(m)) => m,
        Ok(None) => match req.query.get("msg") {
            Some(m) => m.to_owned(),
            None => return error(400, "missing 'msg'"),
        },
        Err(reply) => return reply,
    };
    let numbers = req
        .query
        .get("to")
        .map(form::split_numbers)
        .unwrap_or_default();
    if numbers.is_empty() {
        return error(
            400,
            "missing 'to': give ?to=NUMBER,@GROUP in the webhook URL",
        );
    }
    queued_reply(
        app,
        req,
        user,
        (&numbers, &msg, &Options::default()),
        "webhook",
        200,
    )
}

/// A stored UTC time as RFC 3339: `2026-11-30T10:00:01.123Z`.
fn rfc3339(t: &str) -> String {
    format!("{}Z", t.replacen(' ', "T", 1))
}

fn opt_time(t: Option<&String>) -> Value {
    t.map(|t| Value::String(rfc3339(t))).unwrap_or(Value::Null)
}

/// `since=` as typed: `2026-11-30`, `2026-11-30T10:00`, `2026-11-30 10:00:00`,
/// with or without a trailing `Z` (UTC either way) → `2026-11-30 10:00:00`.
pub fn parse_since(input: &str) -> Option<String> {
    let s = input.trim().trim_end_matches(['Z', 'z']);
    let (date, time) = match s.split_once(['T', 't', ' ']) {
        Some((d, t)) => (d, t),
        None => (s, "00:00:00"),
    };
    let date_ok = date.len() == 10
        && date.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    let time = match time.len() {
        5 => format!("{time}:00"),
        8 => time.to_owned(),
        _ => return None,
    };
    let time_ok = time.bytes().enumerate().all(|(i, b)| match i {
        2 | 5 => b == b':',
        _ => b.is_ascii_digit(),
    });
    (date_ok && time_ok).then(|| format!("{date} {time}"))
}

fn sms_json(r: &SmsRow) -> Value {
    json!({
        "id": r.id,
        "number": r.phone,
        "text": r.text,
        "status": r.status.as_str(),
        "queued_at": rfc3339(&r.queued_at),
        "sent_at": opt_time(r.sent_at.as_ref()),
        "parts": r.parts,
        "error": r.error,
        "attempts": r.attempts,
        "source": r.source,
        "group": r.group,
        "acked_by": r.acked.as_ref().map(|(_, by)| by),
        "acked_at": r.acked.as_ref().map(|(at, _)| at),
    })
}

fn queued_json(r: &QueueRow) -> Value {
    let status = if r.sending {
        "sending"
    } else if r.attempts > 0 {
        "retrying"
    } else {
        "queued"
    };
    json!({
        "id": r.id,
        "number": r.phone,
        "text": r.text,
        "status": status,
        "queued_at": rfc3339(&r.created),
        "next_attempt": opt_time(r.next_attempt.as_ref()),
        "attempts": r.attempts,
        "error": r.last_error,
        "source": r.source,
        "group": r.group,
    })
}

fn received_json(r: &RcvRow) -> Value {
    json!({
        "id": r.id,
        "number": r.sender,
        "text": r.text,
        "status": "received",
        "received_at": rfc3339(&r.received_at),
        "smsc_time": r.smsc_time,
        "parts": r.parts,
        "complete": r.complete,
        "coding": r.coding.as_str(),
        "pid": r.pid,
        "silent": r.silent(),
        "replaced_by": r.replaced_by,
        "ports": r.ports.map(|p| json!({
            "destination": p.destination,
            "source": p.source,
            "application": p.application(),
        })),
    })
}

/// `GET /api/messages?status=&number=&since=&before=&limit=`: newest first.
/// `status`: `sent`, `failed`, `queued`, `received`, or none (sent and
/// failed); `number`: the beginning of the number; `since`: queued (or
/// received) at or after this UTC time; `before`: an id, for the next page
/// (the answer's `next_before`).
pub fn messages(app: &App, req: &Req<'_>) -> Reply {
    let q = &req.query;
    let number_prefix = match q.nonblank("number") {
        None => None,
        Some(n) => match number_prefix(n) {
            Some(p) => Some(p),
            None => {
                return error(
                    400,
                    "'number' is the beginning of a number: digits, optionally a leading +",
                );
            }
        },
    };
    let since = match q.nonblank("since") {
        None => None,
        Some(s) => match parse_since(s) {
            Some(s) => Some(s),
            None => {
                return error(
                    400,
                    "'since' is a UTC time such as 2026-11-30T10:00:00Z or 2026-11-30",
                );
            }
        },
    };
    let before_id = match q.nonblank("before").map(str::parse::<i64>) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => return error(400, "'before' is a message id"),
    };
    let limit = match q.nonblank("limit").map(str::parse::<usize>) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => return error(400, format!("'limit' is a number from 1 to {MAX_LIMIT}")),
    };
    let status = q.nonblank("status");
    let mut filter = ListFilter {
        status: None,
        number_prefix,
        before_id,
        since,
        limit: limit + 1,
        send_order: false,
    };
    let rows: Result<Vec<(i64, Value)>, StoreError> = match status {
        Some("queued") => app
            .store
            .list_queued(&filter)
            .map(|rows| rows.iter().map(|r| (r.id, queued_json(r))).collect()),
        Some("received") => app
            .store
            .list_received(&filter)
            .map(|rows| rows.iter().map(|r| (r.id, received_json(r))).collect()),
        None | Some("sent") | Some("failed") => {
            filter.status = status.and_then(SmsStatus::parse);
            app.store
                .list_sms(&filter)
                .map(|rows| rows.iter().map(|r| (r.id, sms_json(r))).collect())
        }
        Some(_) => {
            return error(400, "'status' is sent, failed, queued or received");
        }
    };
    match rows {
        Ok(mut rows) => {
            let more = rows.len() > limit;
            rows.truncate(limit);
            let next_before = if more { rows.last().map(|r| r.0) } else { None };
            let messages: Vec<Value> = rows.into_iter().map(|r| r.1).collect();
            Reply::json(
                200,
                &json!({ "messages": messages, "next_before": next_before }),
            )
        }
        Err(e) => {
            log::error!("web: /api/messages: {e}");
            error(503, "database unavailable, try again later")
        }
    }
}

/// The `text` of a sendsms as its `charset` says: UTF-16BE (`UCS-2`,
/// what clients send with `coding=2`), a legacy 8-bit one, or UTF-8;
/// without `charset`, UTF-8 or else `legacy-charset`, as everywhere.
fn kannel_text(raw: &[u8], charset: Option<&str>, parsed: &str) -> Result<String, String> {
    let Some(charset) = charset.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok(parsed.to_owned());
    };
    let bytes = form::decode_bytes(raw);
    match charset.to_ascii_lowercase().as_str() {
        "utf-8" | "utf8" => String::from_utf8(bytes)
            .map_err(|_| "the text is not UTF-8 (charset=UTF-8), rejected".to_owned()),
        "utf-16be" | "utf-16" | "ucs-2" | "ucs2" | "ucs-2be" => {
            if !bytes.len().is_multiple_of(2) {
                return Err("the text is not UTF-16BE (an odd number of bytes), rejected".into());
            }
            let units: Vec<u16> = bytes
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).map_err(|_| "the text is not UTF-16BE, rejected".to_owned())
        }
        other => match crate::charset::Legacy::from_name(other) {
            Some(legacy) => Ok(bytes.iter().map(|&b| legacy.decode_byte(b)).collect()),
            None => Err(format!(
                "unknown charset '{}': use UTF-8, UTF-16BE, windows-1250, iso-8859-2, \
                 windows-1252 or iso-8859-1, rejected",
                crate::printable::escape(other)
            )),
        },
    }
}

/// Kannel's `sendsms`: `GET|POST /cgi-bin/sendsms?username=&password=&to=&text=`
/// (also `user=`/`pass=`, what sachet and other clients send; POST: the
/// same parameters as a form body; the front checks the credentials:
/// `web::guard`). `to` may hold several numbers separated by spaces or
/// `+` (Kannel's rule, a `+` in a query is a space; commas work too; a
/// number's own `+` is `%2B`), or `@group`s. `charset` says how `text` is
/// encoded (UTF-16BE with `coding=2`). Answers as Kannel's smsbox does:
/// `202 0: Accepted for delivery`, or `202 3: Queued for later delivery`
/// when no modem is up to send it now (it is stored and goes out when one
/// is), `403 Authorization failed for sendsms`, `400 ... rejected`, `503`
/// while the database is away. `mclass`, `validity`, `deferred` and
/// `priority` become the message's options (`kannel_options`); `coding`
/// is read with `charset`; `from`, `smsc`, `dlr-mask`, ... are accepted
/// and ignored.
pub fn kannel_sendsms(app: &App, req: &Req<'_>, body: &[u8]) -> Reply {
    let mut params = req.query.clone();
    let is_post = matches!(req.method, tiny_http::Method::Post);
    if is_post {
        params
            .0
            .extend(Params::parse(body, app.settings.legacy_charset).0);
    }
    // The front has checked the credentials (from the query or the form)
    // and names the user; without it, nobody.
    if req.header("X-Smss-User").is_none_or(str::is_empty) {
        return Reply::text(403, "Authorization failed for sendsms");
    }
    let numbers = params
        .get("to")
        .map(form::split_numbers)
        .unwrap_or_default();
    if numbers.is_empty() {
        return Reply::text(400, "Missing receiver number, rejected");
    }
    let Some(parsed) = params.get("text") else {
        return Reply::text(400, "Missing text, rejected");
    };
    let raw = form::raw_value(req.raw_query.as_bytes(), "text")
        .or_else(|| is_post.then(|| form::raw_value(body, "text")).flatten())
        .unwrap_or(b"");
    let text = match kannel_text(raw, params.get("charset"), parsed) {
        Ok(t) => t,
        Err(e) => return Reply::text(400, e),
    };
    let options = match kannel_options(&params) {
        Ok(o) => o,
        Err(e) => return Reply::text(400, format!("{e}, rejected")),
    };
    let user = req.header("X-Smss-User").unwrap_or("");
    match queue(
        app,
        &numbers,
        &text,
        &options,
        &super::source("kannel", user),
    ) {
        Ok(ids) => {
            let list: Vec<String> = ids.iter().map(ToString::to_string).collect();
            log::info!(
                "web: {} sendsms queued {} message(s): {}",
                req.peer,
                ids.len(),
                list.join(",")
            );
            let answer = if super::modem_health(app.store.as_ref(), &app.settings)
                .iter()
                .any(|m| m.up)
            {
                "0: Accepted for delivery"
            } else {
                "3: Queued for later delivery"
            };
            Reply::text(202, answer).header("X-Smss-Ids", list.join(","))
        }
        Err(e @ (IntakeError::Unavailable(_) | IntakeError::Failed(_))) => {
            Reply::text(503, format!("Temporary failure: {e}"))
        }
        Err(e) => Reply::text(400, format!("{e}, rejected")),
    }
}

/// Kannel's own parameters for what smss calls options: `priority` 0..3
/// (Kannel's default 0 is a normal message here, anything higher urgent),
/// `mclass=0` (flash; 1..3 are the phone's default classes), `validity`
/// (minutes: the ttl) and `deferred` (minutes: not sent before).
fn kannel_options(params: &Params) -> Result<Options, String> {
    let mut o = Options::default();
    if let Some(p) = params.get("priority") {
        o.priority = match p.trim() {
            "0" => Priority::Normal,
            "1" | "2" | "3" => Priority::Urgent,
            _ => return Err(format!("priority '{p}' is not 0 to 3")),
        };
    }
    if let Some(c) = params.get("mclass") {
        o.flash = match c.trim() {
            "0" => true,
            "1" | "2" | "3" => false,
            _ => return Err(format!("mclass '{c}' is not 0 to 3")),
        };
    }
    let minutes = |name: &str| -> Result<Option<u64>, String> {
        params
            .get(name)
            .map(|v| {
                v.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|m| (1..=MAX_TTL.as_secs() / 60).contains(m))
                    .ok_or_else(|| format!("{name} '{v}' is not a number of minutes"))
            })
            .transpose()
    };
    if let Some(m) = minutes("validity")? {
        o.ttl = Some(Duration::from_secs(m * 60));
    }
    if let Some(m) = minutes("deferred")? {
        o.send_at = Some(SendAt::In(Duration::from_secs(m * 60)));
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kannel_charsets() {
        // "Žluť" in UTF-16BE, as a coding=2 client sends it
        let raw = b"%01%7D%00l%00u%01e";
        assert_eq!(kannel_text(raw, Some("UTF-16BE"), "").unwrap(), "Žluť");
        assert_eq!(kannel_text(raw, Some("UCS-2"), "").unwrap(), "Žluť");
        assert!(kannel_text(b"%01", Some("UTF-16BE"), "").is_err());
        assert_eq!(
            kannel_text(b"P%F8%EDli%9A", Some("windows-1250"), "").unwrap(),
            "Příliš"
        );
        assert_eq!(
            kannel_text(b"caf%E9", Some("ISO-8859-1"), "").unwrap(),
            "café"
        );
        assert_eq!(kannel_text(b"a+b", Some("utf-8"), "").unwrap(), "a b");
        assert!(kannel_text(b"x", Some("koi8-r"), "").is_err());
        assert_eq!(kannel_text(b"ignored", None, "parsed").unwrap(), "parsed");
    }

    #[test]
    fn kannel_parameters_become_options() {
        let p = |q: &str| Params::parse(q.as_bytes(), crate::charset::Legacy::Windows1250);
        let o = kannel_options(&p("priority=3&mclass=0&validity=90&deferred=5")).unwrap();
        assert_eq!(o.priority, Priority::Urgent);
        assert!(o.flash);
        assert_eq!(o.ttl, Some(Duration::from_secs(90 * 60)));
        assert_eq!(o.send_at, Some(SendAt::In(Duration::from_secs(300))));
        assert_eq!(
            kannel_options(&p("priority=0&mclass=1")).unwrap(),
            Options::default()
        );
        for (q, e) in [
            ("priority=9", "priority '9' is not 0 to 3"),
            ("mclass=x", "mclass 'x' is not 0 to 3"),
            ("validity=0", "validity '0' is not a number of minutes"),
            (
                "deferred=soon",
                "deferred 'soon' is not a number of minutes",
            ),
        ] {
            assert_eq!(kannel_options(&p(q)).unwrap_err(), e);
        }
    }

    #[test]
    fn since_formats() {
        assert_eq!(
            parse_since("2026-11-30").as_deref(),
            Some("2026-11-30 00:00:00")
        );
        assert_eq!(
            parse_since("2026-11-30T10:05Z").as_deref(),
            Some("2026-11-30 10:05:00")
        );
        assert_eq!(
            parse_since("2026-11-30 10:05:09").as_deref(),
            Some("2026-11-30 10:05:09")
        );
        for bad in [
            "",
            "yesterday",
            "2026-11-30T10",
            "2026-11-30 10:05:09.5",
            "2026/11/30",
        ] {
            assert_eq!(parse_since(bad), None, "{bad}");
        }
    }
}
