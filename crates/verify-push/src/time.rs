//! Dates on the wire and the server-clock correction (reference §2 "Timestamps", §6.4).

use crate::error::Error;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;

/// Parses a Twilio timestamp. Accepts RFC 3339 with `Z` or an offset, fractional seconds, and
/// the colon-less offset (`-0800`) some fixtures use; the result is UTC.
pub fn parse_date(s: &str) -> Result<DateTime<Utc>, Error> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Ok(d.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%z"] {
        if let Ok(d) = DateTime::parse_from_str(s, fmt) {
            return Ok(d.with_timezone(&Utc));
        }
    }
    Err(Error::Input(format!(
        "not an ISO 8601 date: {:?}",
        crate::ids::clip(s)
    )))
}

/// Formats a date the way Twilio does (`YYYY-MM-DDTHH:MM:SSZ`).
pub fn format_date(d: &DateTime<Utc>) -> String {
    d.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Parses an HTTP `Date` header (RFC 1123) into Unix seconds.
pub fn parse_http_date(s: &str) -> Option<i64> {
    let t = httpdate::parse_http_date(s.trim()).ok()?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(secs).ok()
}

/// Local Unix time in seconds.
pub fn local_unix_now() -> i64 {
    Utc::now().timestamp()
}

/// Offsets larger than this (either way) are never learnt: no real server clock is a day off,
/// and following one would let a hostile server push our JWTs far into the past or future.
pub const MAX_CLOCK_OFFSET_SECS: i64 = 24 * 3600;

/// Smaller changes are ignored: `Date` has one-second resolution and arrives after network
/// latency, so learning every wobble would only rewrite the store on each poll.
pub const MIN_CLOCK_CHANGE_SECS: i64 = 2;

/// The key under which a server's correction is kept: the origin (`scheme://host:port`) of
/// its base URL.
pub fn server_key(base_url: &url::Url) -> String {
    base_url.origin().ascii_serialization()
}

/// The clock correction of one server, as the app may show it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClockStatus {
    /// Server minus local clock in seconds, applied to JWTs for this server.
    pub correction_secs: i64,
    /// The last offset this server's `Date` showed that was refused for exceeding
    /// [`MAX_CLOCK_OFFSET_SECS`]; cleared once a plausible `Date` is learnt again.
    pub refused_offset_secs: Option<i64>,
}

/// What one `Date` header did to a server's correction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockObservation {
    /// No usable date (missing or not an HTTP date).
    NoDate,
    /// Within [`MIN_CLOCK_CHANGE_SECS`] of the current correction; nothing changed.
    Unchanged(i64),
    /// The correction changed to this value.
    Learned(i64),
    /// The offset exceeds [`MAX_CLOCK_OFFSET_SECS`] and was refused; the correction stays.
    Refused(i64),
}

/// Server time = local time + correction, kept per server (see [`server_key`]) and learnt from
/// the `Date` header of its responses.
#[derive(Debug, Default)]
pub struct Clock {
    servers: Mutex<HashMap<String, ClockStatus>>,
}

