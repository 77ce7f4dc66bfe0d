//! `GET|POST /api/checkin/NAME`: a job's check-in over HTTP (`curl` in a
//! cron job), with an API token like the rest of the API. Parameters
//! (query, or an urlencoded POST body) `every`, `grace`, `to`: as the TCP
//! line `#?checkin` (`crate::checkin`), creating the check-in on its first
//! report. Answers JSON: `200 {"checkin": NAME, "recorded": "created" |
//! "seen" | "back"}`, else `{"error": ...}` with 400, 404 (unknown name),
//! 503 (database).

use serde_json::json;

use super::form::Params;
use super::{App, Reply, Req};
use crate::checkin::{self, Call};
use crate::pager::{self, CheckinError, Recorded};

pub fn checkin(app: &App, req: &Req<'_>, name: &str, body: &[u8]) -> Reply {
    let error = |status: u16, m: String| Reply::json(status, &json!({ "error": m }));
    if !checkin::valid_name(name) {
        return error(
            400,
            format!(
                "'{}' cannot be a check-in name: letters, digits, '-', '_', '.' (at most 64)",
                crate::printable::escape(name)
            ),
        );
    }
    let mut call = Call {
        name: name.to_owned(),
        ..Call::default()
    };
    let form = Params::parse(body, app.settings.legacy_charset);
    for (k, v) in req.query.0.iter().chain(form.0.iter()) {
        if k == "access_token" || v.trim().is_empty() {
            continue;
        }
        if let Err(e) = call.set(k, v) {
            return error(400, e);
        }
    }
    match pager::check_in(
        &app.intake,
        &call,
        app.settings.checkin_grace,
        pager::clock::now(),
    ) {
        Ok(r) => {
            log::info!("web: {} check-in {name}: {r:?}", req.peer);
            let recorded = match r {
                Recorded::Created => "created",
                Recorded::Seen => "seen",
                Recorded::Back => "back",
            };
            Reply::json(200, &json!({ "checkin": name, "recorded": recorded }))
        }
        Err(e @ CheckinError::Unknown(_)) => error(404, e.to_string()),
        Err(e @ CheckinError::Invalid(_)) => error(400, e.to_string()),
        Err(CheckinError::Store(cause)) => {
            log::error!("web: check-in {name}: {cause}");
            error(503, CheckinError::Store(cause).to_string())
        }
    }
}
