//! Time as the shop stores it: `i64` microseconds since the Unix epoch (a type both sqlx
//! engines carry through the `Any` driver).

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in microseconds since the Unix epoch.
pub fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A stored time as a protobuf `Timestamp`.
pub fn timestamp(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: i32::try_from(micros.rem_euclid(1_000_000) * 1_000).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Microseconds split into seconds and nanoseconds, also before the epoch.
    #[test]
    fn converts() {
        let t = timestamp(1_500_000);
        assert_eq!((t.seconds, t.nanos), (1, 500_000_000));
        let t = timestamp(-1);
        assert_eq!((t.seconds, t.nanos), (-1, 999_999_000));
        assert!(now_micros() > 1_700_000_000_000_000);
    }
}
