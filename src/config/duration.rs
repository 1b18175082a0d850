//! Human durations for settings: `250ms`, `5s`, `2m`, `1h`, or a bare number of seconds.
//!
//! Use it on a field with `#[serde(with = "protomesh::config::duration")]`.

use std::time::Duration;

use serde::{Deserialize, Deserializer, de};

/// Parses `250ms`, `5s`, `2m`, `1h`, `1.5s` or a bare number of seconds.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 250ms, 5s or 2m"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1_000.0,
        "us" => value / 1_000_000.0,
        "m" => value * 60.0,
        "h" => value * 3_600.0,
        other => {
            return Err(format!(
                "unknown duration unit `{other}` (use ms, s, m or h)"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("`{text}`: {e}"))
}

/// Deserializes a duration from a string (`5s`) or a number of seconds.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Seconds(f64),
    }
    match Raw::deserialize(deserializer)? {
        Raw::Text(text) => parse(&text).map_err(de::Error::custom),
        Raw::Seconds(seconds) => Duration::try_from_secs_f64(seconds).map_err(de::Error::custom),
    }
}

/// The same, for a map of names to durations (`#[serde(with = "...::duration::map")]`).
pub mod map {
    use std::{collections::BTreeMap, time::Duration};

    use serde::{Deserialize, Deserializer};

    /// One duration, deserialized with [`super::deserialize`].
    struct Human(Duration);

    impl<'de> Deserialize<'de> for Human {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            super::deserialize(deserializer).map(Human)
        }
    }

    /// Deserializes a map of names to human durations.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<String, Duration>, D::Error> {
        let raw = BTreeMap::<String, Human>::deserialize(deserializer)?;
        Ok(raw.into_iter().map(|(k, Human(v))| (k, v)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every unit parses to the right value and nonsense is refused with a reason.
    #[test]
    fn parses_units() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse("5 parsecs").unwrap_err().contains("unit"));
        assert!(parse("soon").is_err());
        assert!(parse("-1s").is_err());
    }
}
