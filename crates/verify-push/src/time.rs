//! Dates on the wire and the server-clock correction (reference §2 "Timestamps", §6.4).

use crate::error::Error;
use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicI64, Ordering};

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

/// Server time = local time + correction; the correction is learned from 401 responses.
#[derive(Debug, Default)]
pub struct Clock {
    correction: AtomicI64,
}

impl Clock {
    /// A clock with a known correction (loaded from the store).
    pub fn new(correction_secs: i64) -> Self {
        Self {
            correction: AtomicI64::new(correction_secs),
        }
    }

    /// Current correction (server minus local), seconds.
    pub fn correction(&self) -> i64 {
        self.correction.load(Ordering::Relaxed)
    }

    /// Sets the correction directly.
    pub fn set_correction(&self, secs: i64) {
        self.correction.store(secs, Ordering::Relaxed);
    }

    /// Learns the correction from a server `Date` header; returns the new value.
    pub fn sync_from_header(&self, date_header: &str, local_now: i64) -> Option<i64> {
        let server = parse_http_date(date_header)?;
        let c = server - local_now;
        self.set_correction(c);
        Some(c)
    }

    /// Server-corrected Unix time.
    pub fn now(&self) -> i64 {
        local_unix_now() + self.correction()
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
        let local = server - 7200;
        assert_eq!(
            clock.sync_from_header("Tue, 21 Jul 2020 17:07:32 GMT", local),
            Some(7200)
        );
        assert_eq!(clock.correction(), 7200);
        let now = clock.now();
        assert!((now - local_unix_now() - 7200).abs() <= 1);
        assert_eq!(clock.sync_from_header("garbage", local), None);
        assert_eq!(clock.correction(), 7200);
        clock.set_correction(-7200);
        assert_eq!(clock.correction(), -7200);
    }
}
