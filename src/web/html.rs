//! The pages: an overview (health, send form, latest messages) and the
//! queued / sent / failed / received lists with number search and paging.
//!
//! Every value from the database or the request goes through [`esc`] before
//! it is written into the page (received SMS and request texts are untrusted
//! input); every attribute value is double-quoted. There is no script, and
//! the Content-Security-Policy allows none.

use std::fmt::Write;

use super::form::{self, Params};
use super::{App, Reply, Req, modem_health, number_prefix, queue};
use crate::gsm::{self, Encoding};
use crate::intake::IntakeError;
use crate::options::{Options, Priority};
use crate::store::{
    CallOutcome, Coding, ErrorKind, ListFilter, QueueRow, RcvRow, ReportStatus, SmsRow, SmsStatus,
    StoreError,
};

pub const STYLE: &str = include_str!("style.css");

/// Rows per list page.
pub const PAGE: usize = 50;
/// Rows of each list on the overview.
const LATEST: usize = 10;

/// HTML-escapes text for element content and double-quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A stored time without its milliseconds, e.g. `2026-11-30 10:00:01`.
fn time(t: &str) -> String {
    esc(t.split('.').next().unwrap_or(t))
}

fn opt_time(t: Option<&str>) -> String {
    t.map(time).unwrap_or_default()
}

/// `95 s`, `12 min`, `3 h`, `2 d`.
pub fn age(secs: i64) -> String {
    let s = secs.max(0);
    if s < 120 {
        format!("{s} s")
    } else if s < 7200 {
        format!("{} min", s / 60)
    } else if s < 172_800 {
        format!("{} h", s / 3600)
    } else {
        format!("{} d", s / 86_400)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tab {
    Overview,
    Queued,
    Sent,
    Failed,
    Received,
    Groups,
    Checkins,
    Calls,
}

impl Tab {
    const ALL: [(Tab, &'static str, &'static str); 8] = [
        (Tab::Overview, "/", "Overview"),
        (Tab::Queued, "/queued", "Queued"),
        (Tab::Sent, "/sent", "Sent"),
        (Tab::Failed, "/failed", "Failed"),
        (Tab::Received, "/received", "Received"),
        (Tab::Groups, "/groups", "Groups"),
        (Tab::Checkins, "/checkins", "Check-ins"),
        (Tab::Calls, "/calls", "Calls"),
    ];

    fn from_path(path: &str) -> Tab {
        Tab::ALL
            .iter()
            .find(|(_, p, _)| *p == path)
            .map(|t| t.0)
            .unwrap_or(Tab::Overview)
    }

    fn path(self) -> &'static str {
        Tab::ALL
            .iter()
            .find(|t| t.0 == self)
            .map(|t| t.1)
            .unwrap_or("/")
    }

    fn title(self) -> &'static str {
        Tab::ALL
            .iter()
            .find(|t| t.0 == self)
            .map(|t| t.2)
            .unwrap_or("")
    }
}

fn layout(tab: Tab, user: &str, content: &str) -> String {
    let mut nav = String::new();
    for (t, path, title) in Tab::ALL {
        let current = if t == tab {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(nav, "<a href=\"{path}\"{current}>{title}</a>");
    }
    let who = if user.is_empty() {
        String::new()
    } else {
        format!("<span class=\"user\">{}</span>", esc(user))
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} · smss</title>\n<link rel=\"stylesheet\" href=\"/style.css\">\n</head>\n\
         <body>\n<header><h1><a href=\"/\">smss</a></h1><nav>{nav}</nav>{who}</header>\n\
         <main>\n{content}</main>\n</body>\n</html>\n",
        tab.title()
    )
}

fn db_error(e: &StoreError) -> String {
    log::error!("web: {e}");
    let shown = match e.kind() {
        ErrorKind::Unavailable | ErrorKind::Conflict => {
            "The database is unavailable; try again later."
        }
        _ => "The database answered with an error; see the server log.",
    };
    format!("<p class=\"error\" role=\"alert\">{shown}</p>\n")
}

/// GET of a page.
pub fn page(app: &App, req: &Req<'_>, user: &str) -> Reply {
    let tab = Tab::from_path(req.path);
    if tab == Tab::Overview {
        let notice = req
            .query
            .get("queued")
            .map(|ids| {
                let ids: Vec<String> = ids
                    .split(',')
                    .filter_map(|i| i.trim().parse::<i64>().ok())
                    .map(|i| format!("#{i}"))
                    .collect();
                format!(
                    "<p class=\"notice\" role=\"status\">Queued as {}. It shows under \
                     <a href=\"/sent\">Sent</a> once the modem has sent it.</p>\n",
                    ids.join(", ")
                )
            })
            .unwrap_or_default();
        let form = FormState::default();
        return Reply::html(200, overview(app, user, &notice, &form));
    }
    if tab == Tab::Groups {
        return Reply::html(200, groups_page(app, user));
    }
    if tab == Tab::Checkins {
        return Reply::html(200, checkins_page(app, user));
    }
    if tab == Tab::Calls {
        return Reply::html(200, calls_page(app, user));
    }
    Reply::html(200, list_page(app, req, tab, user))
}

