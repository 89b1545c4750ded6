//! Decoding API responses, tolerant of what real servers and Twilio's own fixtures send:
//! `details` / `hidden_details` as objects or JSON strings, dates with offsets or fractions,
//! unknown statuses, `code` as string, extra fields.

use crate::challenge::{Challenge, ChallengeDetails, ChallengePage, ChallengeStatus, Field};
use crate::error::Error;
use crate::factor::FactorStatus;
use crate::ids::{AccountSid, ChallengeSid, FactorSid};
use crate::time::parse_date;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Parses a response body as a JSON object.
pub(crate) fn object(body: &[u8]) -> Result<Map<String, Value>, Error> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Error::mapping("response is not a JSON object", body)),
        Err(e) => Err(Error::mapping(format!("response is not JSON: {e}"), body)),
    }
}

struct Ctx<'a> {
    obj: &'a Map<String, Value>,
    body: &'a [u8],
}

impl<'a> Ctx<'a> {
    fn fail(&self, reason: String) -> Error {
        Error::mapping(reason, self.body)
    }

    fn str(&self, key: &str) -> Result<&'a str, Error> {
        self.obj
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| self.fail(format!("missing string field `{key}`")))
    }

    fn opt_str(&self, key: &str) -> Option<&'a str> {
        self.obj.get(key).and_then(Value::as_str)
    }

    fn date(&self, key: &str) -> Result<DateTime<Utc>, Error> {
        let s = self.str(key)?;
        parse_date(s).map_err(|_| self.fail(format!("field `{key}` is not a date: {s:?}")))
    }

    fn opt_date(&self, key: &str) -> Result<Option<DateTime<Utc>>, Error> {
        match self.opt_str(key) {
            None | Some("") => Ok(None),
            Some(s) => parse_date(s)
                .map(Some)
                .map_err(|_| self.fail(format!("field `{key}` is not a date: {s:?}"))),
        }
    }

    fn parse<T: std::str::FromStr<Err = Error>>(&self, key: &str) -> Result<T, Error> {
        let s = self.str(key)?;
        s.parse()
            .map_err(|e: Error| self.fail(format!("field `{key}`: {e}")))
    }
}

/// A value that may be an object or a JSON string holding one (Twilio's fixtures do both).
fn object_or_json_string(v: &Value) -> Option<Map<String, Value>> {
    match v {
        Value::Object(m) => Some(m.clone()),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(m)) => Some(m),
            _ => None,
        },
        _ => None,
    }
}

fn to_string_map(m: &Map<String, Value>) -> BTreeMap<String, String> {
    m.iter()
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), s)
        })
        .collect()
}

/// Factor fields from D1/D2/D3 responses.
#[derive(Debug, Clone)]
pub(crate) struct FactorDto {
    pub sid: Option<FactorSid>,
    pub friendly_name: Option<String>,
    pub account_sid: Option<AccountSid>,
    pub status: FactorStatus,
    pub created_at: Option<DateTime<Utc>>,
    pub credential_sid: Option<String>,
    pub metadata: Option<BTreeMap<String, String>>,
}

