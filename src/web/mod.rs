//! The web interface and HTTP API of `serve` (when `web-listen` is set).
//!
//! * [`front`]: the TCP listener with the limits tiny_http lacks (allowlist
//!   hook, connection bound, timeouts, size limits); passes each checked
//!   request to tiny_http over a private Unix socket.
//! * this file: start/stop, a fixed number of worker threads taking requests
//!   from tiny_http, routing, authentication, the security headers.
//! * [`html`]: the pages (server-rendered, every value escaped, no script).
//! * [`api`]: `POST /api/send`, `GET /api/messages`, the Kannel-compatible
//!   `/cgi-bin/sendsms`; [`metrics`]: `GET /metrics` for Prometheus.
//! * [`guard`]: who may ask, decided by the front from the request head:
//!   [`host`] (the `Host`/`Origin` rule against DNS rebinding), [`auth`]
//!   (HTTP Basic against the [`crate::password`] hashes, with a cache of
//!   verified logins; a few Argon2 runs at once, in reused memory),
//!   [`throttle`] (one check at a time per peer, a growing delay after
//!   wrong passwords); [`csrf`]: form tokens and the cross-site check;
//!   [`form`]: urlencoded parameters.
//!
//! Everything is read through the [`Store`] trait (SQLite and MySQL alike);
//! a message is queued by [`queue`], the web's call of [`Intake::submit`]
//! (the rules of a TCP line, one `Store::enqueue`, then the wake-up of the
//! modem threads), as every way in does.

use std::io::Read;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::unix::net::UnixListener;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::config::Settings;
use crate::intake::{self, Intake, IntakeError, MsgId};
use crate::listener::{Listener, Stopper};
use crate::options::Options;
use crate::store::Store;

pub mod alertmanager;
pub mod alerts;
pub mod api;
pub mod auth;
pub mod checkin;
pub mod csrf;
pub mod form;
pub mod front;
pub mod guard;
pub mod host;
pub mod html;
pub mod metrics;
pub mod smseagle;
pub mod throttle;

/// Threads answering requests (each request is short: a few queries).
const WORKERS: usize = 4;
/// Default address of `serve --demo`.
pub const DEMO_LISTEN: &str = "127.0.0.1:8025";

/// One modem's health for the panel and `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModemHealth {
    /// The sender's instance name (one row per modem across the cluster).
    pub instance: String,
    pub model: String,
    /// 0..=31 as `AT+CSQ` reports it (99 = unknown).
    pub signal: Option<u8>,
    pub registration: String,
    pub up: bool,
    /// What works only in part (a memory that cannot be read).
    pub warnings: Option<String>,
    /// What the message memories hold.
    pub memories: Vec<crate::store::SimMemory>,
    /// Why the sender counts as retired (`smss status`'s rule): shown as
    /// such on the panel, left out of `/metrics`.
    pub retired: Option<String>,
}

/// A modem whose last check is older than this counts as down.
const HEALTH_STALE_SECS: i64 = 300;

/// Every modem's health as the senders last recorded it in the `modem`
/// table, by instance name; empty when none reported (or no database).
pub fn modem_health(store: &dyn Store, settings: &Settings) -> Vec<ModemHealth> {
    let rows = store.modem_health().unwrap_or_default();
    rows.into_iter()
        .map(|m| ModemHealth {
            retired: crate::commands::retired(&m, settings),
            model: if m.model.is_empty() {
                m.device.clone()
            } else {
                m.model.clone()
            },
            signal: m.rssi,
            registration: m.registration.clone().unwrap_or_else(|| "unknown".into()),
            up: m.healthy && m.checked_age_secs <= HEALTH_STALE_SECS,
            warnings: m.warnings,
            memories: m.sim_memories,
            instance: m.instance,
        })
        .collect()
}

/// Everything a request handler needs.
pub struct App {
    /// `max-parts`, `legacy-charset` and `allow` (the allowlist of port 2021
    /// applies here too) as for the TCP requests; the `web-*` and
    /// `kannel-*` settings.
    pub settings: Settings,
    pub store: Arc<dyn Store>,
    pub intake: Intake,
    pub csrf: csrf::Csrf,
    /// Whether every request needs the web password (not bound to loopback,
    /// or a password configured anyway). The front has checked it; its
    /// `X-Smss-User` names the user.
    pub require_auth: bool,
}