/// The recipient groups (`@name` in any recipient field), read-only:
/// `smss group set|remove` changes them.
fn groups_page(app: &App, user: &str) -> String {
    let mut c = String::from(
        "<section>\n<h2>Groups</h2>\n<p>Send to every member with <code>@name</code> \
         wherever a number is asked for. Change them with <code>smss group set NAME \
         NUMBER...</code> and <code>smss group remove NAME</code>; a message already queued \
         keeps the members it was sent to.</p>\n",
    );
    match app.store.list_groups() {
        Ok(groups) => {
            const COLS: [&str; 4] = ["Group", "Members", "Escalate", "Changed"];
            c.push_str(&table_head(&COLS));
            if groups.is_empty() {
                c.push_str(&empty_row(COLS.len()));
            }
            for g in &groups {
                c.push_str(&row(
                    "group",
                    &[
                        ("Group", format!("@{}", esc(&g.name)), "group"),
                        ("Members", esc(&g.members.join(", ")), "number"),
                        (
                            "Escalate",
                            g.escalate.map_or_else(
                                || "all at once".to_owned(),
                                |d| {
                                    format!(
                                        "chain, every {}",
                                        crate::pager::clock::human(d.as_secs())
                                    )
                                },
                            ),
                            "time",
                        ),
                        ("Changed", time(&g.updated), "time"),
                    ],
                ));
            }
            c.push_str("</tbody>\n</table>\n");
        }
        Err(e) => c.push_str(&db_error(&e)),
    }
    c.push_str("</section>\n");
    c.push_str(&escalations(app));
    layout(Tab::Groups, user, &c)
}

/// The newest escalation chains with each step's SMS.
fn escalations(app: &App) -> String {
    use crate::store::{EscalationState, StepStatus};
    let mut c = String::from(
        "<section>\n<h2>Escalation chains</h2>\n<p>An alert to a group set with \
         <code>--escalate STEP</code> goes, urgent, to its first member; without an \
         <code>ACK</code> reply within STEP after it was sent, to the next. Times in UTC.</p>\n",
    );
    match app.store.escalations(false, 50) {
        Ok(list) => {
            const COLS: [&str; 6] = ["Chain", "Group", "State", "Started", "Text", "Steps"];
            c.push_str(&table_head(&COLS));
            if list.is_empty() {
                c.push_str(&empty_row(COLS.len()));
            }
            for x in &list {
                let n = x.members.len();
                let state = match x.state {
                    EscalationState::Active => format!("active, step {}/{n}", x.step),
                    EscalationState::Acked => format!(
                        "ACK by {} {}",
                        esc(x.acked_by.as_deref().unwrap_or("")),
                        opt_time(x.ended.as_deref())
                    ),
                    EscalationState::Exhausted => {
                        format!("exhausted {}", opt_time(x.ended.as_deref()))
                    }
                };
                let steps: Vec<String> = x
                    .steps
                    .iter()
                    .map(|st| {
                        let how = match &st.status {
                            StepStatus::Queued => "queued".to_owned(),
                            StepStatus::Sent { at, .. } => format!("sent {}", time(at)),
                            StepStatus::NotSent(status) => status.as_str().to_owned(),
                        };
                        format!("{}/{n} {} #{} {how}", st.step, esc(&st.phone), st.sms_id)
                    })
                    .collect();
                c.push_str(&row(
                    "escalation",
                    &[
                        ("Chain", format!("#{}", x.id), "id"),
                        ("Group", format!("@{}", esc(&x.group)), "group"),
                        ("State", state, "state"),
                        ("Started", time(&x.started), "time"),
                        ("Text", esc(&x.text), "text"),
                        ("Steps", steps.join("<br>"), "number"),
                    ],
                ));
            }
            c.push_str("</tbody>\n</table>\n");
        }
        Err(e) => c.push_str(&db_error(&e)),
    }
    c.push_str("</section>\n");
    c
}

