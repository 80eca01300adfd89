//! Durations in settings files as people write them (`30s`, `10m`, `1h`).

use serde::{Deserialize, Deserializer, Serializer};
use sitrep_core::time::{format_duration, parse_duration};
use std::time::Duration;

pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_duration(*d))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration(&text).map_err(serde::de::Error::custom)
}