/// Decodes a factor response. Only `status` is required here (Twilio's own verify fixture is
/// `{"status":"verified"}`); `create_factor` additionally demands `sid`, `account_sid` and
/// `config.credential_sid`, like the SDK mappers.
pub(crate) fn factor(body: &[u8]) -> Result<FactorDto, Error> {
    let obj = object(body)?;
    let c = Ctx { obj: &obj, body };
    let status_s = c.str("status")?;
    let status = FactorStatus::parse(status_s)
        .ok_or_else(|| c.fail(format!("unknown factor status {status_s:?}")))?;
    let credential_sid = obj
        .get("config")
        .and_then(object_or_json_string)
        .and_then(|m| {
            m.get("credential_sid")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
    Ok(FactorDto {
        sid: match c.opt_str("sid") {
            Some(_) => Some(c.parse("sid")?),
            None => None,
        },
        friendly_name: c.opt_str("friendly_name").map(str::to_owned),
        account_sid: match c.opt_str("account_sid") {
            Some(_) => Some(c.parse("account_sid")?),
            None => None,
        },
        status,
        // Some fixtures carry junk dates here; the creation date is informational only.
        created_at: c.opt_date("date_created").ok().flatten(),
        credential_sid,
        metadata: obj
            .get("metadata")
            .and_then(object_or_json_string)
            .map(|m| to_string_map(&m)),
    })
}

/// Decodes a challenge from its JSON object.
pub(crate) fn challenge_from(obj: &Map<String, Value>, body: &[u8]) -> Result<Challenge, Error> {
    let c = Ctx { obj, body };
    let details_obj = obj
        .get("details")
        .and_then(object_or_json_string)
        .ok_or_else(|| c.fail("missing or invalid `details`".into()))?;
    let d = Ctx {
        obj: &details_obj,
        body,
    };
    let fields = match details_obj.get("fields") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|f| {
                let label = f.get("label").and_then(Value::as_str);
                let value = f.get("value").and_then(Value::as_str);
                match (label, value) {
                    (Some(l), Some(v)) => Ok(Field {
                        label: l.to_owned(),
                        value: v.to_owned(),
                    }),
                    _ => Err(c.fail("a details field lacks label or value".into())),
                }
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(c.fail("`details.fields` is not an array".into())),
    };
    let details = ChallengeDetails {
        message: d.str("message")?.to_owned(),
        fields,
        date: d.opt_date("date")?,
    };
    let hidden_details = match obj.get("hidden_details") {
        None | Some(Value::Null) => None,
        Some(v) => Some(to_string_map(&object_or_json_string(v).ok_or_else(
            || c.fail("`hidden_details` is neither an object nor a JSON object string".into()),
        )?)),
    };
    Ok(Challenge {
        sid: c.parse::<ChallengeSid>("sid")?,
        factor_sid: c.parse("factor_sid")?,
        status: ChallengeStatus::from_wire(c.str("status")?),
        details,
        hidden_details,
        created_at: c.date("date_created")?,
        updated_at: c.date("date_updated")?,
        expires_at: c.date("expiration_date")?,
        responded_at: c.opt_date("date_responded")?,
    })
}

/// Decodes a D5 body.
pub(crate) fn challenge(body: &[u8]) -> Result<(Challenge, Map<String, Value>), Error> {
    let obj = object(body)?;
    let ch = challenge_from(&obj, body)?;
    Ok((ch, obj))
}

/// Extracts `PageToken` (or iOS's `pageToken`) from a page URL.
pub(crate) fn page_token(url: Option<&str>) -> Option<String> {
    let u = url::Url::parse(url?).ok()?;
    let tok = u
        .query_pairs()
        .find(|(k, _)| k == "PageToken" || k == "pageToken")
        .map(|(_, v)| v.into_owned());
    tok.filter(|t| !t.is_empty())
}

/// The page token of a `next_page_url` / `previous_page_url` as served by the server at
/// `base`. Relative URLs resolve against `base`; one on another origin is refused, as the
/// client only ever talks to the factor's own server.
fn page_token_on(
    base: &url::Url,
    value: Option<&Value>,
    body: &[u8],
) -> Result<Option<String>, Error> {
    let s = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.is_empty() => return Ok(None),
        Some(Value::String(s)) => s,
        Some(_) => return Err(Error::mapping("a page URL is not a string", body)),
    };
    let u = base
        .join(s)
        .map_err(|e| Error::mapping(format!("page URL {:?}: {e}", crate::ids::clip(s)), body))?;
    if u.origin() != base.origin() {
        return Err(Error::ForeignPageUrl {
            url: crate::ids::clip(u.as_str()),
        });
    }
    Ok(page_token(Some(u.as_str())))
}

/// Decodes a D6 body from the server at `base`.
pub(crate) fn challenge_page(body: &[u8], base: &url::Url) -> Result<ChallengePage, Error> {
    let obj = object(body)?;
    let list = obj
        .get("challenges")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::mapping("missing `challenges` array", body))?;
    let challenges = list
        .iter()
        .map(|v| match v {
            Value::Object(m) => challenge_from(m, body),
            _ => Err(Error::mapping("a challenge is not an object", body)),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let meta = obj
        .get("meta")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::mapping("missing `meta`", body))?;
    let num = |k: &str| {
        meta.get(k)
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0)
    };
    Ok(ChallengePage {
        challenges,
        page: num("page"),
        page_size: num("page_size"),
        next_page_token: page_token_on(base, meta.get("next_page_url"), body)?,
        previous_page_token: page_token_on(base, meta.get("previous_page_url"), body)?,
    })
}