/// The check-ins (dead-man's switches), read-only: a job reports with
/// `smss checkin NAME` or `/api/checkin/NAME`; `smss checkin add|remove`
/// changes them. Times in the server's local time.
fn checkins_page(app: &App, user: &str) -> String {
    use crate::pager::clock;
    let mut c = String::from(
        "<section>\n<h2>Check-ins</h2>\n<p>A job reports that it ran with <code>smss checkin \
         NAME</code>, <code>#?checkin NAME</code> on port 2021 or <code>/api/checkin/NAME</code>; \
         when it has not within its period and grace, one SMS goes to its recipients, and one \
         when it reports again. Add one with <code>smss checkin add NAME --every 24h --to \
         @group</code>, or by its first report with <code>every=</code> and <code>to=</code>. \
         Times are the server's local time.</p>\n",
    );
    match app.store.checkins() {
        Ok(list) => {
            const COLS: [&str; 6] = ["Check-in", "State", "Last seen", "Next due", "Every", "To"];
            c.push_str(&table_head(&COLS));
            if list.is_empty() {
                c.push_str(&empty_row(COLS.len()));
            }
            for k in &list {
                let every = format!(
                    "{} (+{} grace)",
                    clock::human(k.def.every.as_secs()),
                    clock::human(k.def.grace.as_secs())
                );
                c.push_str(&row(
                    "checkin",
                    &[
                        ("Check-in", esc(&k.def.name), "group"),
                        (
                            "State",
                            if k.late { "late" } else { "ok" }.to_owned(),
                            if k.late { "state late" } else { "state" },
                        ),
                        (
                            "Last seen",
                            k.last_seen.map_or_else(|| "never".into(), clock::local),
                            "time",
                        ),
                        ("Next due", clock::local(k.due_at()), "time"),
                        ("Every", every, "time"),
                        ("To", esc(&k.def.recipients.join(", ")), "number"),
                    ],
                ));
            }
            c.push_str("</tbody>\n</table>\n");
        }
        Err(e) => c.push_str(&db_error(&e)),
    }
    c.push_str("</section>\n");
    layout(Tab::Checkins, user, &c)
}

/// The most recent voice calls shown.
const CALLS_SHOWN: usize = 100;

/// The voice calls made after urgent SMS (`call-urgent`), newest first.
/// Times in the server's local time.
fn calls_page(app: &App, user: &str) -> String {
    use crate::pager::clock;
    let mut c = String::from(
        "<section>\n<h2>Calls</h2>\n<p>With <code>call-urgent = yes</code> the modem calls the \
         number of each urgent SMS it sent, lets it ring <code>call-ring</code> and hangs up: a \
         phone in silent mode still rings for a favourite. A number is not called again while \
         its last call ended less than <code>call-ring</code> ago. Times are the server's local \
         time.</p>\n",
    );
    match app.store.list_calls(CALLS_SHOWN, None) {
        Ok(list) => {
            const COLS: [&str; 6] = ["Call", "SMS", "To", "Outcome", "Rang", "Sender"];
            c.push_str(&table_head(&COLS));
            if list.is_empty() {
                c.push_str(&empty_row(COLS.len()));
            }
            for r in &list {
                let k = &r.call;
                let outcome = match &k.error {
                    Some(e) => format!("{}: {}", k.outcome, esc(e)),
                    None => k.outcome.to_string(),
                };
                let rang = format!(
                    "{} ({})",
                    clock::local(k.started),
                    clock::human(k.ended.saturating_sub(k.started).max(0).unsigned_abs())
                );
                c.push_str(&row(
                    "call",
                    &[
                        ("Call", r.id.to_string(), "id"),
                        ("SMS", format!("#{}", k.sms_id), "id"),
                        ("To", esc(&k.number), "number"),
                        ("Outcome", outcome, "state"),
                        ("Rang", rang, "time"),
                        ("Sender", esc(&k.sender), "via"),
                    ],
                ));
            }
            c.push_str("</tbody>\n</table>\n");
        }
        Err(e) => c.push_str(&db_error(&e)),
    }
    c.push_str("</section>\n");
    layout(Tab::Calls, user, &c)
}

/// Where a message came from: its source (the way in, a token's name)
/// and the group it was addressed to.
fn via(source: &str, group: Option<&str>) -> String {
    match group {
        Some(g) => format!("{} · @{}", esc(source), esc(g)),
        None => esc(source),
    }
}

/// What the send form shows.
#[derive(Default)]
struct FormState {
    to: String,
    text: String,
    priority: Priority,
    /// The character and part count, after "Count".
    count: Option<String>,
    error: Option<String>,
}

fn count_text(text: &str, max_parts: usize) -> String {
    let (encoding, parts) = gsm::plan(text);
    let coding = match encoding {
        Encoding::Gsm7 => "GSM 7-bit".to_owned(),
        Encoding::Gsm7Shift(language) => {
            format!("GSM 7-bit with the {} single shift table", language.name())
        }
        Encoding::Ucs2 => "UCS-2 (Unicode)".to_owned(),
    };
    let chars = text.chars().count();
    let over = if parts > max_parts {
        format!(" — over the limit of {max_parts}")
    } else {
        String::new()
    };
    format!(
        "{chars} characters, {coding}, {parts} SMS part{}{over}",
        if parts == 1 { "" } else { "s" }
    )
}

