//! Durations as people write them (`500ms`, `10s`, `5m`, `1h`; a bare
//! number is seconds): the config file, the command line and `smss client
//! -t` read them with this one parser. std only (the client builds without
//! the `server` feature).

use std::time::Duration;

/// `250ms`, `10s`, `5m`, `1h`; a bare number is seconds.
pub fn parse(value: &str) -> Result<Duration, String> {
    let bad = || format!("'{value}' should be a duration such as 500ms, 10s, 5m or 1h");
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (digits, unit) = value.split_at(split);
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let secs = |factor: u64| {
        n.checked_mul(factor)
            .map(Duration::from_secs)
            .ok_or_else(bad)
    };
    match unit.trim() {
        "ms" => Ok(Duration::from_millis(n)),
        "" | "s" => secs(1),
        "m" | "min" => secs(60),
        "h" => secs(3600),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse("ten").is_err());
        assert!(parse("5 parsecs").is_err());
        assert!(parse("99999999999999999999h").is_err());
        assert!(parse(&format!("{}h", u64::MAX)).is_err());
    }
}