/// A running web interface; stopped by [`Web::shutdown`] (or dropped).
pub struct Web {
    addr: SocketAddr,
    /// The front's accept loop and the workers share its stop flag.
    stopper: Stopper,
    threads: Vec<JoinHandle<()>>,
    dir: PathBuf,
}

impl Web {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn shutdown(mut self) {
        self.stop_threads();
    }

    fn stop_threads(&mut self) {
        self.stopper.stop();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Web {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.stop_threads();
        }
    }
}

fn random_key() -> Result<[u8; 32], String> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| format!("no random numbers from the system: {e}"))?;
    Ok(key)
}

const PRIVATE_DIR_PREFIX: &str = "smss-web-";

/// A private directory for the Unix socket between the front and tiny_http,
/// in the temp directory (`$TMPDIR`, else /tmp; systemd's `PrivateTmp`
/// gives the service its own): `smss-web-<pid>-<random>`, created 0700 and
/// never reused, so another user cannot prepare it. What a process killed
/// with SIGKILL left behind is removed here, at the next start.
fn private_dir() -> Result<PathBuf, String> {
    use std::os::unix::fs::DirBuilderExt;
    let base = std::env::temp_dir();
    remove_stale_private_dirs(&base);
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|e| format!("no random numbers from the system: {e}"))?;
    let dir = base.join(format!(
        "{PRIVATE_DIR_PREFIX}{}-{}",
        std::process::id(),
        crate::gsm::to_hex(&random)
    ));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

/// Removes `smss-web-<pid>-*` directories in `base` whose process is gone.
/// Best effort: one that cannot be removed (another user's) is left.
fn remove_stale_private_dirs(base: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PRIVATE_DIR_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let running =
            pid == std::process::id() || std::path::Path::new(&format!("/proc/{pid}")).exists();
        if !running && entry.file_type().is_ok_and(|t| t.is_dir()) {
            match std::fs::remove_dir_all(entry.path()) {
                Ok(()) => log::debug!("removed {} (its serve is gone)", entry.path().display()),
                Err(e) => log::debug!("cannot remove stale {}: {e}", entry.path().display()),
            }
        }
    }
}

/// The address the web interface would listen on (`None`: off), after the
/// checks `start` makes first: an address, and a password unless it is a
/// loopback one. `serve --check` runs the same.
pub fn listen_address(settings: &Settings) -> Result<Option<SocketAddr>, String> {
    let Some(listen) = settings.web_listen.clone() else {
        return Ok(None);
    };
    let addrs: Vec<SocketAddr> = listen
        .to_socket_addrs()
        .map_err(|e| format!("web-listen {listen}: {e}"))?
        .collect();
    let Some(first) = addrs.first() else {
        return Err(format!("web-listen {listen}: no address"));
    };
    if !first.ip().is_loopback() && settings.web_password_hash.is_none() {
        return Err(format!(
            "web-listen {listen} is not a loopback address, so the web interface needs a password: \
             set web-password-hash (make one with `smss hash-password`) and web-user \
             (default admin), or listen on 127.0.0.1"
        ));
    }
    Ok(Some(*first))
}