fn overview(app: &App, user: &str, notice: &str, form: &FormState) -> String {
    let mut c = String::from(notice);
    c.push_str(&health(app));
    c.push_str(&send_form_html(app, user, form));

    c.push_str("<section>\n<h2>Latest sent and failed</h2>\n");
    let filter = ListFilter {
        limit: LATEST,
        ..ListFilter::default()
    };
    match app.store.list_sms(&filter) {
        Ok(rows) => c.push_str(&sms_table(&rows, &call_outcomes(app, &rows))),
        Err(e) => c.push_str(&db_error(&e)),
    }
    c.push_str(
        "<p class=\"more\"><a href=\"/sent\">All sent</a> · <a href=\"/failed\">All failed</a></p>\n</section>\n",
    );

    c.push_str("<section>\n<h2>Latest received</h2>\n");
    match app.store.list_received(&filter) {
        Ok(rows) => c.push_str(&rcv_table(&rows)),
        Err(e) => c.push_str(&db_error(&e)),
    }
    c.push_str("<p class=\"more\"><a href=\"/received\">All received</a></p>\n</section>\n");

    c.push_str("<section>\n<h2>Queued <small>(in the order of sending)</small></h2>\n");
    let filter = ListFilter {
        send_order: true,
        ..filter
    };
    match app.store.list_queued(&filter) {
        Ok(rows) => c.push_str(&queue_table(&rows, app.settings.max_parts)),
        Err(e) => c.push_str(&db_error(&e)),
    }
    c.push_str("<p class=\"more\"><a href=\"/queued\">The whole queue</a></p>\n</section>\n");
    layout(Tab::Overview, user, &c)
}

fn health(app: &App) -> String {
    let mut items: Vec<(String, String)> = Vec::new();
    if let Some(told) = app.intake.spool().and_then(|s| s.state().describe()) {
        items.push((
            "Database".into(),
            format!("<p class=\"error\" role=\"alert\">{}</p>\n", esc(&told)),
        ));
    }
    match app.store.queue_stats() {
        Ok(q) => {
            let oldest = match q.oldest_age_secs {
                Some(a) => format!(", oldest {} ago", age(a)),
                None => String::new(),
            };
            items.push(("Queue".into(), format!("{} waiting{oldest}", q.depth)));
        }
        Err(e) => items.push(("Database".into(), db_error(&e))),
    }
    if let Ok(t) = app.store.totals() {
        let last = match (&t.last_sent, t.last_sent_age_secs) {
            (Some(at), Some(a)) => format!("{} UTC ({} ago)", time(at), age(a)),
            _ => "never".into(),
        };
        items.push(("Last sent".into(), last));
        items.push((
            "Totals".into(),
            format!(
                "{} sent, {} failed, {} received",
                t.sent, t.failed, t.received
            ),
        ));
        items.push((
            "Storms".into(),
            format!(
                "{} urgent queued, {} repeats merged, {} suppressed, {} expired",
                t.queued_urgent, t.merged, t.suppressed, t.expired
            ),
        ));
    }
    let modems = modem_health(app.store.as_ref(), &app.settings);
    if modems.is_empty() {
        items.push((
            "Modem".into(),
            "<span class=\"muted\">no health report yet</span>".into(),
        ));
    }
    for m in &modems {
        if let Some(why) = &m.retired {
            items.push((
                format!("Modem {}", esc(&m.instance)),
                format!(
                    "<span class=\"muted\">retired ({}; <code>smss status --forget</code> deletes the row)</span>",
                    esc(why)
                ),
            ));
            continue;
        }
        let signal = match m.signal {
            Some(s) if s <= 31 => format!("{s}/31"),
            _ => "unknown".into(),
        };
        let warnings = m
            .warnings
            .as_deref()
            .map(|w| format!("; warning: {}", esc(&w.replace('\n', "; "))))
            .unwrap_or_default();
        let memories = if m.memories.is_empty() {
            String::new()
        } else {
            let each: Vec<String> = m.memories.iter().map(|u| u.describe()).collect();
            format!("; memory {}", esc(&each.join(", ")))
        };
        items.push((
            format!("Modem {}", esc(&m.instance)),
            format!(
                "{} — {}, signal {signal}, {}{warnings}{memories}",
                esc(&m.model),
                if m.up { "up" } else { "down" },
                esc(&m.registration)
            ),
        ));
        for what in m.memories.iter().filter_map(|u| u.attention()) {
            items.push((
                "Attention".into(),
                format!(
                    "<span class=\"error\">{}: {}</span>",
                    esc(&m.instance),
                    esc(&what)
                ),
            ));
        }
    }
    let mut s = String::from("<section class=\"health\">\n<h2>Health</h2>\n<dl>\n");
    for (k, v) in items {
        let _ = writeln!(s, "<div><dt>{k}</dt><dd>{v}</dd></div>");
    }
    s.push_str("</dl>\n</section>\n");
    s
}

