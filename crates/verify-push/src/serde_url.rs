//! serde for `url::Url` as a string (the workspace's `url` has no serde feature).

use serde::{Deserialize, Deserializer, Serializer};

pub(crate) fn serialize<S: Serializer>(u: &url::Url, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(u.as_str())
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<url::Url, D::Error> {
    let s = String::deserialize(d)?;
    url::Url::parse(&s).map_err(serde::de::Error::custom)
}