/// Binds `web-listen` and starts the front and the workers; sends go to
/// `intake`. `None` when `web-listen` is not set.
pub fn start(
    settings: Settings,
    store: Arc<dyn Store>,
    intake: Intake,
) -> Result<Option<Web>, String> {
    let Some(first) = listen_address(&settings)? else {
        return Ok(None);
    };
    let stop = Arc::new(AtomicBool::new(false));
    let listener = Listener::bind(first, Arc::clone(&stop))
        .map_err(|e| format!("cannot listen on {first} (web-listen): {e}"))?;
    let addr = listener.addr();
    let stopper = listener.stopper();

    let dir = private_dir()?;
    let socket = dir.join("http.sock");
    let unix = UnixListener::bind(&socket)
        .map_err(|e| format!("cannot create {}: {e}", socket.display()))?;
    let tiny = Arc::new(
        tiny_http::Server::from_listener(unix, None)
            .map_err(|e| format!("cannot start the HTTP server: {e}"))?,
    );

    let account = |user: &str, hash: &str| {
        auth::Account::new(user, hash).map_err(|e| format!("password hash of {user}: {e}"))
    };
    let web_account = match &settings.web_password_hash {
        Some(hash) => Some(account(&settings.web_user, hash)?),
        None => None,
    };
    let kannel_user = settings
        .kannel_user
        .clone()
        .unwrap_or_else(|| settings.web_user.clone());
    let kannel_account = match (&settings.kannel_password_hash, &settings.web_password_hash) {
        (Some(hash), _) | (None, Some(hash)) => Some(account(&kannel_user, hash)?),
        (None, None) => None,
    };
    let accounts: Vec<&auth::Account> = web_account.iter().chain(&kannel_account).collect();
    let verifier = auth::Verifier::new(random_key()?, settings.web_auth_concurrency, &accounts);
    // The machine's own name is never a rebound one: `http://HOSTNAME:port/`
    // works without configuring it.
    let names: Vec<String> = settings
        .web_host
        .iter()
        .cloned()
        .chain(crate::config::host_name())
        .collect();
    let hosts = host::HostRule::new(addr, &names);
    let allowed_hosts = hosts.describe();
    let guard = Arc::new(
        guard::Guard::new(
            hosts,
            settings.legacy_charset,
            web_account,
            kannel_account,
            verifier,
            throttle::Throttle::new(settings.web_auth_delay, settings.web_auth_max_delay),
        )
        .with_tokens(Arc::clone(&store))
        .with_spool(intake.spool().cloned()),
    );
    let app = Arc::new(App {
        require_auth: guard.web_needs_password(),
        csrf: csrf::Csrf::new(random_key()?),
        settings,
        store,
        intake,
    });

    let mut threads = Vec::new();
    for i in 0..WORKERS {
        let (app, tiny, stop) = (Arc::clone(&app), Arc::clone(&tiny), Arc::clone(&stop));
        threads.push(
            thread::Builder::new()
                .name(format!("web worker {i}"))
                .spawn(move || worker(&app, &tiny, &stop))
                .map_err(|e| e.to_string())?,
        );
    }
    {
        let front_limits = front::Limits {
            allow: app.settings.allow.clone(),
            max_connections: app.settings.web_max_connections,
            max_per_peer: app.settings.web_max_connections_per_peer,
            head_timeout: app.settings.web_head_timeout,
            ..front::Limits::default()
        };
        threads.push(
            thread::Builder::new()
                .name("web accept".into())
                .spawn(move || front::run(listener, socket, front_limits, guard))
                .map_err(|e| e.to_string())?,
        );
    }
    log::info!(
        "web UI on http://{addr}/ ({}; answers to {allowed_hosts})",
        if app.require_auth {
            "HTTP Basic authentication"
        } else {
            "loopback, no password"
        }
    );
    Ok(Some(Web {
        addr,
        stopper,
        threads,
        dir,
    }))
}

fn worker(app: &App, tiny: &tiny_http::Server, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match tiny.recv_timeout(Duration::from_millis(250)) {
            Ok(Some(rq)) => handle(app, rq),
            Ok(None) => {}
            Err(e) => {
                log::warn!("web: {e}");
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// An answer before the security headers are added.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            content_type,
            body: body.into(),
            headers: Vec::new(),
        }
    }

    pub fn html(status: u16, body: String) -> Reply {
        Reply::new(status, "text/html; charset=utf-8", body)
    }

    pub fn text(status: u16, body: impl std::fmt::Display) -> Reply {
        Reply::new(status, "text/plain; charset=utf-8", format!("{body}\n"))
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Reply {
        Reply::new(status, "application/json", format!("{value}\n"))
    }

    /// `303 See Other` to a path of ours.
    pub fn redirect(location: String) -> Reply {
        Reply::text(303, "see other").header("Location", location)
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    fn into_response(self) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
        const SECURITY: [(&str, &str); 7] = [
            ("X-Content-Type-Options", "nosniff"),
            ("X-Frame-Options", "DENY"),
            (
                "Content-Security-Policy",
                "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                 frame-ancestors 'none'; base-uri 'none'",
            ),
            ("Referrer-Policy", "same-origin"),
            ("Cache-Control", "no-store"),
            ("Cross-Origin-Opener-Policy", "same-origin"),
            ("Cross-Origin-Resource-Policy", "same-origin"),
        ];
        let mut response = tiny_http::Response::from_data(self.body).with_status_code(self.status);
        let mut add = |name: &str, value: &str| {
            if let Ok(h) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
                response.add_header(h);
            }
        };
        add("Content-Type", self.content_type);
        for (name, value) in SECURITY {
            add(name, value);
        }
        for (name, value) in &self.headers {
            add(name, value);
        }
        response
    }
}