fn send_form_html(app: &App, user: &str, form: &FormState) -> String {
    let mut s = String::from("<section class=\"send\">\n<h2>Send an SMS</h2>\n");
    if let Some(e) = &form.error {
        let _ = writeln!(s, "<p class=\"error\" role=\"alert\">{}</p>", esc(e));
    }
    let _ = write!(
        s,
        "<form method=\"post\" action=\"/send\" accept-charset=\"UTF-8\">\n\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\n\
         <label for=\"to\">To <small>(one or more numbers or @groups, separated by commas)</small></label>\n\
         <input id=\"to\" name=\"to\" type=\"text\" autocomplete=\"off\" \
         placeholder=\"420608337726\" required value=\"{}\">\n\
         <label for=\"text\">Text</label>\n\
         <textarea id=\"text\" name=\"text\" rows=\"4\" required>{}</textarea>\n\
         <label for=\"priority\">Priority <small>(urgent goes before everything queued)</small></label>\n\
         <select id=\"priority\" name=\"priority\">{}</select>\n",
        esc(&app.csrf.token(user)),
        esc(&form.to),
        esc(&form.text),
        Priority::ALL
            .iter()
            .map(|p| format!(
                "<option value=\"{p}\"{}>{p}</option>",
                if *p == form.priority { " selected" } else { "" }
            ))
            .collect::<String>()
    );
    let count = form.count.clone().unwrap_or_else(|| {
        format!(
            "One SMS holds 160 GSM characters or 70 others; at most {} parts.",
            app.settings.max_parts
        )
    });
    let _ = write!(
        s,
        "<p class=\"count\" id=\"count\">{}</p>\n\
         <div class=\"buttons\"><button id=\"send\" name=\"action\" value=\"send\" class=\"primary\">Send</button>\n\
         <button id=\"count-button\" name=\"action\" value=\"count\">Count characters</button></div>\n\
         </form>\n</section>\n",
        esc(&count)
    );
    s
}

/// POST /send: the form's "Send" or "Count".
pub fn send_form(app: &App, req: &Req<'_>, user: &str, body: &[u8]) -> Reply {
    let params = Params::parse(body, app.settings.legacy_charset);
    let token_ok = params.get("csrf").is_some_and(|t| app.csrf.check(t, user));
    if !token_ok {
        log::warn!("web: {} send form without a valid token", req.peer);
        let content = "<section>\n<h2>The form has expired</h2>\n\
             <p class=\"error\" role=\"alert\">This form was not sent from a page of this server, \
             or it is too old (or the server was restarted since). Nothing was sent.</p>\n\
             <p><a href=\"/\">Open the form again</a></p>\n</section>\n";
        return Reply::html(403, layout(Tab::Overview, user, content));
    }
    // Browsers send a textarea's line breaks as CR LF.
    let text = params.get("text").unwrap_or("").replace("\r\n", "\n");
    let to = params.get("to").unwrap_or("").to_owned();
    let options = Options::from_fields(|k| params.get(k).map(str::to_owned));
    let mut form = FormState {
        to,
        text,
        priority: options.as_ref().map(|o| o.priority).unwrap_or_default(),
        ..FormState::default()
    };
    if params.get("action") == Some("count") {
        form.count = Some(count_text(&form.text, app.settings.max_parts));
        return Reply::html(200, overview(app, user, "", &form));
    }
    let options = match options {
        Ok(o) => o,
        Err(e) => {
            form.error = Some(format!("Not sent: {e}."));
            return Reply::html(422, overview(app, user, "", &form));
        }
    };
    let numbers = form::split_numbers(&form.to);
    match queue(app, &numbers, &form.text, &options, "web") {
        Ok(ids) => {
            let list: Vec<String> = ids.iter().map(ToString::to_string).collect();
            log::info!(
                "web: {}{} queued {} message(s): {}",
                req.peer,
                if user.is_empty() {
                    String::new()
                } else {
                    format!(" ({user})")
                },
                ids.len(),
                list.join(",")
            );
            Reply::redirect(format!("/?queued={}", list.join(",")))
        }
        Err(e) => {
            let status = match e {
                IntakeError::Rejected(_) => 422,
                IntakeError::Unavailable(_) | IntakeError::Failed(_) => 503,
            };
            form.error = Some(format!("Not sent: {e}."));
            form.count = Some(count_text(&form.text, app.settings.max_parts));
            Reply::html(status, overview(app, user, "", &form))
        }
    }
}

