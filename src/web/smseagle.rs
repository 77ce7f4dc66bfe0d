//! SMSEagle-compatible endpoints, so that what speaks to an SMSEagle
//! appliance (Zabbix's official SMSEagle media types, Uptime Kuma's
//! SMSEagle provider) speaks to smss unchanged:
//!
//! * `GET|POST /http_api/send_sms` (API v1): `access_token`, `to` (numbers
//!   separated by commas), `message`, `highpriority`, `flash`, `unicode`,
//!   `date`, `responsetype` (`text`: `OK; ID=[n]`, one line per message;
//!   `json`: `{"result": {"message_id": "n", "status": "ok"}}`);
//! * `GET|POST /http_api/send_togroup`: `groupname` instead of `to` (an
//!   smss group, `smss group set`);
//! * `POST /api/v2/messages/sms` (API v2): an `access-token` header, JSON
//!   `{"to": [...], "groups": [...], "text": "...", "priority": n, ...}`,
//!   answered `200 [{"message_id": n, "to": "...", "status": "queued"}]`.
//!
//! The access token is an smss API token (`smss token add NAME`), checked
//! by the front; these endpoints take no other credentials. SMSEagle's
//! options (priority, flash, a send date or window, validity) are read
//! into [`EagleOptions`] and become the message's options.

use serde_json::{Value, json};

use super::form::{self, Params};
use super::{App, Reply, Req, queue, source};
use crate::intake::{IntakeError, MsgId};
use crate::options::{Options, Priority};

/// SMSEagle's per-message options, as given ([`EagleOptions::to_options`]
/// makes smss's message options of them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EagleOptions {
    /// v1 `highpriority=1`, v2 `priority` > 0 (0..9).
    pub priority: u8,
    /// `flash=1|true`: a class 0 message.
    pub flash: bool,
    /// v1 `unicode=1`, v2 `encoding=unicode` (smss picks the coding from
    /// the text anyway).
    pub unicode: bool,
    /// `date=YYYYmmDDHHMM`: not before then.
    pub date: Option<String>,
    /// `send_after`/`send_before` (`HH:MM[:SS]`): a daily window.
    pub send_after: Option<String>,
    pub send_before: Option<String>,
    /// v2 `validity` (`5m`, `1h`, `max`...).
    pub validity: Option<String>,
}

impl EagleOptions {
    /// As smss's message options: a priority above 0 is urgent, `flash`,
    /// `date` (`YYYYmmDDHHMM`, taken as UTC) not sent before, the daily
    /// window, `validity` the ttl (`max`: none). A malformed value is the
    /// client's error, named.
    pub fn to_options(&self) -> Result<Options, String> {
        let date = match &self.date {
            None => None,
            Some(d) => {
                let d = d.trim();
                if d.len() != 12 || !d.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!(
                        "date '{}' is not YYYYmmDDHHMM",
                        crate::printable::escape(d)
                    ));
                }
                Some(format!(
                    "{}-{}-{}T{}:{}",
                    &d[..4],
                    &d[4..6],
                    &d[6..8],
                    &d[8..10],
                    &d[10..12]
                ))
            }
        };
        // HH:MM[:SS]: the window is kept to the minute
        let minute = |t: &Option<String>| {
            t.as_deref()
                .map(|t| t.trim().get(..5).unwrap_or(t).to_owned())
        };
        let validity = self
            .validity
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.eq_ignore_ascii_case("max"))
            .map(str::to_owned);
        let mut o = Options::from_fields(|name| match name {
            "ttl" => validity.clone(),
            "send_at" => date.clone(),
            "send_after" => minute(&self.send_after),
            "send_before" => minute(&self.send_before),
            _ => None,
        })?;
        if self.priority > 0 {
            o.priority = Priority::Urgent;
        }
        o.flash = self.flash;
        Ok(o)
    }
}

fn truthy(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

fn needs_token(user: &str) -> Option<&'static str> {
    (!user.starts_with("token:"))
        .then_some("SMSEagle's API needs an access_token: make one with smss token add NAME")
}

/// The v1 parameters: the query, and a POST's form.
fn v1_params(app: &App, req: &Req<'_>, body: &[u8]) -> Params {
    let mut p = req.query.clone();
    if matches!(req.method, tiny_http::Method::Post) {
        let ct = req.header("Content-Type").unwrap_or("");
        let body_params = if ct.to_ascii_lowercase().starts_with("multipart/form-data") {
            let mut out = Params::default();
            for name in [
                "to",
                "groupname",
                "message",
                "highpriority",
                "flash",
                "unicode",
                "date",
                "send_after",
                "send_before",
                "responsetype",
            ] {
                if let Some(v) = form::multipart_field(body, ct, name) {
                    out.0
                        .push((name.to_owned(), String::from_utf8_lossy(&v).into_owned()));
                }
            }
            out
        } else {
            Params::parse(body, app.settings.legacy_charset)
        };
        p.0.extend(body_params.0);
    }
    p
}