/// A request as the handlers see it.
pub struct Req<'a> {
    pub method: &'a tiny_http::Method,
    pub path: &'a str,
    pub query: form::Params,
    /// The query as it came (Kannel's `charset=` decodes `text` anew).
    pub raw_query: &'a str,
    pub peer: String,
    headers: &'a [tiny_http::Header],
}

impl Req<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    fn cross_site(&self) -> bool {
        csrf::cross_site(
            self.header("Sec-Fetch-Site"),
            self.header("Origin"),
            self.header("Host"),
        )
    }
}

fn handle(app: &App, mut rq: tiny_http::Request) {
    let started = Instant::now();
    let url = rq.url().to_owned();
    let method = rq.method().clone();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let mut body = Vec::new();
    let read = rq
        .as_reader()
        .take(front::MAX_BODY as u64 + 1)
        .read_to_end(&mut body);
    let headers = rq.headers().to_vec();
    let req = Req {
        method: &method,
        path,
        query: form::Params::parse(query.as_bytes(), app.settings.legacy_charset),
        raw_query: query,
        peer: headers
            .iter()
            .find(|h| h.field.equiv("X-Smss-Peer"))
            .map(|h| h.value.to_string())
            .unwrap_or_else(|| "-".into()),
        headers: &headers,
    };
    let reply = match read {
        Err(e) => Reply::text(400, format!("cannot read the request body: {e}")),
        Ok(_) => catch_unwind(AssertUnwindSafe(|| route(app, &req, &body))).unwrap_or_else(|_| {
            log::error!("web: {} {method} {path}: internal error (panic)", req.peer);
            Reply::text(500, "internal error, see the server log")
        }),
    };
    let status = reply.status;
    if let Err(e) = rq.respond(reply.into_response()) {
        log::debug!("web: {} {method} {path}: cannot answer: {e}", req.peer);
    }
    log::debug!(
        "web: {} {method} {path} {status} ({} ms)",
        req.peer,
        started.elapsed().as_millis()
    );
}

fn route(app: &App, req: &Req<'_>, body: &[u8]) -> Reply {
    use tiny_http::Method::{Get, Head, Post};
    // Kannel clients put their credentials in the query, not in Basic.
    if req.path == "/cgi-bin/sendsms" {
        return match req.method {
            // not HEAD: it would queue a message
            Get | Post => api::kannel_sendsms(app, req, body),
            _ => not_allowed("GET, POST"),
        };
    }
    let user = match authorize(app, req) {
        Ok(u) => u,
        Err(reply) => return reply,
    };
    if matches!(req.method, Post) && req.cross_site() {
        log::warn!(
            "web: {} refused a cross-site POST to {}",
            req.peer,
            req.path
        );
        return Reply::text(403, "cross-site request refused");
    }
    let get = matches!(req.method, Get | Head);
    match req.path {
        "/" | "/queued" | "/sent" | "/failed" | "/received" | "/groups" | "/checkins"
        | "/calls"
            if get =>
        {
            html::page(app, req, &user)
        }
        "/send" if matches!(req.method, Post) => html::send_form(app, req, &user, body),
        "/style.css" if get => Reply::new(200, "text/css; charset=utf-8", html::STYLE),
        "/api/send" | "/api/webhook" if matches!(req.method, Get | Post) => {
            if req.path == "/api/send" {
                api::send(app, req, &user, body)
            } else {
                api::webhook(app, req, &user, body)
            }
        }
        "/api/alertmanager" if matches!(req.method, Post) => {
            alertmanager::alertmanager(app, req, &user, body)
        }
        "/http_api/send_sms" | "/http_api/send_togroup" if matches!(req.method, Get | Post) => {
            let to_group = req.path == "/http_api/send_togroup";
            smseagle::http_api(app, req, &user, body, to_group)
        }
        "/api/v2/messages/sms" if matches!(req.method, Post) => {
            smseagle::v2_sms(app, req, &user, body)
        }
        "/api/grafana" if matches!(req.method, Post) => {
            alertmanager::grafana(app, req, &user, body)
        }
        p if p.starts_with("/api/checkin/") => match req.method {
            Get | Post => checkin::checkin(app, req, &p["/api/checkin/".len()..], body),
            _ => not_allowed("GET, POST"),
        },
        "/api/messages" if get => api::messages(app, req),
        "/metrics" if get => metrics::metrics(app),
        "/" | "/queued" | "/sent" | "/failed" | "/received" | "/groups" | "/checkins"
        | "/calls" | "/style.css" | "/api/messages" | "/metrics" => not_allowed("GET, HEAD"),
        "/send" | "/api/alertmanager" | "/api/grafana" | "/api/v2/messages/sms" => {
            not_allowed("POST")
        }
        "/api/send" | "/api/webhook" | "/http_api/send_sms" | "/http_api/send_togroup" => {
            not_allowed("GET, POST")
        }
        _ => Reply::text(404, "not found"),
    }
}