fn list_page(app: &App, req: &Req<'_>, tab: Tab, user: &str) -> String {
    let mut c = format!("<section>\n<h2>{}</h2>\n", tab.title());
    let typed = req.query.get("number").unwrap_or("").trim().to_owned();
    let prefix = number_prefix(&typed);
    let _ = write!(
        c,
        "<form method=\"get\" action=\"{}\" class=\"search\">\n\
         <label for=\"number\">Number starts with</label>\n\
         <input id=\"number\" name=\"number\" type=\"search\" inputmode=\"tel\" value=\"{}\">\n\
         <button>Search</button>\n</form>\n",
        tab.path(),
        esc(&typed)
    );
    if !typed.is_empty() && prefix.is_none() {
        c.push_str(
            "<p class=\"error\" role=\"alert\">Search by the beginning of a number: \
             digits, with a + in front if the number was stored with one.</p>\n</section>\n",
        );
        return layout(tab, user, &c);
    }
    let before = req.query.get("before").and_then(|b| b.parse::<i64>().ok());
    let filter = ListFilter {
        status: match tab {
            Tab::Sent => Some(SmsStatus::Sent),
            Tab::Failed => Some(SmsStatus::Failed),
            _ => None,
        },
        number_prefix: prefix.clone(),
        before_id: before,
        since: None,
        // one more than shown: is there an older page?
        limit: PAGE + 1,
        // the queue's first page as the modem will send it
        send_order: tab == Tab::Queued,
    };
    let (table, ids) = match tab {
        Tab::Queued => app.store.list_queued(&filter).map(|mut rows| {
            let more = rows.len() > PAGE;
            rows.truncate(PAGE);
            (
                queue_table(&rows, app.settings.max_parts),
                more_id(more, &rows, |r| r.id),
            )
        }),
        Tab::Received => app.store.list_received(&filter).map(|mut rows| {
            let more = rows.len() > PAGE;
            rows.truncate(PAGE);
            (rcv_table(&rows), more_id(more, &rows, |r| r.id))
        }),
        _ => app.store.list_sms(&filter).map(|mut rows| {
            let more = rows.len() > PAGE;
            rows.truncate(PAGE);
            (
                sms_table(&rows, &call_outcomes(app, &rows)),
                more_id(more, &rows, |r| r.id),
            )
        }),
    }
    .unwrap_or_else(|e| (db_error(&e), None));
    c.push_str(&table);
    let number_param = prefix
        .as_deref()
        .map(|p| format!("&amp;number={}", form::encode(p)))
        .unwrap_or_default();
    let mut links = Vec::new();
    if before.is_some() {
        let first = match &prefix {
            Some(p) => format!("{}?number={}", tab.path(), form::encode(p)),
            None => tab.path().to_owned(),
        };
        links.push(format!("<a href=\"{first}\">← Newest</a>"));
    }
    if let Some(last) = ids {
        links.push(format!(
            "<a href=\"{}?before={last}{number_param}\" rel=\"next\">Older →</a>",
            tab.path()
        ));
    }
    if !links.is_empty() {
        let _ = writeln!(c, "<p class=\"pager\">{}</p>", links.join(" "));
    }
    c.push_str("</section>\n");
    layout(tab, user, &c)
}

/// The id to page on from, when there is an older page.
fn more_id<T>(more: bool, rows: &[T], id: impl Fn(&T) -> i64) -> Option<i64> {
    if more { rows.last().map(id) } else { None }
}

fn empty_row(cols: usize) -> String {
    format!("<tr><td colspan=\"{cols}\" class=\"empty\">Nothing here.</td></tr>\n")
}

fn table_head(cols: &[&str]) -> String {
    let mut s = String::from("<table class=\"list\">\n<thead><tr>");
    for c in cols {
        let _ = write!(s, "<th>{c}</th>");
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    s
}

/// One row; `cells` are (label, already escaped HTML, class).
fn row(class: &str, cells: &[(&str, String, &str)]) -> String {
    let mut s = format!("<tr class=\"{class}\">");
    for (label, html, cell_class) in cells {
        let class = if cell_class.is_empty() {
            String::new()
        } else {
            format!(" class=\"{cell_class}\"")
        };
        let _ = write!(s, "<td data-label=\"{label}\"{class}>{html}</td>");
    }
    s.push_str("</tr>\n");
    s
}

const SMS_COLS: [&str; 9] = [
    "#", "Number", "Via", "Text", "Queued", "Sent", "Parts", "Status", "Error",
];

/// The outcome of the call after each of `rows` that has one; none when
/// the database cannot tell (the list is shown without them).
fn call_outcomes(app: &App, rows: &[SmsRow]) -> Vec<(i64, CallOutcome)> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    app.store.call_outcomes(&ids).unwrap_or_else(|e| {
        log::warn!("web: the calls of the listed messages: {e}");
        Vec::new()
    })
}

fn sms_table(rows: &[SmsRow], calls: &[(i64, CallOutcome)]) -> String {
    let mut s = table_head(&SMS_COLS);
    if rows.is_empty() {
        s.push_str(&empty_row(SMS_COLS.len()));
    }
    for r in rows {
        s.push_str(&row(
            &format!("status-{}", r.status.as_str()),
            &[
                ("#", r.id.to_string(), "id"),
                ("Number", esc(&r.phone), "number"),
                ("Via", via(&r.source, r.group.as_deref()), "via"),
                ("Text", esc(&r.text), "text"),
                ("Queued", time(&r.queued_at), "time"),
                ("Sent", opt_time(r.sent_at.as_deref()), "time"),
                ("Parts", r.parts.to_string(), "num"),
                (
                    "Status",
                    format!(
                        "{}{}{}{}",
                        status_with_report(r.status, r.report_status),
                        storm_notes(r.priority, r.repeats, r.coalesced_into),
                        match &r.acked {
                            Some((at, by)) => format!(
                                " · ACK by {} {}",
                                esc(by),
                                crate::pager::clock::local(*at)
                            ),
                            None => String::new(),
                        },
                        match calls.iter().find(|(id, _)| *id == r.id) {
                            Some((_, outcome)) => format!(" · call {outcome}"),
                            None => String::new(),
                        }
                    ),
                    "status",
                ),
                ("Error", esc(r.error.as_deref().unwrap_or("")), "error"),
            ],
        ));
    }
    s.push_str("</tbody>\n</table>\n");
    s
}