impl Clock {
    /// A clock with known corrections by server key (loaded from the store). Out-of-range
    /// values (a hand-edited store) are dropped.
    pub fn new(corrections: impl IntoIterator<Item = (String, i64)>) -> Self {
        let servers = corrections
            .into_iter()
            .filter(|(_, c)| c.abs() <= MAX_CLOCK_OFFSET_SECS)
            .map(|(k, c)| {
                let status = ClockStatus {
                    correction_secs: c,
                    refused_offset_secs: None,
                };
                (k, status)
            })
            .collect();
        Self {
            servers: Mutex::new(servers),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, ClockStatus>> {
        // Entries are replaced whole; a panic elsewhere cannot leave one half-written.
        self.servers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The status of one server (zero correction when nothing was learnt).
    pub fn status(&self, server: &str) -> ClockStatus {
        self.map().get(server).copied().unwrap_or_default()
    }

    /// Current correction (server minus local) for one server, seconds.
    pub fn correction(&self, server: &str) -> i64 {
        self.status(server).correction_secs
    }

    /// Forgets every correction.
    pub fn clear(&self) {
        self.map().clear();
    }

    /// Learns from a server's `Date` header received at local time `local_now`.
    pub fn observe(&self, server: &str, date_header: &str, local_now: i64) -> ClockObservation {
        let Some(offset) = parse_http_date(date_header).and_then(|t| t.checked_sub(local_now))
        else {
            return ClockObservation::NoDate;
        };
        let mut map = self.map();
        let entry = map.entry(server.to_owned()).or_default();
        if offset.abs() > MAX_CLOCK_OFFSET_SECS {
            entry.refused_offset_secs = Some(offset);
            return ClockObservation::Refused(offset);
        }
        entry.refused_offset_secs = None;
        if (offset - entry.correction_secs).abs() < MIN_CLOCK_CHANGE_SECS {
            return ClockObservation::Unchanged(entry.correction_secs);
        }
        entry.correction_secs = offset;
        ClockObservation::Learned(offset)
    }

    /// Server-corrected Unix time for one server.
    pub fn now(&self, server: &str) -> i64 {
        local_unix_now() + self.correction(server)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn parses_twilio_date_variants() {
        let z = Utc.with_ymd_and_hms(2020, 7, 21, 17, 7, 32).unwrap();
        assert_eq!(parse_date("2020-07-21T17:07:32Z").unwrap(), z);
        assert_eq!(parse_date("2020-07-21T09:07:32-08:00").unwrap(), z);
        assert_eq!(parse_date("2020-07-21T09:07:32-0800").unwrap(), z);
        assert_eq!(parse_date("2020-07-21T19:07:32+02:00").unwrap(), z);
        let frac = parse_date("2020-07-21T17:07:32.250Z").unwrap();
        assert_eq!(frac.timestamp_millis(), z.timestamp_millis() + 250);
        assert_eq!(
            parse_date("2020-07-21T17:07:32.5+0000")
                .unwrap()
                .timestamp(),
            z.timestamp()
        );
        assert!(parse_date("yesterday").is_err());
        assert!(parse_date("2020-07-21").is_err());
        assert_eq!(format_date(&z), "2020-07-21T17:07:32Z");
    }

    #[test]
    fn clock_sync_uses_sdk_vector() {
        // DateProviderTest.kt vector: Date: Tue, 21 Jul 2020 17:07:32 GMT.
        let server = 1_595_351_252;
        assert_eq!(
            parse_http_date("Tue, 21 Jul 2020 17:07:32 GMT"),
            Some(server)
        );
        let clock = Clock::default();
        let a = "https://verify.twilio.com";
        let local = server - 7200;
        assert_eq!(
            clock.observe(a, "Tue, 21 Jul 2020 17:07:32 GMT", local),
            ClockObservation::Learned(7200)
        );
        assert_eq!(clock.correction(a), 7200);
        assert!((clock.now(a) - local_unix_now() - 7200).abs() <= 1);
        assert_eq!(clock.observe(a, "garbage", local), ClockObservation::NoDate);
        // One second of jitter is not a change.
        assert_eq!(
            clock.observe(a, "Tue, 21 Jul 2020 17:07:33 GMT", local),
            ClockObservation::Unchanged(7200)
        );
        assert_eq!(clock.correction(a), 7200);
        assert_eq!(clock.correction("http://127.0.0.1:1"), 0);
    }

    #[test]
    fn offsets_beyond_a_day_are_refused_and_reported() {
        let clock = Clock::new([("https://a".to_owned(), 30)]);
        let now = 1_700_000_000;
        let ahead = httpdate::fmt_http_date(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs((now + 86_401) as u64),
        );
        assert_eq!(
            clock.observe("https://a", &ahead, now),
            ClockObservation::Refused(86_401)
        );
        assert_eq!(
            clock.status("https://a"),
            ClockStatus {
                correction_secs: 30,
                refused_offset_secs: Some(86_401)
            }
        );
        // Exactly a day is still a clock, and learning it clears the refusal.
        let day = httpdate::fmt_http_date(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs((now - 86_400) as u64),
        );
        assert_eq!(
            clock.observe("https://a", &day, now),
            ClockObservation::Learned(-86_400)
        );
        assert_eq!(clock.status("https://a").refused_offset_secs, None);
        // A year-9999 date against a local clock at 0 does not overflow.
        assert!(matches!(
            clock.observe("https://a", "Fri, 31 Dec 9999 23:59:59 GMT", 0),
            ClockObservation::Refused(_)
        ));
        // A stored correction out of range is not applied.
        assert_eq!(
            Clock::new([("https://b".to_owned(), 10 * 86_400)]).correction("https://b"),
            0
        );
    }

    #[test]
    fn server_key_is_the_origin() {
        let k = |s: &str| server_key(&url::Url::parse(s).unwrap());
        assert_eq!(
            k("https://verify.twilio.com/v2/"),
            "https://verify.twilio.com"
        );
        assert_eq!(
            k("https://verify.twilio.com:443/other/"),
            "https://verify.twilio.com"
        );
        assert_eq!(k("http://127.0.0.1:8790/v2/"), "http://127.0.0.1:8790");
        assert_ne!(
            k("http://127.0.0.1:8790/v2/"),
            k("http://127.0.0.1:8791/v2/")
        );
    }
}
