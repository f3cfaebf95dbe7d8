//! Time as Confab keeps it: UTC instants with microsecond precision.
//!
//! Both engines store instants as `BIGINT` microseconds since the Unix epoch, so sorting, ranges and
//! indexes behave identically on SQLite and PostgreSQL; faces format them (ISO 8601, unix seconds, …).

use chrono::{DateTime, TimeZone, Utc};

/// An instant, UTC.
pub type Time = DateTime<Utc>;

/// The current instant, truncated to microseconds (what the store can keep).
pub fn now() -> Time {
    from_micros(Utc::now().timestamp_micros())
}

/// Microseconds since the Unix epoch.
pub fn to_micros(t: Time) -> i64 {
    t.timestamp_micros()
}

/// The instant `micros` microseconds after the Unix epoch (clamped to chrono's range).
pub fn from_micros(micros: i64) -> Time {
    Utc.timestamp_micros(micros).single().unwrap_or_default()
}

/// ISO 8601 / RFC 3339 in UTC with millisecond precision: `2024-01-15T10:00:00.000Z`.
pub fn iso(t: Time) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Parses an ISO 8601 instant (`2024-01-15T10:00:00Z`, with any offset) or a date (`2024-01-15`, the
/// start of that day in UTC; with `end_of_day`, its last microsecond, so a date-only upper bound is
/// inclusive of the whole day).
pub fn parse_iso(s: &str, end_of_day: bool) -> Option<Time> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(from_micros(t.with_timezone(&Utc).timestamp_micros()));
    }
    let date = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    let start = Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0)?);
    Some(if end_of_day { start + chrono::Duration::days(1) - chrono::Duration::microseconds(1) } else { start })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_only_upper_bound_covers_the_whole_day() {
        let end = parse_iso("2024-01-15", true).unwrap();
        assert_eq!(iso(end), "2024-01-15T23:59:59.999Z");
        assert_eq!(iso(parse_iso("2024-01-15", false).unwrap()), "2024-01-15T00:00:00.000Z");
    }

    #[test]
    fn offsets_are_converted_to_utc() {
        let t = parse_iso("2024-01-15T12:00:00+02:00", false).unwrap();
        assert_eq!(iso(t), "2024-01-15T10:00:00.000Z");
        assert!(parse_iso("yesterday", false).is_none());
    }
}
