//! Deep-link enrolment requests waiting for the user's confirmation.
//!
//! An `assent://enroll?…` link carries a single-use access token. The link is parsed here as
//! soon as it arrives and kept in memory under an opaque random id; the web view only ever sees
//! an [`EnrollRequestView`] (who, which service, which server), never the token or the link.
//! A pasted payload is previewed by the same parser ([`preview_payload`]).

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;
use ts_rs::TS;
use verify_push::EnrollmentPayload;

use crate::error::ErrorView;
use crate::AppError;

/// How many requests are kept at most; the oldest goes first.
pub const MAX_PENDING: usize = 4;

/// What enrolling with a payload would add: who, which service, which server. Never the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EnrollPreview {
    /// Entity identity the account is for.
    pub identity: String,
    /// Verify service (`VA…`).
    pub service_sid: String,
    /// Origin of the API server, e.g. `https://verify.twilio.com`.
    pub base_url: String,
    /// Always `push`.
    #[ts(type = "\"push\"")]
    pub factor_type: &'static str,
    /// The relying party's web origin, when the payload names it (silent approval from its
    /// sign-in page is possible only then).
    pub origin: Option<String>,
    /// The relying party's name for its service, when the payload gives one (text only).
    pub service_name: Option<String>,
    /// The user's name at the relying party, when the payload gives one (text only).
    pub user_name: Option<String>,
    /// The name the account gets unless the user types another ([`crate::naming`]).
    pub account_name: String,
    /// The name of the account on this desktop with the same server, service and identity:
    /// enrolling again is refused (`already_enrolled`) until it is removed.
    pub existing_account: Option<String>,
}

impl EnrollPreview {
    /// The preview of a parsed payload.
    pub fn of(p: &EnrollmentPayload) -> EnrollPreview {
        EnrollPreview {
            identity: p.identity.as_str().to_owned(),
            service_sid: p.service_sid.as_str().to_owned(),
            base_url: p.base_url.origin().ascii_serialization(),
            factor_type: "push",
            origin: p.origin.clone(),
            service_name: p.service_name.clone(),
            user_name: p.user_name.clone(),
            account_name: crate::naming::default_account_name(p),
            existing_account: None,
        }
    }
}

/// Parses a pasted link or JSON payload with the parser `enroll` uses and returns only its
/// preview (`preview_enroll_payload`); the error says why enrolling with it would fail.
pub fn preview_payload(text: &str) -> Result<EnrollPreview, AppError> {
    let p: EnrollmentPayload = text.trim().parse()?;
    Ok(EnrollPreview::of(&p))
}

/// What the UI learns about a deep link (`enroll-request` event, `take_enroll_request`).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(untagged)]
pub enum EnrollRequestView {
    /// A valid link: what confirming it would add.
    #[serde(rename_all = "camelCase")]
    Preview {
        /// Opaque id for `confirm_enroll_request` / `dismiss_enroll_request`.
        request_id: String,
        /// What it would add.
        #[serde(flatten)]
        preview: EnrollPreview,
    },
    /// A link that cannot be enrolled, and why.
    #[serde(rename_all = "camelCase")]
    Invalid {
        /// Opaque id for `dismiss_enroll_request`.
        request_id: String,
        /// Why the link is unusable (never contains the token).
        error: ErrorView,
    },
}

impl EnrollRequestView {
    /// The preview of a valid link.
    pub fn preview_mut(&mut self) -> Option<&mut EnrollPreview> {
        match self {
            EnrollRequestView::Preview { preview, .. } => Some(preview),
            EnrollRequestView::Invalid { .. } => None,
        }
    }

    /// The request's opaque id.
    pub fn request_id(&self) -> &str {
        match self {
            EnrollRequestView::Preview { request_id, .. }
            | EnrollRequestView::Invalid { request_id, .. } => request_id,
        }
    }
}

/// A waiting request: the parsed payload (or why it failed) and its preview.
#[derive(Debug)]
pub struct PendingRequest {
    id: String,
    parsed: Result<EnrollmentPayload, AppError>,
    view: EnrollRequestView,
}