const QUEUE_COLS: [&str; 9] = [
    "#", "Number", "Via", "Text", "Queued", "Next try", "Parts", "Status", "Error",
];

fn queue_table(rows: &[QueueRow], max_parts: usize) -> String {
    let mut s = table_head(&QUEUE_COLS);
    if rows.is_empty() {
        s.push_str(&empty_row(QUEUE_COLS.len()));
    }
    for r in rows {
        let (_, parts) = gsm::plan(&r.text);
        let status = if r.sending {
            "sending".to_owned()
        } else if r.attempts > 0 {
            format!("retry {}", r.attempts)
        } else {
            "queued".to_owned()
        };
        let parts = if r.parts_done > 0 {
            format!("{}/{parts}", r.parts_done)
        } else if parts > max_parts {
            format!("{parts} (over {max_parts})")
        } else {
            parts.to_string()
        };
        s.push_str(&row(
            "status-queued",
            &[
                ("#", r.id.to_string(), "id"),
                ("Number", esc(&r.phone), "number"),
                ("Via", via(&r.source, r.group.as_deref()), "via"),
                ("Text", esc(&r.text), "text"),
                ("Queued", time(&r.created), "time"),
                ("Next try", opt_time(r.next_attempt.as_deref()), "time"),
                ("Parts", parts, "num"),
                (
                    "Status",
                    format!("{status}{}", storm_notes(r.priority, r.repeats, None)),
                    "status",
                ),
                ("Error", esc(r.last_error.as_deref().unwrap_or("")), "error"),
            ],
        ));
    }
    s.push_str("</tbody>\n</table>\n");
    s
}

const RCV_COLS: [&str; 7] = [
    "#",
    "From",
    "Text",
    "Kind",
    "Received",
    "SMSC time",
    "Parts",
];

fn rcv_table(rows: &[RcvRow]) -> String {
    let mut s = table_head(&RCV_COLS);
    if rows.is_empty() {
        s.push_str(&empty_row(RCV_COLS.len()));
    }
    for r in rows {
        // A silent message alerts no one and a replaced one is history:
        // both are shown muted.
        let class = if r.silent() {
            "status-received status-silent"
        } else if r.replaced_by.is_some() {
            "status-received status-replaced"
        } else {
            "status-received"
        };
        let smsc_time = if r.smsc_time.is_empty() && r.coding != Coding::Raw {
            "unknown".to_owned()
        } else {
            esc(&r.smsc_time)
        };
        s.push_str(&row(
            class,
            &[
                ("#", r.id.to_string(), "id"),
                ("From", esc(&r.sender), "number"),
                ("Text", esc(&r.text), "text"),
                ("Kind", received_kind(r), "kind"),
                ("Received", time(&r.received_at), "time"),
                ("SMSC time", smsc_time, "time"),
                ("Parts", received_parts(r.parts, r.complete), "num"),
            ],
        ));
    }
    s.push_str("</tbody>\n</table>\n");
    s
}

/// What is not a plain text message about a received one (HTML, escaped):
/// its type (TP-PID), its application ports (a WAP push is named), 8-bit
/// data or an undecoded PDU shown as hex. Empty for a plain message.
pub(super) fn received_kind(r: &RcvRow) -> String {
    let mut kinds: Vec<String> = Vec::new();
    if r.silent() {
        kinds.push("silent (type 0)".into());
    } else if let Some(n) = gsm::replace_type(r.pid) {
        kinds.push(format!("replace type {n}"));
    } else if r.pid != 0 {
        kinds.push(format!("TP-PID {:#04x}", r.pid));
    }
    if let Some(by) = r.replaced_by {
        kinds.push(format!("replaced by #{by}"));
    }
    if let Some(p) = r.ports {
        let app = p
            .application()
            .map(|a| format!(" ({a})"))
            .unwrap_or_default();
        kinds.push(format!(
            "to port {}{app} from port {}",
            p.destination, p.source
        ));
    }
    match r.coding {
        Coding::Decoded(gsm::DataCoding::EightBit) => kinds.push("8-bit data, as hex".into()),
        Coding::Raw => kinds.push("undecoded PDU, as hex".into()),
        Coding::Decoded(_) => {}
    }
    kinds.join("; ")
}

