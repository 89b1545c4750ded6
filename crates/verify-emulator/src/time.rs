//! Server clock (real clock plus the fault-injected offset) and Twilio's timestamp formats.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

/// Unix seconds now, shifted by `offset_secs` (the `clock_offset_secs` fault).
pub fn now_with_offset(offset_secs: i64) -> i64 {
    Utc::now().timestamp().saturating_add(offset_secs)
}

/// `YYYY-MM-DDTHH:MM:SSZ`, the only format the mobile SDKs all parse.
pub fn fmt_ts(secs: i64) -> String {
    match Utc.timestamp_opt(secs, 0).single() {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Secs, true),
        None => "1970-01-01T00:00:00Z".to_string(),
    }
}

/// Parses an ISO 8601 / RFC 3339 date-time (any offset, optional fraction) into unix seconds.
pub fn parse_ts(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp());
    }
    // Also accept a basic offset without colon (`+0000`) as some clients send it.
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z")
        .ok()
        .map(|t| t.timestamp())
}

/// RFC 1123 value for the `Date` header (`Tue, 21 Jul 2020 17:07:32 GMT`).
pub fn http_date(secs: i64) -> String {
    let t = if secs >= 0 {
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.unsigned_abs())
    } else {
        std::time::UNIX_EPOCH
    };
    httpdate::fmt_http_date(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        assert_eq!(fmt_ts(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(parse_ts("2023-11-14T22:13:20Z"), Some(1_700_000_000));
        assert_eq!(parse_ts("2023-11-14T14:13:20-08:00"), Some(1_700_000_000));
        assert_eq!(parse_ts("2023-11-14T22:13:20.123Z"), Some(1_700_000_000));
        assert_eq!(parse_ts("yesterday"), None);
        assert_eq!(http_date(1_595_351_252), "Tue, 21 Jul 2020 17:07:32 GMT");
    }
}
