//! Where the alerts come from (issue 17), against the real `serve` and the
//! simulated modem: recipient groups on every way in, API tokens, and the
//! webhooks and compatible endpoints, each with a real HTTP client over a
//! real socket.

use std::net::SocketAddr;
use std::time::Duration;

use smss::sim::PtySim;
use smss::store::ListFilter;

use crate::util::http;
use crate::util::*;

const WAIT: Duration = Duration::from_secs(30);

pub struct Fixture {
    pub _dir: TempDir,
    pub db: TestDb,
    pub sim: PtySim,
    pub serve: Serve,
    pub web: SocketAddr,
}

/// serve on a fresh database (schema by `init-db`) with the web on
/// loopback; `setup` runs `smss` commands (groups, tokens) first.
pub fn fixture(backend: Backend, setup: &[&[&str]], extra: &[&str]) -> Fixture {
    let dir = TempDir::new("integr");
    let db = TestDb::new(backend, &dir);
    db.init();
    for args in setup {
        let out = admin(&db.url, args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    let sim = PtySim::start().unwrap();
    let mut all = vec!["--web-listen", "127.0.0.1:0"];
    all.extend_from_slice(extra);
    let serve = Serve::start(&db.url, sim.path.to_str().unwrap(), &dir, &all);
    let web = serve.web_addr();
    Fixture {
        _dir: dir,
        db,
        sim,
        serve,
        web,
    }
}

/// `smss ARGS --config /dev/null --db URL`.
pub fn admin(db: &str, args: &[&str]) -> std::process::Output {
    let mut all: Vec<&str> = args.to_vec();
    all.extend_from_slice(&["--config", "/dev/null", "--db", db]);
    smss(&all)
}

/// The token `smss token add NAME` printed (its last line).
pub fn add_token(db: &str, name: &str) -> String {
    let out = admin(db, &["token", "add", name]);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).lines().last().unwrap().trim().to_owned()
}

pub fn all_sms(db: &TestDb) -> Vec<smss::store::SmsRow> {
    db.store()
        .list_sms(&ListFilter {
            limit: 1000,
            ..Default::default()
        })
        .unwrap()
}

/// The numbers and texts the modem sent, sorted.
fn sent_pairs(sim: &PtySim, n: usize) -> Vec<(String, String)> {
    let mut got: Vec<(String, String)> = sim
        .handle
        .wait_for_sent(n, WAIT)
        .into_iter()
        .map(|s| (s.number, s.text))
        .collect();
    got.sort();
    got
}

#[test]
fn group_commands_check_their_input() {
    let dir = TempDir::new("groups_cli");
    let db = TestDb::new(Backend::Sqlite, &dir);
    db.init();
    let out = admin(
        &db.url,
        &["group", "set", "oncall", "420608337726", "+420777123456"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "smss group: created @oncall: 420608337726, +420777123456\n"
    );
    // a bad number: nothing changes
    let out = admin(&db.url, &["group", "set", "oncall", "420608337726", "12x"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("invalid phone number '12x' (use an optional + and 3 to 20 digits)"),
        "{}",
        stderr(&out)
    );
    let out = admin(&db.url, &["group", "set", "on call", "420608337726"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = admin(&db.url, &["group", "set", "dba", "123456,654321"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = admin(&db.url, &["group", "list"]);
    assert_eq!(
        stdout(&out),
        "@dba\t123456,654321\n@oncall\t420608337726,+420777123456\n"
    );
    // replaced
    let out = admin(&db.url, &["group", "set", "@dba", "999999"]);
    assert_eq!(stdout(&out), "smss group: replaced @dba: 999999\n");
    let out = admin(&db.url, &["group", "remove", "dba"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = admin(&db.url, &["group", "remove", "dba"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("there is no group @dba"),
        "{}",
        stderr(&out)
    );
    let out = admin(&db.url, &["group", "list"]);
    assert_eq!(stdout(&out), "@oncall\t420608337726,+420777123456\n");
    let out = admin(&db.url, &["group", "frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn groups_work_on_tcp_web_and_api() {
    let f = fixture(
        Backend::Sqlite,
        &[&["group", "set", "oncall", "420608337726", "420777123456"]],
        &["--max-recipients", "3"],
    );
    // TCP: `#@oncall;text`, and a group followed by a number
    let mut s = connect(f.serve.addr);
    send(&mut s, b"#@oncall;disk full#420111222333;also\n");
    let answer = read_answer(&mut s);
    assert!(answer.starts_with("OK 3 "), "{answer}");
    send(&mut s, b"#@nobody;x\n");
    assert_eq!(
        read_answer(&mut s),
        "ERR request 1: no group '@nobody' (smss group list shows the groups)"
    );
    // 2 members + 2 numbers > max-recipients 3: nothing queued
    send(&mut s, b"#@oncall;x#420111222333;y#420111222334;z\n");
    assert_eq!(
        read_answer(&mut s),
        "ERR too many recipients: 4, at most 3 in one request (max-recipients)"
    );
    drop(s);
    assert_eq!(
        sent_pairs(&f.sim, 3),
        [
            ("+420111222333".to_string(), "also".to_string()),
            ("+420608337726".to_string(), "disk full".to_string()),
            ("+420777123456".to_string(), "disk full".to_string()),
        ]
    );
    // the API
    let json = [("Content-Type", "application/json")];
    let r = http::post(
        f.web,
        "/api/send",
        &json,
        br#"{"to": "@oncall", "text": "from the API"}"#,
    );
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(r.json()["queued"], 2);
    let r = http::post(
        f.web,
        "/api/send",
        &json,
        br#"{"to": ["@nobody"], "text": "x"}"#,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        r.json()["error"],
        "request 1: no group '@nobody' (smss group list shows the groups)"
    );
    // the web form
    let page = http::get(f.web, "/", &[]).text();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the form's token")
        .to_owned();
    let r = http::post(
        f.web,
        "/send",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &http::form(&[
            ("csrf", &csrf),
            ("to", "@nobody"),
            ("text", "x"),
            ("action", "send"),
        ]),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.text().contains("no group &#39;@nobody&#39;"),
        "{}",
        r.text()
    );
    let r = http::post(
        f.web,
        "/send",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &http::form(&[
            ("csrf", &csrf),
            ("to", "@oncall"),
            ("text", "from the form"),
            ("action", "send"),
        ]),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    f.sim.handle.wait_for_sent(7, WAIT);
    // the record keeps the group; the lists show it
    assert!(wait_for(WAIT, || all_sms(&f.db).len() == 7));
    let rows = all_sms(&f.db);
    let via: Vec<Option<&str>> = rows.iter().map(|r| r.group.as_deref()).collect();
    assert_eq!(
        via.iter().filter(|g| **g == Some("oncall")).count(),
        6,
        "{via:?}"
    );
    let page = http::get(f.web, "/sent", &[]).text();
    assert!(page.contains("· @oncall"), "{page}");
    let page = http::get(f.web, "/groups", &[]).text();
    assert!(
        page.contains("@oncall") && page.contains("420608337726, 420777123456"),
        "{page}"
    );
    let api = http::get(f.web, "/api/messages", &[]).json();
    assert_eq!(api["messages"][0]["group"], "oncall", "{api}");
}

#[test]
fn tokens_open_the_api_until_revoked() {
    let password = "api tokens test";
    let hash = password_hash(password);
    let f = fixture(
        Backend::Sqlite,
        &[],
        &["--web-password-hash", &hash, "--web-auth-delay", "0"],
    );
    let token = add_token(&f.db.url, "nagios");
    assert!(token.starts_with("smss_") && token.len() == 69, "{token}");
    // only its hash is stored
    for file in ["smss.db", "smss.db-wal"] {
        let bytes = std::fs::read(f._dir.path().join(file)).unwrap_or_default();
        let found = bytes.windows(token.len()).any(|w| w == token.as_bytes());
        assert!(!found, "the token itself is in {file}");
    }
    assert_eq!(
        f.db.store()
            .token_name(&smss::token::hash(&token))
            .unwrap()
            .as_deref(),
        Some("nagios")
    );
    let out = admin(&f.db.url, &["token", "add", "nagios"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("a token named nagios exists already"),
        "{}",
        stderr(&out)
    );
    let out = admin(&f.db.url, &["token", "list"]);
    assert!(
        stdout(&out).starts_with("nagios\tadded "),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains(&token));

    let bearer = format!("Bearer {token}");
    let form = b"to=420608337726&text=via+token";
    // the three ways to give it (three texts: the same one would be merged
    // into the first, coalesce-window)
    let r = http::post(
        f.web,
        "/api/send",
        &[("Authorization", &bearer)],
        b"to=420608337726&text=via+token+1",
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let r = http::post(
        f.web,
        "/api/send",
        &[("access-token", &token)],
        b"to=420608337726&text=via+token+2",
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let path = format!("/api/send?access_token={token}");
    let r = http::post(f.web, &path, &[], b"to=420608337726&text=via+token+3");
    assert_eq!(r.status, 202, "{}", r.text());
    let r = http::get(
        f.web,
        "/api/messages?status=queued",
        &[("Authorization", &bearer)],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // a wrong one, a malformed one, none
    let mut wrong = token.clone();
    wrong.replace_range(10..11, if &token[10..11] == "a" { "b" } else { "a" });
    for headers in [
        vec![("Authorization", format!("Bearer {wrong}"))],
        vec![("access-token", "nope".to_string())],
        vec![],
    ] {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = http::post(f.web, "/api/send", &h, form);
        assert_eq!(r.status, 401, "{headers:?}: {}", r.text());
    }
    // not on the pages, which keep Basic
    let r = http::get(f.web, "/", &[("Authorization", &bearer)]);
    assert_eq!(r.status, 401, "{}", r.text());
    let r = http::get(f.web, &format!("/sent?access_token={token}"), &[]);
    assert_eq!(r.status, 401, "{}", r.text());
    // the token's name is the messages' source, shown in the lists
    f.sim.handle.wait_for_sent(3, WAIT);
    assert!(wait_for(WAIT, || all_sms(&f.db).len() == 3));
    assert!(
        all_sms(&f.db)
            .iter()
            .all(|r| r.source == "api token:nagios"),
        "{:?}",
        all_sms(&f.db)
    );
    let page = http::get(
        f.web,
        "/sent",
        &[("Authorization", &http::basic("admin", password))],
    );
    assert!(page.text().contains("api token:nagios"), "{}", page.text());

    // revoked in the database by another process: refused at once
    let out = admin(&f.db.url, &["token", "revoke", "nagios"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r = http::post(f.web, "/api/send", &[("Authorization", &bearer)], form);
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(
        r.text().contains("invalid or revoked API token"),
        "{}",
        r.text()
    );
    let out = admin(&f.db.url, &["token", "revoke", "nagios"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(all_sms(&f.db).len(), 3);
}

/// An Alertmanager webhook body (payload version 4, as Alertmanager 0.25
/// sends it: notify/webhook/webhook.go `Message`).
pub fn am_payload(
    status: &str,
    alerts: &[(&str, &str, &str, Option<&str>)],
    truncated: u64,
) -> String {
    let alerts: Vec<serde_json::Value> = alerts
        .iter()
        .map(|(fp, instance, st, sms_to)| {
            let mut labels = serde_json::json!({"alertname": "HighCPU", "instance": instance});
            if let Some(to) = sms_to {
                labels["sms_to"] = (*to).into();
            }
            serde_json::json!({
                "status": st, "labels": labels,
                "annotations": {"summary": "CPU above 90%"},
                "startsAt": "2026-12-01T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph", "fingerprint": fp,
            })
        })
        .collect();
    serde_json::json!({
        "version": "4", "groupKey": "{}:{alertname=\"HighCPU\"}", "truncatedAlerts": truncated,
        "status": status, "receiver": "smss",
        "groupLabels": {"alertname": "HighCPU"}, "commonLabels": {"alertname": "HighCPU"},
        "commonAnnotations": {"summary": "CPU above 90%"},
        "externalURL": "http://alertmanager:9093", "alerts": alerts,
    })
    .to_string()
}

#[test]
fn alertmanager_webhook_edges() {
    let f = fixture(
        Backend::Sqlite,
        &[
            &["group", "set", "dba", "420111222333"],
            &["token", "add", "am"],
        ],
        &["--alert-send-resolved", "no", "--alert-max-parts", "1"],
    );
    let token = {
        // a second token to post with (the first's value was not kept)
        add_token(&f.db.url, "prom")
    };
    let auth = format!("Bearer {token}");
    let post = |path: &str, body: &str, auth: &str| {
        http::post(
            f.web,
            path,
            &[
                ("Authorization", auth),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        )
    };
    let one = am_payload("firing", &[("f1", "web1:9100", "firing", None)], 0);
    // wrong token
    let r = post(
        "/api/alertmanager?to=420608337726",
        &one,
        "Bearer smss_0000",
    );
    assert_eq!(r.status, 401, "{}", r.text());
    // no recipient, not a payload, unknown group
    let r = post("/api/alertmanager", &one, &auth);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("no recipient for alert HighCPU"),
        "{}",
        r.text()
    );
    let r = post(
        "/api/alertmanager?to=420608337726",
        r#"{"version": "4"}"#,
        &auth,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("missing 'alerts'"), "{}", r.text());
    let r = post("/api/alertmanager?to=@nobody", &one, &auth);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("no group '@nobody'"), "{}", r.text());
    assert!(
        f.db.store()
            .list_queued(&ListFilter {
                limit: 10,
                ..Default::default()
            })
            .unwrap()
            .is_empty()
    );

    // sms_to overrides to; truncated alerts counted
    let body = am_payload(
        "firing",
        &[
            ("f1", "web1:9100", "firing", None),
            ("f2", "db1:9100", "firing", Some("@dba")),
        ],
        5,
    );
    let r = post("/api/alertmanager?to=420608337726", &body, &auth);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["queued"], 2);
    assert_eq!(
        sent_pairs(&f.sim, 2),
        [
            (
                "+420111222333".to_string(),
                "[FIRING:1] HighCPU db1 +5 more: CPU above 90%".to_string()
            ),
            (
                "+420608337726".to_string(),
                "[FIRING:1] HighCPU web1 +5 more: CPU above 90%".to_string()
            ),
        ]
    );
    // the same again: nothing new
    let r = post("/api/alertmanager?to=420608337726", &body, &auth);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["queued"], 0);
    // resolved with alert-send-resolved = no: nothing sent, but recorded,
    // so that firing again is sent again
    let resolved = am_payload("resolved", &[("f1", "web1:9100", "resolved", None)], 0);
    let r = post("/api/alertmanager?to=420608337726", &resolved, &auth);
    assert_eq!(r.json()["queued"], 0, "{}", r.text());
    let r = post("/api/alertmanager?to=420608337726", &one, &auth);
    assert_eq!(r.json()["queued"], 1, "{}", r.text());
    f.sim.handle.wait_for_sent(3, WAIT);
    assert!(wait_for(WAIT, || all_sms(&f.db).len() == 3));
    assert!(
        all_sms(&f.db)
            .iter()
            .all(|r| r.source == "alertmanager token:prom")
    );
    assert!(
        all_sms(&f.db)
            .iter()
            .all(|r| r.priority == smss::protocol::Priority::Normal)
    );
    // severity=critical: urgent
    let mut critical: serde_json::Value = serde_json::from_str(&am_payload(
        "firing",
        &[("f9", "ups1:9100", "firing", None)],
        0,
    ))
    .unwrap();
    critical["alerts"][0]["labels"]["severity"] = "critical".into();
    let r = post(
        "/api/alertmanager?to=420999000111",
        &critical.to_string(),
        &auth,
    );
    assert_eq!(r.json()["queued"], 1, "{}", r.text());
    assert!(wait_for(WAIT, || all_sms(&f.db).len() == 4));
    let row = all_sms(&f.db)
        .into_iter()
        .find(|r| r.phone == "420999000111")
        .unwrap();
    assert_eq!(row.priority, smss::protocol::Priority::Urgent, "{row:?}");
}

/// Grafana's webhook contact point body (unified alerting), as in
/// Grafana's documentation ("Webhook notifier", example payload).
pub fn grafana_payload(status: &str, title: &str, summary: Option<&str>) -> String {
    let common = match summary {
        Some(s) => serde_json::json!({"summary": s}),
        None => serde_json::json!({}),
    };
    serde_json::json!({
        "receiver": "smss", "status": status, "orgId": 1,
        "alerts": [{
            "status": status,
            "labels": {"alertname": "High memory usage", "team": "blue", "zone": "us-1"},
            "annotations": {"description": "The system has high memory usage",
                            "summary": "This alert was triggered for zone us-1"},
            "startsAt": "2021-10-12T09:51:03.157076+02:00", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "https://grafana.example/alerting/1afz29v7z/edit",
            "fingerprint": "c6eadffa33fcdf37", "silenceURL": "https://grafana.example/silence",
            "dashboardURL": "", "panelURL": "", "values": {"B": 44.23943737541908, "C": 1},
            "valueString": "[ var='B' labels={} value=44.23943737541908 ]"
        }],
        "groupLabels": {}, "commonLabels": {"team": "blue"}, "commonAnnotations": common,
        "externalURL": "https://grafana.example/", "version": "1", "groupKey": "{}:{}",
        "truncatedAlerts": 0, "title": title, "state": "alerting",
        "message": "**Firing**\n\nValue: B=44.23943737541908\nLabels:\n - alertname = High memory usage\n - team = blue\nAnnotations:\n - description = The system has high memory usage\nSource: https://grafana.example/alerting/1afz29v7z/edit\nSilence: https://grafana.example/silence\n",
    })
    .to_string()
}

#[test]
fn grafana_contact_point() {
    let f = fixture(
        Backend::Sqlite,
        &[&["group", "set", "ops", "420608337726"]],
        &[],
    );
    let token = add_token(&f.db.url, "grafana");
    let auth = format!("Bearer {token}");
    let post = |path: &str, body: &str, auth: &str| {
        http::post(
            f.web,
            path,
            &[
                ("Authorization", auth),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        )
    };
    let firing = grafana_payload(
        "firing",
        "[FIRING:1] High memory usage (blue)",
        Some("Memory above 90% on us-1"),
    );
    let r = post("/api/grafana?to=@ops", &firing, "Bearer smss_wrong");
    assert_eq!(r.status, 401, "{}", r.text());
    let r = post("/api/grafana", &firing, &auth);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("no recipient"), "{}", r.text());
    let r = post("/api/grafana?to=@nobody", &firing, &auth);
    assert_eq!(r.status, 400, "{}", r.text());
    let r = post(
        "/api/grafana?to=@ops",
        r#"{"status": "firing", "alerts": []}"#,
        &auth,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("missing 'title'"), "{}", r.text());
    let r = post("/api/grafana?to=@ops", &firing, &auth);
    assert_eq!(r.status, 200, "{}", r.text());
    // no common summary: the first alert's
    let resolved = grafana_payload("resolved", "[RESOLVED] High memory usage (blue)", None);
    let r = post("/api/grafana?to=@ops,420777123456", &resolved, &auth);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["queued"], 2);
    let got = sent_pairs(&f.sim, 3);
    assert_eq!(
        got,
        [
            (
                "+420608337726".to_string(),
                "[FIRING:1] High memory usage (blue): Memory above 90% on us-1".to_string()
            ),
            (
                "+420608337726".to_string(),
                "[RESOLVED] High memory usage (blue): This alert was triggered for zone us-1"
                    .to_string()
            ),
            (
                "+420777123456".to_string(),
                "[RESOLVED] High memory usage (blue): This alert was triggered for zone us-1"
                    .to_string()
            ),
        ]
    );
    // never the long message
    assert!(got.iter().all(|(_, t)| !t.contains("Silence")));
}

/// Home Assistant's `rest` notify platform (homeassistant/components/rest/
/// notify.py): `method: POST_JSON` sends `{message_param_name: message,
/// title_param_name: title, target_param_name: target[0]}` as JSON,
/// `POST` the same as a form, `GET` as query parameters; the title is
/// "Home Assistant" when the service call gives none.
#[test]
fn home_assistant_rest_notify() {
    let f = fixture(
        Backend::Sqlite,
        &[&["group", "set", "family", "420111222333"]],
        &[],
    );
    let token = add_token(&f.db.url, "homeassistant");
    let auth = format!("Bearer {token}");
    let json = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    // POST_JSON with target_param_name: target and title_param_name: title
    let r = http::post(
        f.web,
        "/api/send",
        &json,
        br#"{"message": "Motion in the garage", "title": "Alarm", "target": "420608337726"}"#,
    );
    assert_eq!(r.status, 202, "{}", r.text());
    // the default title says nothing: left out; target as a list
    let r = http::post(
        f.web,
        "/api/send",
        &json,
        br#"{"message": "Door open", "title": "Home Assistant", "target": ["@family"]}"#,
    );
    assert_eq!(r.status, 202, "{}", r.text());
    // POST (a form)
    let r = http::post(
        f.web,
        "/api/send",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        &http::form(&[("message", "Washer done"), ("target", "420608337726")]),
    );
    assert_eq!(r.status, 202, "{}", r.text());
    // GET, with the token
    let path = format!(
        "/api/send?message={}&title=Water&target=420608337726",
        http::encode("Leak under the sink")
    );
    let r = http::get(f.web, &path, &[("Authorization", &auth)]);
    assert_eq!(r.status, 202, "{}", r.text());
    // GET without a token: refused (a link must not send)
    let r = http::get(f.web, "/api/send?message=x&target=420608337726", &[]);
    assert_eq!(r.status, 403, "{}", r.text());
    // wrong token, missing field, unknown group
    let r = http::post(
        f.web,
        "/api/send",
        &[
            ("Authorization", "Bearer smss_nope"),
            ("Content-Type", "application/json"),
        ],
        br#"{"message": "x", "target": "420608337726"}"#,
    );
    assert_eq!(r.status, 401);
    let r = http::post(
        f.web,
        "/api/send",
        &json,
        br#"{"title": "x", "target": "420608337726"}"#,
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "missing 'text'");
    let r = http::post(
        f.web,
        "/api/send",
        &json,
        br#"{"message": "x", "target": "@nobody"}"#,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        sent_pairs(&f.sim, 4),
        [
            ("+420111222333".to_string(), "Door open".to_string()),
            (
                "+420608337726".to_string(),
                "Alarm: Motion in the garage".to_string()
            ),
            ("+420608337726".to_string(), "Washer done".to_string()),
            (
                "+420608337726".to_string(),
                "Water: Leak under the sink".to_string()
            ),
        ]
    );
}

/// Uptime Kuma's webhook notification (server/notification-providers/
/// webhook.js): `{"heartbeat": {...}, "monitor": {...}, "msg": "..."}` as
/// JSON, or as the field `data` of a multipart form (form-data), or
/// `GET ?msg=...&heartbeat=...&monitor=...`; the token in its "additional
/// headers".
#[test]
fn uptime_kuma_webhook() {
    let f = fixture(
        Backend::Sqlite,
        &[&["group", "set", "ops", "420608337726"]],
        &[],
    );
    let token = add_token(&f.db.url, "kuma");
    let auth = format!("Bearer {token}");
    let msg = "[web] [🔴 Down] connect ECONNREFUSED 10.0.0.5:443";
    let data = serde_json::json!({
        "heartbeat": {"monitorID": 1, "status": 0, "time": "2026-12-01 10:00:00.000",
                      "msg": "connect ECONNREFUSED 10.0.0.5:443", "important": true, "duration": 60},
        "monitor": {"id": 1, "name": "web", "url": "https://10.0.0.5", "type": "http"},
        "msg": msg,
    })
    .to_string();
    let r = http::post(
        f.web,
        "/api/webhook?to=@ops",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        data.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // form-data, as the form-data package writes it
    let boundary = "--------------------------123456789012345678901234";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n{}\r\n--{boundary}--\r\n",
        data.replace("Down", "Up").replace("🔴", "🟢")
    );
    let ct = format!("multipart/form-data; boundary={boundary}");
    let r = http::post(
        f.web,
        "/api/webhook?to=@ops",
        &[("Authorization", &auth), ("Content-Type", &ct)],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // GET
    let path = format!(
        "/api/webhook?to=420777123456&msg={}",
        http::encode("[db] [Up] OK")
    );
    let r = http::get(f.web, &path, &[("Authorization", &auth)]);
    assert_eq!(r.status, 200, "{}", r.text());
    // wrong token, no msg, no to, unknown group, a form without data
    let r = http::post(
        f.web,
        "/api/webhook?to=@ops",
        &[
            ("Authorization", "Bearer smss_x"),
            ("Content-Type", "application/json"),
        ],
        data.as_bytes(),
    );
    assert_eq!(r.status, 401);
    let json = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    let r = http::post(
        f.web,
        "/api/webhook?to=@ops",
        &json,
        br#"{"heartbeat": null}"#,
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "missing 'msg'");
    let r = http::post(f.web, "/api/webhook", &json, data.as_bytes());
    assert_eq!(r.status, 400);
    let r = http::post(f.web, "/api/webhook?to=@nobody", &json, data.as_bytes());
    assert_eq!(r.status, 400);
    let empty = format!("--{boundary}--\r\n");
    let r = http::post(
        f.web,
        "/api/webhook?to=@ops",
        &[("Authorization", &auth), ("Content-Type", &ct)],
        empty.as_bytes(),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        sent_pairs(&f.sim, 3),
        [
            ("+420608337726".to_string(), msg.to_string()),
            (
                "+420608337726".to_string(),
                "[web] [🟢 Up] connect ECONNREFUSED 10.0.0.5:443".to_string()
            ),
            ("+420777123456".to_string(), "[db] [Up] OK".to_string()),
        ]
    );
    assert!(
        all_sms(&f.db)
            .iter()
            .all(|r| r.source == "webhook token:kuma")
    );
}

/// SMSEagle's API as Zabbix's official SMSEagle media types and Uptime
/// Kuma's SMSEagle provider use it:
/// * zabbix/zabbix templates/media/smseagle/media_smseagle.yaml, "SMSEagle"
///   (API v1): a GET of `URL/http_api/send_sms` (or `send_togroup` with
///   `groupname` for a recipient `NAME:g`) with every non-default
///   parameter in the query (`url`, `access_token`, `message`, `to`, ...),
///   `Content-Type: multipart/form-data` and no body;
/// * the same file, "SMSEagle v2": `POST URL/api/v2/messages/sms`,
///   `access-token` header, JSON with `text` through encodeURIComponent,
///   `access_token`, `type`, `duration`, `groups`, `contacts`, `to`;
/// * louislam/uptime-kuma server/notification-providers/smseagle.js:
///   `POST URL/api/v2/messages/sms`, `access-token` header, JSON
///   `{"text", "encoding", "priority", "groups"?, "to"?}`; it counts the
///   entries of the answer whose status is "queued" and wants a 200.
#[test]
fn smseagle_clients() {
    let f = fixture(
        Backend::Sqlite,
        &[&["group", "set", "ops", "420111222333", "420111222334"]],
        &[],
    );
    let token = add_token(&f.db.url, "zabbix");
    let zabbix_v1 = |path: &str, params: &[(&str, &str)]| {
        let query: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", http::encode(v)))
            .collect();
        http::get(
            f.web,
            &format!("{path}?{}", query.join("&")),
            &[("Content-Type", "multipart/form-data")],
        )
    };
    let url = format!("http://{}", f.web);
    let message = "[PROBLEM] Disk full\nStarted at 10:00 on 2026.12.01\nHost: db1";
    let r = zabbix_v1(
        "/http_api/send_sms",
        &[
            ("url", &url),
            ("message", message),
            ("access_token", &token),
            ("to", "420608337726"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.text();
    assert!(
        body.starts_with("OK; ID=[") && body.trim_end().ends_with(']'),
        "{body}"
    );
    // a recipient "ops:g": send_togroup, groupname; JSON answer, high priority
    let r = zabbix_v1(
        "/http_api/send_togroup",
        &[
            ("url", &url),
            ("message", "[RESOLVED] Disk full"),
            ("access_token", &token),
            ("highpriority", "1"),
            ("responsetype", "json"),
            ("groupname", "ops"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["result"]["status"], "ok", "{}", r.text());
    assert_eq!(
        r.json()["result"]["message_id"].as_array().unwrap().len(),
        2
    );
    // a POST form with the token in the body
    let r = http::post(
        f.web,
        "/http_api/send_sms",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &http::form(&[
            ("access_token", &token),
            ("to", "420608337726"),
            ("message", "posted"),
        ]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().starts_with("OK; ID=["), "{}", r.text());
    // wrong token, missing field, unknown group
    let r = zabbix_v1(
        "/http_api/send_sms",
        &[
            ("message", "x"),
            ("access_token", "smss_bad"),
            ("to", "420608337726"),
        ],
    );
    assert_eq!(r.status, 401, "{}", r.text());
    let r = zabbix_v1(
        "/http_api/send_sms",
        &[("access_token", &token), ("to", "420608337726")],
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.text().trim(), "Missing parameter: message");
    let r = zabbix_v1(
        "/http_api/send_togroup",
        &[
            ("message", "x"),
            ("access_token", &token),
            ("groupname", "nobody"),
            ("responsetype", "json"),
        ],
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["result"]["status"], "error");

    // Zabbix's v2 media type
    let v2 = |headers: &[(&str, &str)], body: &serde_json::Value| {
        let mut h = vec![("Content-Type", "application/json")];
        h.extend_from_slice(headers);
        http::post(
            f.web,
            "/api/v2/messages/sms",
            &h,
            body.to_string().as_bytes(),
        )
    };
    let encoded = "%5BPROBLEM%5D%20Load%20high%0AHost%3A%20web1%20%C5%BElu%C5%A5ou%C4%8Dk%C3%BD";
    let zabbix = serde_json::json!({
        "url": url, "text": encoded, "access_token": token, "type": "sms", "duration": 10,
        "groups": [], "contacts": [], "to": ["420608337726"],
    });
    let r = v2(&[("access-token", &token)], &zabbix);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()[0]["status"], "queued", "{}", r.text());
    // Uptime Kuma's SMSEagle provider, to a group and a number
    let kuma = serde_json::json!({
        "text": "[web] [🔴 Down] timeout", "encoding": "unicode", "priority": 1,
        "groups": [ "ops" ], "to": ["420777123456"],
    });
    let r = v2(&[("access-token", &token)], &kuma);
    assert_eq!(r.status, 200, "{}", r.text());
    let entries = r.json();
    let queued = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "queued")
        .count();
    assert_eq!(queued, 3, "{entries}");
    // wrong token, missing text, unknown group, contacts
    let r = v2(&[("access-token", "smss_bad")], &kuma);
    assert_eq!(r.status, 401);
    let r = v2(
        &[("access-token", &token)],
        &serde_json::json!({"to": ["420608337726"]}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["message"], "missing 'text'");
    let r = v2(
        &[("access-token", &token)],
        &serde_json::json!({"text": "x", "groups": [7]}),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let r = v2(
        &[("access-token", &token)],
        &serde_json::json!({"text": "x", "contacts": [3]}),
    );
    assert_eq!(r.status, 400, "{}", r.text());

    let got = sent_pairs(&f.sim, 8);
    let expected = [
        ("+420111222333", "[RESOLVED] Disk full"),
        ("+420111222333", "[web] [🔴 Down] timeout"),
        ("+420111222334", "[RESOLVED] Disk full"),
        ("+420111222334", "[web] [🔴 Down] timeout"),
        ("+420608337726", message),
        ("+420608337726", "[PROBLEM] Load high\nHost: web1 žluťoučký"),
        ("+420608337726", "posted"),
        ("+420777123456", "[web] [🔴 Down] timeout"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(got, expected);
}

/// Kannel's sendsms as its clients call it: sachet and others send
/// `user`/`pass`; `to` separated by `+` (a space) or spaces; Kannel's
/// options; `coding=2&charset=UTF-16BE` with the text in UTF-16BE; POST.
#[test]
fn kannel_clients() {
    let hash = password_hash("kannel-pass");
    let f = fixture(
        Backend::Sqlite,
        &[&["group", "set", "ops", "420111222333"]],
        &[
            "--kannel-user",
            "sachet",
            "--kannel-password-hash",
            &hash,
            "--web-auth-delay",
            "0",
        ],
    );
    assert!(wait_for(WAIT, || f
        .db
        .store()
        .modem_health()
        .unwrap()
        .iter()
        .any(|m| m.healthy)));
    let get = |query: &str| http::get(f.web, &format!("/cgi-bin/sendsms?{query}"), &[]);
    // user/pass, a '+'-separated list, the options: accepted, sent now
    let r = get(
        "user=sachet&pass=kannel-pass&to=420608337726+420777123456&text=Disk+full\
         &mclass=0&validity=60&priority=3&dlr-mask=31&from=smss",
    );
    assert_eq!(
        (r.status, r.text().as_str()),
        (202, "0: Accepted for delivery\n")
    );
    assert_eq!(r.header("X-Smss-Ids").unwrap().split(',').count(), 2);
    // deferred (minutes): accepted, and it waits in the queue
    let r = get("user=sachet&pass=kannel-pass&to=420608337726&text=later&deferred=5");
    assert_eq!(r.status, 202, "{}", r.text());
    let deferred: i64 = r.header("X-Smss-Ids").unwrap().parse().unwrap();
    // UTF-16BE text, a group, a space-separated list
    let r = get(
        "username=sachet&password=kannel-pass&to=%40ops%20420608337726&coding=2&charset=UTF-16BE\
         &text=%01%7D%00l%00u%01e%00%20%00%3F",
    );
    assert_eq!(r.status, 202, "{}", r.text());
    // POST, with the credentials in the form
    let r = http::post(
        f.web,
        "/cgi-bin/sendsms",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &http::form(&[
            ("user", "sachet"),
            ("pass", "kannel-pass"),
            ("to", "420777123456"),
            ("text", "by POST"),
        ]),
    );
    assert_eq!(r.status, 202, "{}", r.text());
    // wrong password, missing text, unknown group, unknown charset
    let r = get("user=sachet&pass=nope&to=420608337726&text=x");
    assert_eq!(
        (r.status, r.text().as_str()),
        (403, "Authorization failed for sendsms\n")
    );
    let r = get("access_token=smss_bad&to=420608337726&text=x");
    assert_eq!(r.status, 401, "{}", r.text());
    let r = get("user=sachet&pass=kannel-pass&to=420608337726");
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "Missing text, rejected\n")
    );
    let r = get("user=sachet&pass=kannel-pass&to=%40nobody&text=x");
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("no group '@nobody'") && r.text().ends_with(", rejected\n"));
    let r = get("user=sachet&pass=kannel-pass&to=420608337726&text=x&charset=koi8-r");
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        sent_pairs(&f.sim, 5),
        [
            ("+420111222333".to_string(), "Žluť ?".to_string()),
            ("+420608337726".to_string(), "Disk full".to_string()),
            ("+420608337726".to_string(), "Žluť ?".to_string()),
            ("+420777123456".to_string(), "Disk full".to_string()),
            ("+420777123456".to_string(), "by POST".to_string()),
        ]
    );
    // No modem up: stored all the same, "3: Queued for later delivery".
    // (First the five are recorded, none still in flight.)
    assert!(wait_for(WAIT, || all_sms(&f.db).len() == 5));
    // the deferred one is still queued, not due for minutes
    let queued =
        f.db.store()
            .list_queued(&ListFilter {
                limit: 10,
                ..Default::default()
            })
            .unwrap();
    assert_eq!(queued.iter().map(|q| q.id).collect::<Vec<_>>(), [deferred]);
    f.sim.handle.stop();
    assert!(wait_for(WAIT, || f
        .db
        .store()
        .modem_health()
        .unwrap()
        .iter()
        .all(|m| !m.healthy)));
    let r = get("user=sachet&pass=kannel-pass&to=420608337726&text=later");
    assert_eq!(
        (r.status, r.text().as_str()),
        (202, "3: Queued for later delivery\n")
    );
    assert_eq!(f.db.store().queue_stats().unwrap().depth, 1);
}

/// `smss sendsms` as a Nagios/Icinga/Netdata notification command runs it
/// (smstools' arguments: destinations, then the text; or the text on
/// standard input), to the server in client-server.
#[test]
fn sendsms_command() {
    let f = fixture(
        Backend::Sqlite,
        &[&["group", "set", "oncall", "420111222333"]],
        &[],
    );
    let addr = f.serve.addr.to_string();
    let out = smss(&[
        "sendsms",
        "-a",
        &addr,
        "420608337726",
        "@oncall",
        "PROBLEM: web1 is DOWN #12345; see ticket\n",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out)
            .lines()
            .filter(|l| l.starts_with("OK 1 "))
            .count(),
        2
    );
    // client-server from the configuration file; the text on stdin
    let config = f._dir.path().join("client.conf");
    std::fs::write(&config, format!("client-server = {addr} # the sms box\n")).unwrap();
    let mut child = std::process::Command::new(BIN)
        .args([
            "sendsms",
            "--config",
            config.to_str().unwrap(),
            "-q",
            "+420777123456",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        child.stdin.as_mut().unwrap(),
        "RECOVERY: web1 is UP\n".as_bytes(),
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    // an unknown group: exit 1 with the server's reason; the others go out
    let out = smss(&["sendsms", "-a", &addr, "@nobody,420608337726", "x"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no group '@nobody'"),
        "{}",
        stderr(&out)
    );
    // usage errors: exit 2
    for args in [
        &["sendsms"][..],
        &["sendsms", "12", "x"],
        &["sendsms", "-a", &addr, "420608337726", " "],
    ] {
        let out = smss(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).starts_with("smss sendsms: "),
            "{}",
            stderr(&out)
        );
    }
    // run as `sendsms` (a link named so): smss sendsms
    let link = f._dir.path().join("sendsms");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let out = std::process::Command::new(&link)
        .args(["-a", &addr, "420608337726", "via the link"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // no server there: exit 1
    let out = smss(&["sendsms", "-a", "127.0.0.1:1", "420608337726", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot connect to 127.0.0.1:1"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        sent_pairs(&f.sim, 5),
        [
            (
                "+420111222333".to_string(),
                "PROBLEM: web1 is DOWN # 12345; see ticket".to_string()
            ),
            (
                "+420608337726".to_string(),
                "PROBLEM: web1 is DOWN # 12345; see ticket".to_string()
            ),
            ("+420608337726".to_string(), "via the link".to_string()),
            ("+420608337726".to_string(), "x".to_string()),
            (
                "+420777123456".to_string(),
                "RECOVERY: web1 is UP".to_string()
            ),
        ]
    );
}