/// `sent`, or `sent, delivered` once a delivery report came.
/// What a status cell adds for alert storms: a priority other than
/// normal, the repeats merged into the message, the message it repeated
/// (suppressed) or carried it (a digest line).
fn storm_notes(priority: Priority, repeats: u32, into: Option<i64>) -> String {
    let mut notes = String::new();
    if priority != Priority::Normal {
        let _ = write!(notes, ", {priority}");
    }
    if repeats > 0 {
        let _ = write!(notes, ", +{repeats} merged");
    }
    if let Some(id) = into {
        let _ = write!(notes, ", with #{id}");
    }
    notes
}

fn status_with_report(status: SmsStatus, report: Option<ReportStatus>) -> String {
    match report {
        Some(r) => format!("{}, {}", status.as_str(), r.as_str()),
        None => status.as_str().to_owned(),
    }
}

/// A joined message's part count; an incomplete one says so.
fn received_parts(parts: u32, complete: bool) -> String {
    if complete {
        parts.to_string()
    } else {
        format!("{parts} (incomplete)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            esc("<script>alert(1)</script> & \"x\" 'y'"),
            "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot; &#39;y&#39;"
        );
        assert_eq!(esc("Příliš 😀"), "Příliš 😀");
    }

    #[test]
    fn untrusted_rows_are_escaped() {
        let evil = "<img src=x onerror=alert(1)>\"'&";
        let html = rcv_table(&[RcvRow {
            id: 1,
            sender: evil.into(),
            text: evil.into(),
            smsc_time: evil.into(),
            received_at: "2026-11-30 10:00:00.000".into(),
            parts: 1,
            coding: crate::store::Coding::Decoded(gsm::DataCoding::Gsm7),
            complete: true,
            pid: 0,
            ports: None,
            replaced_by: None,
        }]);
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;"));
        let html = sms_table(
            &[SmsRow {
                id: 2,
                phone: evil.into(),
                text: evil.into(),
                source: evil.into(),
                queued_at: evil.into(),
                sent_at: Some(evil.into()),
                // (status and report_status are enums: no client's text in them)
                status: SmsStatus::Failed,
                parts: 1,
                part_refs: String::new(),
                error: Some(evil.into()),
                attempts: 0,
                sent_by: String::new(),
                report_status: Some(ReportStatus::Failed),
                group: Some(evil.into()),
                priority: Priority::Urgent,
                repeats: 0,
                coalesced_into: None,
                acked: Some((0, evil.into())),
            }],
            &[(2, CallOutcome::NoAnswer)],
        );
        assert!(html.contains(" · call no answer"), "{html}");
        assert!(!html.contains("<img") && !html.contains("\"'"), "{html}");
    }

    #[test]
    fn received_kinds_are_shown() {
        let base = RcvRow {
            id: 7,
            sender: "+420608337726".into(),
            text: "hi".into(),
            smsc_time: String::new(),
            received_at: "2026-11-30 10:00:00.000".into(),
            parts: 1,
            coding: Coding::Decoded(gsm::DataCoding::Gsm7),
            complete: true,
            pid: 0,
            ports: None,
            replaced_by: None,
        };
        assert_eq!(received_kind(&base), "");
        let silent = RcvRow {
            pid: 0x40,
            ..base.clone()
        };
        assert_eq!(received_kind(&silent), "silent (type 0)");
        let html = rcv_table(&[silent]);
        assert!(html.contains("status-silent"), "{html}");
        // An unknown SMSC time (an invalid time stamp) says so.
        assert!(html.contains(">unknown<"), "{html}");
        let replaced = RcvRow {
            pid: 0x41,
            replaced_by: Some(9),
            ..base.clone()
        };
        assert_eq!(received_kind(&replaced), "replace type 1; replaced by #9");
        assert!(rcv_table(&[replaced]).contains("status-replaced"));
        let push = RcvRow {
            coding: Coding::Decoded(gsm::DataCoding::EightBit),
            ports: Some(gsm::Ports {
                destination: 2948,
                source: 9200,
            }),
            ..base.clone()
        };
        assert_eq!(
            received_kind(&push),
            "to port 2948 (WAP push) from port 9200; 8-bit data, as hex"
        );
        assert!(rcv_table(&[push]).contains("WAP push"));
        let raw = RcvRow {
            coding: Coding::Raw,
            ..base
        };
        assert_eq!(received_kind(&raw), "undecoded PDU, as hex");
        assert_eq!(
            count_text(&format!("{} ş", "x".repeat(80)), 10),
            "82 characters, GSM 7-bit with the Turkish single shift table, 1 SMS part"
        );
    }

    #[test]
    fn ages_and_counts() {
        assert_eq!(age(5), "5 s");
        assert_eq!(age(600), "10 min");
        assert_eq!(age(3 * 3600), "3 h");
        assert_eq!(age(3 * 86_400), "3 d");
        assert_eq!(
            count_text("AHOJ", 10),
            "4 characters, GSM 7-bit, 1 SMS part"
        );
        assert_eq!(
            count_text(&"ž".repeat(71), 1),
            "71 characters, UCS-2 (Unicode), 2 SMS parts — over the limit of 1"
        );
    }
}