impl PendingRequest {
    /// Parses `link` under a fresh random id.
    fn parse(link: &str) -> PendingRequest {
        let id = new_id();
        let parsed: Result<EnrollmentPayload, AppError> =
            link.trim().parse().map_err(AppError::from);
        let view = match &parsed {
            Ok(p) => preview(&id, p),
            Err(e) => EnrollRequestView::Invalid {
                request_id: id.clone(),
                error: e.view(),
            },
        };
        PendingRequest { id, parsed, view }
    }

    /// The preview the UI gets.
    pub fn view(&self) -> &EnrollRequestView {
        &self.view
    }

    /// The parsed payload, or the error that made the link unusable.
    pub fn into_parsed(self) -> Result<EnrollmentPayload, AppError> {
        self.parsed
    }

    /// The parsed payload, if the link was valid.
    pub fn payload(&self) -> Option<&EnrollmentPayload> {
        self.parsed.as_ref().ok()
    }

    /// Same link content (same token, service, identity and server; or the same error).
    fn same_as(&self, other: &PendingRequest) -> bool {
        match (&self.parsed, &other.parsed) {
            (Ok(a), Ok(b)) => {
                a.token.expose() == b.token.expose()
                    && a.service_sid == b.service_sid
                    && a.identity == b.identity
                    && a.base_url == b.base_url
                    && a.origin == b.origin
            }
            (Err(_), Err(_)) => match (&self.view, &other.view) {
                (
                    EnrollRequestView::Invalid { error: a, .. },
                    EnrollRequestView::Invalid { error: b, .. },
                ) => a == b,
                _ => false,
            },
            _ => false,
        }
    }
}

/// The waiting requests, oldest first.
#[derive(Debug, Default)]
pub struct EnrollRequests {
    queue: Mutex<VecDeque<PendingRequest>>,
}

impl EnrollRequests {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<PendingRequest>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Parses and keeps a link; a link equal to a waiting one replaces it (keeping its id).
    pub fn add(&self, link: &str) -> EnrollRequestView {
        let mut req = PendingRequest::parse(link);
        let mut q = self.lock();
        if let Some(pos) = q.iter().position(|r| r.same_as(&req)) {
            if let Some(old) = q.remove(pos) {
                req.id = old.id;
                set_id(&mut req.view, &req.id);
            }
        }
        let view = req.view.clone();
        q.push_back(req);
        while q.len() > MAX_PENDING {
            q.pop_front();
        }
        view
    }

    /// The newest waiting request's preview.
    pub fn latest(&self) -> Option<EnrollRequestView> {
        self.lock().back().map(|r| r.view.clone())
    }

    /// Removes and returns the request with this id.
    pub fn take(&self, id: &str) -> Result<PendingRequest, AppError> {
        let mut q = self.lock();
        let pos = q
            .iter()
            .position(|r| r.id == id)
            .ok_or_else(|| AppError::EnrollRequestNotFound(clip(id)))?;
        q.remove(pos)
            .ok_or_else(|| AppError::EnrollRequestNotFound(clip(id)))
    }

    /// Puts back a request taken for confirmation whose enrolment failed (so the user can
    /// retry or dismiss it), unless the same link arrived again meanwhile.
    pub fn restore(&self, req: PendingRequest) {
        let mut q = self.lock();
        if q.iter().any(|r| r.same_as(&req)) {
            return;
        }
        q.push_back(req);
        while q.len() > MAX_PENDING {
            q.pop_front();
        }
    }

    /// Forgets the request with this id.
    pub fn dismiss(&self, id: &str) -> Result<(), AppError> {
        self.take(id).map(drop)
    }
}

fn preview(id: &str, p: &EnrollmentPayload) -> EnrollRequestView {
    EnrollRequestView::Preview {
        request_id: id.to_owned(),
        preview: EnrollPreview::of(p),
    }
}

fn set_id(view: &mut EnrollRequestView, id: &str) {
    match view {
        EnrollRequestView::Preview { request_id, .. }
        | EnrollRequestView::Invalid { request_id, .. } => *request_id = id.to_owned(),
    }
}