fn v1_options(p: &Params) -> EagleOptions {
    let opt = |name: &str| p.nonblank(name).map(str::to_owned);
    EagleOptions {
        priority: u8::from(p.get("highpriority").is_some_and(truthy)),
        flash: p.get("flash").is_some_and(truthy),
        unicode: p.get("unicode").is_some_and(truthy),
        date: opt("date"),
        send_after: opt("send_after"),
        send_before: opt("send_before"),
        validity: None,
    }
}

/// A v1 answer in the format asked for.
fn v1_reply(json: bool, status: u16, result: Result<&[MsgId], String>) -> Reply {
    match (json, result) {
        (false, Ok(ids)) => {
            let lines: Vec<String> = ids.iter().map(|id| format!("OK; ID=[{id}]")).collect();
            Reply::text(status, lines.join("\n"))
        }
        (true, Ok(ids)) => {
            let result = match ids {
                [id] => json!({"message_id": id.to_string(), "status": "ok"}),
                _ => json!({
                    "message_id": ids.iter().map(MsgId::to_string).collect::<Vec<_>>(),
                    "status": "ok"
                }),
            };
            Reply::json(status, &json!({ "result": result }))
        }
        (false, Err(e)) => Reply::text(status, e),
        (true, Err(e)) => Reply::json(
            status,
            &json!({"result": {"error_text": e, "status": "error"}}),
        ),
    }
}

fn status_of(e: &IntakeError) -> u16 {
    match e {
        IntakeError::Unavailable(_) | IntakeError::Failed(_) => 503,
        IntakeError::Rejected(_) => 400,
    }
}

/// `GET|POST /http_api/send_sms` and `/http_api/send_togroup`.
pub fn http_api(app: &App, req: &Req<'_>, user: &str, body: &[u8], to_group: bool) -> Reply {
    let p = v1_params(app, req, body);
    let json = p
        .get("responsetype")
        .is_some_and(|t| t.eq_ignore_ascii_case("json"));
    if let Some(e) = needs_token(user) {
        return v1_reply(json, 401, Err(e.to_owned()));
    }
    let recipients: Vec<String> = if to_group {
        match p.nonblank("groupname") {
            Some(g) => vec![format!("@{}", g.trim_start_matches('@'))],
            None => return v1_reply(json, 400, Err("Missing parameter: groupname".into())),
        }
    } else {
        let to = p.get("to").map(form::split_numbers).unwrap_or_default();
        if to.is_empty() {
            return v1_reply(json, 400, Err("Missing parameter: to".into()));
        }
        to
    };
    let Some(message) = p.get("message") else {
        return v1_reply(json, 400, Err("Missing parameter: message".into()));
    };
    let options = match v1_options(&p).to_options() {
        Ok(o) => o,
        Err(e) => return v1_reply(json, 400, Err(e)),
    };
    match queue(
        app,
        &recipients,
        message,
        &options,
        &source("smseagle", user),
    ) {
        Ok(ids) => {
            log::info!("web: {} SMSEagle http_api queued {ids:?}", req.peer);
            v1_reply(json, 200, Ok(&ids))
        }
        Err(e) => v1_reply(json, status_of(&e), Err(e.to_string())),
    }
}

/// Zabbix's SMSEagle v2 media type sends the text through
/// `encodeURIComponent`: a text with no white space that holds `%XX`
/// escapes and decodes to UTF-8 is taken as encoded (a text someone typed
/// has spaces; one without is still sent as it came if it does not decode).
pub fn decode_v2_text(text: &str) -> String {
    let escaped = text
        .as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit());
    if !escaped || text.chars().any(char::is_whitespace) {
        return text.to_owned();
    }
    let well_formed = text.match_indices('%').all(|(i, _)| {
        text.as_bytes()
            .get(i + 1..i + 3)
            .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return text.to_owned();
    }
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .unwrap_or_else(|_| text.to_owned())
}

fn v2_error(status: u16, message: impl std::fmt::Display) -> Reply {
    Reply::json(
        status,
        &json!({"status": "error", "message": message.to_string()}),
    )
}

