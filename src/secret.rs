//! Secrets in what smss prints: a database URL may carry a password
//! (`mysql://smss:secret@db/sms`, or `?password=secret`), and it is shown
//! by `status`, `serve --check`, the log and the errors of a URL that
//! cannot be used. Everything that prints a URL prints [`redact_url`] of it.

/// Query parameters whose value is shown (the MySQL driver's settings that
/// hold no secret); every other value, `password=` or a mistyped
/// `passwrd=` alike, is shown as `***`.
const SHOWN_PARAMS: &[&str] = &[
    "user",
    "prefer_socket",
    "socket",
    "pool_min",
    "pool_max",
    "compress",
    "stmt_cache_size",
    "tcp_nodelay",
    "tcp_connect_timeout_ms",
    "tcp_keepalive_time_ms",
    "tcp_keepalive_probe_interval_secs",
    "tcp_keepalive_probe_count",
    "tcp_user_timeout_ms",
    "read_timeout",
    "write_timeout",
    "wait_timeout",
    "conn_ttl",
    "abs_conn_ttl",
    "abs_conn_ttl_jitter",
    "check_health",
    "reset_connection",
    "secure_auth",
    "client_found_rows",
    "require_ssl",
    "verify_ca",
    "verify_identity",
    "built_in_roots",
];

/// `url` with every password replaced by `***`: the one in the user
/// information (`mysql://smss:***@db:3306/sms`) and the value of every query
/// parameter not known to be harmless (`?password=***`). Conservative: the user
/// information runs to the last `@` before the query, so a password with an
/// unencoded `@` or `/` is hidden too; without `://`, everything before
/// the last `@` is hidden.
pub fn redact_url(url: &str) -> String {
    let (main, query) = match url.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (url, None),
    };
    let mut out = match main.find("://") {
        Some(i) => {
            let (scheme, rest) = (&main[..i + 3], &main[i + 3..]);
            match rest.rfind('@') {
                Some(at) => {
                    let (userinfo, host) = (&rest[..at], &rest[at..]);
                    match userinfo.split_once(':') {
                        Some((user, _)) => format!("{scheme}{user}:***{host}"),
                        None => main.to_owned(),
                    }
                }
                None => main.to_owned(),
            }
        }
        None => match main.rfind('@') {
            Some(at) => format!("***{}", &main[at..]),
            None => main.to_owned(),
        },
    };
    if let Some(query) = query {
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if !shown(key) => format!("{key}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out
}

fn shown(key: &str) -> bool {
    SHOWN_PARAMS.contains(&key.trim().to_ascii_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_hidden() {
        for (url, shown) in [
            (
                "mysql://smss:secret@db:3306/sms",
                "mysql://smss:***@db:3306/sms",
            ),
            ("mysql://smss:s3c@r/et@db/sms", "mysql://smss:***@db/sms"),
            (
                "mysql://smss@db/sms?password=secret&prefer_socket=false",
                "mysql://smss@db/sms?password=***&prefer_socket=false",
            ),
            (
                "mysql://db/sms?user=smss&Password=secret",
                "mysql://db/sms?user=smss&Password=***",
            ),
            // a mistyped scheme is shown as carefully
            ("mysq://smss:secret@db/sms", "mysq://smss:***@db/sms"),
            (
                "mysql://smss@db/sms?passwrd=secret&pool_max=4",
                "mysql://smss@db/sms?passwrd=***&pool_max=4",
            ),
            ("mysql:smss:secret@db/sms", "***@db/sms"),
            (
                "sqlite:///var/lib/smss/smss.db",
                "sqlite:///var/lib/smss/smss.db",
            ),
            ("mysql://smss@db/sms", "mysql://smss@db/sms"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
            assert!(!redact_url(url).contains("secret"), "{url}");
        }
    }
}