#[cfg(test)]
mod tests {
    //! Shapes copied (with valid SIDs substituted for the placeholders) from Twilio's SDK test
    //! fixtures:
    //! - twilio-verify-android `verify/src/debug/assets/network_files/challenge/get_challenge_pending_valid.json`
    //!   (details and hidden_details as JSON strings, `-08:00` offsets)
    //! - twilio-verify-android `.../challenges/get_challenges_valid.json` and twilio-verify-ios
    //!   `TwilioVerifySDKTests/.../APIResponses/get_challenges_valid_response.json` (meta with
    //!   PageToken URLs, `date_responded: null`, details as object)
    //! - twilio-verify-android `.../factor/create_factor_valid.json`, `verify_factor_valid.json`
    //!   (`{"status":"verified"}` only), `update_factor_valid.json` (config without credential_sid)
    use super::*;
    use crate::ErrorCode;

    const YC: &str = "YC0328e2a0f84f1ec1624f81590ef8e102";

    fn twilio() -> url::Url {
        url::Url::parse(crate::TWILIO_BASE_URL).unwrap()
    }
    const YF: &str = "YF036e2693e19b27cade3df4d79b75820b";

    fn pending_as_strings() -> String {
        format!(
            r#"{{
  "sid":"{YC}",
  "factor_sid":"{YF}",
  "date_created":"2020-02-19T16:39:57-08:00",
  "date_updated":"2020-02-21T18:39:57-08:00",
  "status":"pending",
  "details":"{{\"message\":\"message123\",\"fields\":[{{\"label\":\"label123\",\"value\":\"value123\"}}],\"date\":\"2020-02-19T16:39:57-08:00\"}}",
  "hidden_details":"{{\"key1\":\"value1\"}}",
  "expiration_date":"2020-02-27T08:50:57-08:00"
}}"#
        )
    }

    #[test]
    fn android_pending_fixture_with_string_details() {
        let body = pending_as_strings();
        let (ch, raw) = challenge(body.as_bytes()).unwrap();
        assert_eq!(ch.sid.as_str(), YC);
        assert_eq!(ch.status, ChallengeStatus::Pending);
        assert_eq!(ch.details.message, "message123");
        assert_eq!(
            ch.details.fields,
            vec![Field {
                label: "label123".into(),
                value: "value123".into()
            }]
        );
        assert_eq!(
            ch.details.date.unwrap().to_rfc3339(),
            "2020-02-20T00:39:57+00:00"
        );
        assert_eq!(ch.hidden_details.unwrap()["key1"], "value1");
        assert_eq!(ch.expires_at.to_rfc3339(), "2020-02-27T16:50:57+00:00");
        assert_eq!(ch.responded_at, None);
        // The raw map keeps the string form, which is what gets signed.
        assert!(raw["details"].is_string());
    }

    fn list_fixture() -> String {
        let item = |sid: &str, day: &str| {
            format!(
                r#"{{"status":"pending","date_responded":null,"date_updated":"2020-03-{day}T15:53:25Z","expiration_date":"2020-03-21T15:53:25Z","factor_sid":"{YF}","responded_reason":"none","hidden_details":null,"account_sid":"ACc8563daf88ed26f227638f5738726fbd","factor_type":"push","entity_sid":"YEd2dd9f9b199c418a5aa9bcc1a07401df","details":{{"message":"test","date":"2020-03-{day}T15:53:25Z","fields":[{{"label":"asd","value":"ertertre"}}]}},"sid":"{sid}","url":"https://verify.twilio.com/v2/x","date_created":"2020-03-{day}T15:53:25Z","service_sid":"VAe1bea4a19fa6324181099ac454d9f8c9","identity":"YEbd15653d11489b27c1b6255230301815"}}"#
            )
        };
        let base = "https://verify.twilio.com/v2/Services/VAe1bea4a19fa6324181099ac454d9f8c9/Entities/YEbd15653d11489b27c1b6255230301815/Challenges";
        format!(
            r#"{{"challenges":[{},{}],"meta":{{"page":0,"page_size":2,"first_page_url":"{base}?Status=pending&PageSize=2&Page=0","previous_page_url":"{base}?Status=pending&PageSize=2&Page=1&PageToken=DNYC032ef13349d312c1d31a8cc4b16065e1","url":"{base}?Status=pending&PageSize=2&Page=0&PageToken=DNYC03164b0d71dbf3c15a1dbf553fcc2af2","next_page_url":"{base}?Status=pending&PageSize=2&Page=1&PageToken=DNYC033ef13049d311c1d31a8cc4b16065e1","key":"challenges"}}}}"#,
            item(YC, "20"),
            item("YC033ef13049d311c1d31a8cc4b16065e1", "16")
        )
    }

    #[test]
    fn sdk_list_fixture() {
        let page = challenge_page(list_fixture().as_bytes(), &twilio()).unwrap();
        assert_eq!(page.challenges.len(), 2);
        assert_eq!(page.page, 0);
        assert_eq!(page.page_size, 2);
        assert_eq!(
            page.next_page_token.as_deref(),
            Some("DNYC033ef13049d311c1d31a8cc4b16065e1")
        );
        assert_eq!(
            page.previous_page_token.as_deref(),
            Some("DNYC032ef13349d312c1d31a8cc4b16065e1")
        );
        assert_eq!(page.challenges[1].details.fields[0].value, "ertertre");
        assert_eq!(page.challenges[0].hidden_details, None);
    }

    #[test]
    fn ios_lowercase_page_token_and_null_urls() {
        assert_eq!(
            page_token(Some("https://x/y?pageToken=abc")).as_deref(),
            Some("abc")
        );
        assert_eq!(page_token(Some("https://x/y?Page=1")), None);
        assert_eq!(page_token(None), None);
        let body = br#"{"challenges":[],"meta":{"page":0,"page_size":50,"next_page_url":null,"previous_page_url":null}}"#;
        let p = challenge_page(body, &twilio()).unwrap();
        assert_eq!((p.next_page_token, p.previous_page_token), (None, None));
    }

    #[test]
    fn unknown_status_is_expired_and_extra_fields_are_ignored() {
        let body = pending_as_strings()
            .replace("\"pending\"", "\"archived\"")
            .replacen('{', r#"{"brand_new_field":{"x":1},"#, 1);
        let (ch, _) = challenge(body.as_bytes()).unwrap();
        assert_eq!(ch.status, ChallengeStatus::Expired);
    }

    #[test]
    fn broken_challenges_are_mapping_errors_with_body() {
        let bodies: [&[u8]; 4] = [
            b"not json",
            b"[1,2]",
            br#"{"sid":"YC0328e2a0f84f1ec1624f81590ef8e102"}"#,
            br#"{"response":"response"}"#, // *_invalid.json fixtures
        ];
        for b in bodies {
            let e = challenge(b).unwrap_err();
            assert_eq!(e.code(), ErrorCode::Mapping);
            match e {
                Error::Mapping { body, .. } => assert_eq!(body.as_bytes(), b),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn factor_fixtures() {
        let created = format!(
            r#"{{"account_sid":"ACc8563daf88ed26f227638f5738726fbd","sid":"{YF}","friendly_name":"friendlyName","factor_type":"push","date_created":"12357899","date_updated":"976351423","url":"https://twilio.com","config":{{"credential_sid":"credentialSid"}},"status":"unverified"}}"#
        );
        let f = factor(created.as_bytes()).unwrap();
        assert_eq!(f.status, FactorStatus::Unverified);
        assert_eq!(f.credential_sid.as_deref(), Some("credentialSid"));
        assert_eq!(f.created_at, None);
        let verified = format!(r#"{{"sid":"{YF}","status":"verified"}}"#);
        assert_eq!(
            factor(verified.as_bytes()).unwrap().status,
            FactorStatus::Verified
        );
        // Twilio's "verify_factor_valid.json" is only {"status":"verified"}.
        let minimal = factor(br#"{"status":"verified"}"#).unwrap();
        assert_eq!(
            (minimal.sid, minimal.status),
            (None, FactorStatus::Verified)
        );
        assert_eq!(
            factor(br#"{"status":"weird"}"#).unwrap_err().code(),
            ErrorCode::Mapping
        );
        let updated = created
            .replace(
                r#"{"credential_sid":"credentialSid"}"#,
                r#"{"user":"test"}"#,
            )
            .replace("12357899", "2020-02-19T16:39:57-08:00");
        let u = factor(updated.as_bytes()).unwrap();
        assert_eq!(u.credential_sid, None);
        assert!(u.created_at.is_some());
        assert_eq!(
            factor(br#"{"response":"response"}"#).unwrap_err().code(),
            ErrorCode::Mapping
        );
        let with_meta =
            format!(r#"{{"sid":"{YF}","status":"verified","metadata":"{{\"os\":\"linux\"}}"}}"#);
        assert_eq!(
            factor(with_meta.as_bytes()).unwrap().metadata.unwrap()["os"],
            "linux"
        );
    }
}