/// `POST /api/v2/messages/sms`.
pub fn v2_sms(app: &App, req: &Req<'_>, user: &str, body: &[u8]) -> Reply {
    if let Some(e) = needs_token(user) {
        return v2_error(401, e);
    }
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return v2_error(400, "the body is not valid JSON");
    };
    let list = |name: &str| -> Result<Vec<String>, Reply> {
        match v.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| match x {
                    Value::String(s) => Ok(s.trim().to_owned()),
                    Value::Number(n) => Ok(n.to_string()),
                    _ => Err(v2_error(400, format!("'{name}' must be a list"))),
                })
                .collect(),
            Some(Value::String(s)) => Ok(form::split_numbers(s)),
            Some(_) => Err(v2_error(400, format!("'{name}' must be a list"))),
        }
    };
    let (to, groups, contacts) = match (list("to"), list("groups"), list("contacts")) {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        (Err(r), _, _) | (_, Err(r), _) | (_, _, Err(r)) => return r,
    };
    if !contacts.is_empty() {
        // Nothing is dropped in silence: smss has no contacts.
        return v2_error(
            400,
            "contacts are not supported: send to numbers ('to') or smss groups ('groups')",
        );
    }
    let mut recipients: Vec<String> = to.into_iter().filter(|s| !s.is_empty()).collect();
    recipients.extend(
        groups
            .iter()
            .filter(|g| !g.is_empty())
            .map(|g| format!("@{}", g.trim_start_matches('@'))),
    );
    if recipients.is_empty() {
        return v2_error(400, "missing 'to' (or 'groups')");
    }
    let text = match v.get("text") {
        Some(Value::String(s)) => decode_v2_text(s),
        None | Some(Value::Null) => return v2_error(400, "missing 'text'"),
        Some(_) => return v2_error(400, "'text' must be a string"),
    };
    let text_opt = |name: &str| v.get(name).and_then(Value::as_str).map(str::to_owned);
    let options = EagleOptions {
        priority: v
            .get("priority")
            .and_then(|p| {
                p.as_u64()
                    .or_else(|| p.as_str().and_then(|s| s.parse().ok()))
            })
            .map_or(0, |p| p.min(9) as u8),
        flash: v.get("flash").is_some_and(|f| {
            f.as_bool()
                .unwrap_or_else(|| f.as_str().is_some_and(truthy))
        }),
        unicode: text_opt("encoding").is_some_and(|e| e.eq_ignore_ascii_case("unicode")),
        date: text_opt("date"),
        send_after: text_opt("send_after"),
        send_before: text_opt("send_before"),
        validity: text_opt("validity"),
    };
    let options = match options.to_options() {
        Ok(o) => o,
        Err(e) => return v2_error(400, e),
    };
    match queue(app, &recipients, &text, &options, &source("smseagle", user)) {
        Ok(ids) => {
            log::info!("web: {} SMSEagle v2 queued {ids:?}", req.peer);
            // One entry per message; a group's members show as @group.
            let mut entries = Vec::new();
            let mut ids = ids.into_iter();
            for r in &recipients {
                let count = match r.strip_prefix('@') {
                    // an escalation chain queues its first member's only
                    Some(g) => app
                        .store
                        .group(g)
                        .ok()
                        .flatten()
                        .filter(|g| g.escalate.is_none())
                        .map_or(1, |g| g.members.len()),
                    None => 1,
                };
                for _ in 0..count {
                    if let Some(id) = ids.next() {
                        entries.push(
                            json!({"message_id": super::id_json(id), "to": r, "status": "queued"}),
                        );
                    }
                }
            }
            // (a group changed in between: the rest, under the last name)
            for id in ids {
                entries
                    .push(json!({"message_id": super::id_json(id), "to": recipients.last(), "status": "queued"}));
            }
            Reply::json(200, &Value::Array(entries))
        }
        Err(e) => v2_error(status_of(&e), e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smseagle_options_become_message_options() {
        let o = EagleOptions {
            priority: 1,
            flash: true,
            date: Some("202612241800".into()),
            send_after: Some("08:00:00".into()),
            send_before: Some("20:00".into()),
            validity: Some("1h".into()),
            ..Default::default()
        }
        .to_options()
        .unwrap();
        assert_eq!(o.priority, Priority::Urgent);
        assert!(o.flash);
        assert_eq!(
            o.send_at,
            Some(crate::options::SendAt::At("2026-12-24 18:00:00.000".into()))
        );
        let w = o.window.unwrap();
        assert_eq!((w.after, w.before), (Some(8 * 60), Some(20 * 60)));
        assert_eq!(o.ttl, Some(std::time::Duration::from_secs(3600)));
        let plain = EagleOptions {
            validity: Some("max".into()),
            ..Default::default()
        };
        assert_eq!(plain.to_options().unwrap(), Options::default());
        let bad = EagleOptions {
            date: Some("tomorrow".into()),
            ..Default::default()
        };
        assert_eq!(
            bad.to_options().unwrap_err(),
            "date 'tomorrow' is not YYYYmmDDHHMM"
        );
    }

    #[test]
    fn zabbix_encoded_texts_are_decoded() {
        assert_eq!(
            decode_v2_text("%5BPROBLEM%5D%20Disk%20full%0AHost%3A%20db1"),
            "[PROBLEM] Disk full\nHost: db1"
        );
        // typed texts are left alone
        for t in [
            "disk 100% full",
            "50%25 done but with spaces",
            "100%",
            "%zz",
            "%C3",
            "plain",
        ] {
            assert_eq!(decode_v2_text(t), t, "{t}");
        }
        assert_eq!(decode_v2_text("%C5%BElu%C5%A5ou%C4%8Dk%C3%BD"), "žluťoučký");
    }

    #[test]
    fn truthy_values() {
        assert!(truthy("1") && truthy("true") && truthy(" TRUE "));
        assert!(!truthy("0") && !truthy("false") && !truthy(""));
    }
}