fn not_allowed(allow: &'static str) -> Reply {
    Reply::text(405, "method not allowed").header("Allow", allow)
}

/// The user name of an authenticated request ("" when no password is
/// needed), or the `401` to answer. The front has checked the credentials
/// before the request came here and names the user in `X-Smss-User` (a
/// client's own is dropped); the check here is the second line.
fn authorize(app: &App, req: &Req<'_>) -> Result<String, Reply> {
    match req.header("X-Smss-User") {
        Some(user) if !user.is_empty() => Ok(user.to_owned()),
        _ if !app.require_auth => Ok(String::new()),
        _ => Err(Reply::text(401, "authentication required").header(
            "WWW-Authenticate",
            "Basic realm=\"smss\", charset=\"UTF-8\"",
        )),
    }
}

/// The web's ways in (the send form, `/api/send`, `/cgi-bin/sendsms`):
/// one request per number with the same text, through [`Intake::submit`]
/// (validated as a TCP line is, all or nothing, then the modem threads are
/// woken). A store failure is logged here; the caller answers.
pub fn queue(
    app: &App,
    numbers: &[String],
    text: &str,
    options: &Options,
    source: &str,
) -> Result<Vec<MsgId>, IntakeError> {
    app.intake
        .submit(&intake::to_each_with(numbers, text, options), source)
        .inspect_err(|e| {
            if let Some(cause) = e.store_error() {
                log::error!("web: cannot queue: {cause}");
            }
        })
}

/// The ids of accepted messages in a JSON answer: a number for a row of
/// the database's queue, `"L17"` for one in the local spool (the database
/// was unreachable).
pub fn ids_json(ids: &[MsgId]) -> serde_json::Value {
    ids.iter().copied().map(id_json).collect()
}

/// One id of [`ids_json`].
pub fn id_json(id: MsgId) -> serde_json::Value {
    match id {
        MsgId::Queued(n) => serde_json::Value::from(n),
        MsgId::Spooled(_) => serde_json::Value::from(id.to_string()),
    }
}

/// Whether a path is part of the HTTP API (tokens accepted; the HTML
/// pages keep Basic authentication).
pub fn is_api(path: &str) -> bool {
    path.starts_with("/api/")
        || path.starts_with("/http_api/")
        || path == "/cgi-bin/sendsms"
        || path == "/metrics"
}

/// The `source` of messages a way in queues: the way (`api`,
/// `alertmanager`, ...) and, for a request with an API token, its name
/// (`alertmanager token:prometheus`).
pub fn source(way: &str, user: &str) -> String {
    match user.strip_prefix("token:") {
        Some(name) => format!("{way} token:{name}"),
        None => way.to_owned(),
    }
}

/// A number search as typed: spaces dropped; then an optional `+` and
/// digits (a prefix of the stored number), or `None`.
pub fn number_prefix(input: &str) -> Option<String> {
    let s: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    let digits = s.strip_prefix('+').unwrap_or(&s);
    (!digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then_some(s)
}
