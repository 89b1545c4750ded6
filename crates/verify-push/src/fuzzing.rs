//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing` only): the response
//! decoders are crate-private, so these thin wrappers expose exactly what a server can feed them.

use crate::challenge::{Challenge, ChallengePage};
use crate::error::Error;

/// Decodes a factor response (create / verify / update), as the client does.
pub fn decode_factor(body: &[u8]) -> Result<(), Error> {
    crate::wire::factor(body).map(|_| ())
}

/// Decodes a single-challenge response (fetch / update).
pub fn decode_challenge(body: &[u8]) -> Result<Challenge, Error> {
    crate::wire::challenge(body).map(|(c, _)| c)
}

/// Decodes a challenge-list response page as served by Twilio's base URL (page URLs on
/// another origin are refused).
pub fn decode_challenge_page(body: &[u8]) -> Result<ChallengePage, Error> {
    let base = url::Url::parse(crate::TWILIO_BASE_URL)
        .map_err(|e| Error::Initialization(format!("Twilio base URL: {e}")))?;
    crate::wire::challenge_page(body, &base)
}

/// Extracts a page token from a `next_page_url` / `previous_page_url` value.
pub fn page_token(url: &str) -> Option<String> {
    crate::wire::page_token(Some(url))
}