/// A random UUID v4 string.
fn new_id() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Ids come from the UI: keep error messages short.
fn clip(id: &str) -> String {
    id.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const VA: &str = "VA0123456789abcdef0123456789abcdef";

    fn link(token: &str) -> String {
        format!("assent://enroll?token={token}&serviceSid={VA}&identity=alice&factorType=push&baseUrl=http%3A%2F%2F127.0.0.1%3A8790%2Fv2%2F")
    }

    #[test]
    fn a_pasted_payload_previews_like_a_deep_link_without_the_token() {
        let secret = "eyJhbGciOi.pasted-secret.sig";
        let from_link = preview_payload(&format!("  {}\n", link(secret))).unwrap();
        let json = format!(
            r#"{{"token":"{secret}","serviceSid":"{VA}","identity":"alice","factorType":"push","baseUrl":"http://127.0.0.1:8790/v2/"}}"#
        );
        assert_eq!(preview_payload(&json).unwrap(), from_link);
        assert_eq!(
            serde_json::to_value(&from_link).unwrap(),
            serde_json::json!({"identity": "alice", "serviceSid": VA,
                "baseUrl": "http://127.0.0.1:8790", "factorType": "push", "origin": null,
                "serviceName": null, "userName": null, "accountName": "127.0.0.1:8790 (alice)",
                "existingAccount": null})
        );
        // The deep-link preview is the same object plus its request id.
        let queued = EnrollRequests::default().add(&link(secret));
        let mut v = serde_json::to_value(&queued).unwrap();
        v.as_object_mut().unwrap().remove("requestId");
        assert_eq!(v, serde_json::to_value(&from_link).unwrap());
    }

    #[test]
    fn hostile_pasted_payloads_are_refused_without_echoing_the_token() {
        use crate::error::AppErrorCode as C;
        let secret = "eyJhbGciOi.pasted-secret.sig";
        let cases = [
            (String::new(), C::Input),
            ("hello".to_owned(), C::Input),
            ("{not json".to_owned(), C::Input),
            ("[1,2]".to_owned(), C::Input),
            (format!("https://evil.example/enroll?token={secret}"), C::Input),
            (format!("assent://enroll?token={secret}&identity=alice"), C::Input),
            (
                format!("assent://enroll?token={secret}&serviceSid={VA}&identity=alice&factorType=totp"),
                C::Input,
            ),
            (
                format!("assent://enroll?token={secret}&serviceSid={VA}&identity=alice&baseUrl=http%3A%2F%2Fevil.example%2Fv2%2F"),
                C::InsecureUrl,
            ),
            (
                format!(r#"{{"token":"{secret}","serviceSid":"{VA}","identity":"alice","baseUrl":"http://evil.example/"}}"#),
                C::InsecureUrl,
            ),
            (
                format!(r#"{{"token":"{secret}","serviceSid":7,"identity":"alice"}}"#),
                C::Input,
            ),
            (format!("{}{secret}", "x".repeat(20_000)), C::Input),
        ];
        for (text, code) in cases {
            let err = preview_payload(&text).expect_err(&text[..text.len().min(80)]);
            assert_eq!(err.code(), code, "{err}");
            let json = serde_json::to_string(&err).unwrap();
            assert!(!json.contains(secret), "{json}");
        }
    }

    #[test]
    fn ids_look_like_uuid_v4_and_differ() {
        let a = new_id();
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_ne!(a, new_id());
    }

    #[test]
    fn keeps_a_few_and_replaces_duplicates() {
        let r = EnrollRequests::default();
        let first = r.add(&link("tok-1"));
        let again = r.add(&link("tok-1"));
        assert_eq!(first.request_id(), again.request_id());
        assert_eq!(r.lock().len(), 1);
        for i in 2..=(MAX_PENDING + 2) {
            r.add(&link(&format!("tok-{i}")));
        }
        assert_eq!(r.lock().len(), MAX_PENDING);
        assert!(r.take(first.request_id()).is_err(), "oldest dropped");
        let json = serde_json::to_string(&r.latest().unwrap()).unwrap();
        assert!(!json.contains("tok-"), "{json}");
        assert!(
            json.contains(r#""baseUrl":"http://127.0.0.1:8790""#),
            "{json}"
        );
    }
}
