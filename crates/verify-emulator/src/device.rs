//! `verify-emulator device …`: a virtual push device for backend tests, built on the real
//! client library (`verify-push`), so enrolment, the device JWT, the signed answer and the
//! clock handling are the code paths a real device runs. Its state (factor records and keys)
//! lives in one owner-only directory (`--state`, default `verify-device`); the keys are in
//! `keys.json` in it, mode 0600.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use base64::Engine;
use serde_json::{json, Value};
use verify_push::{
    ChallengeSid, Decision, EnrollRequest, EnrollmentPayload, Error, FactorSid, FriendlyName,
    KeyStore, SecretKeyBytes, VerifyPush,
};

/// Keys in a JSON file (`alias` → base64 key), rewritten whole through an owner-only temp
/// file and a rename, so a crash never leaves a half-written file.
#[derive(Debug)]
pub struct FileKeyStore {
    path: PathBuf,
    lock: Mutex<()>,
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> Error {
    Error::KeychainUnavailable(format!("key file: {what}: {e}"))
}

impl FileKeyStore {
    /// A store in `path` (created on the first key).
    pub fn new(path: PathBuf) -> Self {
        FileKeyStore {
            path,
            lock: Mutex::new(()),
        }
    }

    fn load(&self) -> Result<BTreeMap<String, String>, Error> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| unavailable("unreadable", e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(unavailable("read", e)),
        }
    }

    fn save(&self, keys: &BTreeMap<String, String>) -> Result<(), Error> {
        let bytes = serde_json::to_vec_pretty(keys).map_err(|e| unavailable("encode", e))?;
        let tmp = self.path.with_extension("json.tmp");
        write_private(&tmp, &bytes).map_err(|e| unavailable("write", e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| unavailable("rename", e))
    }
}

/// Writes `bytes` to a new file that only the owner can read (0600 from creation on Unix).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(bytes)?;
    f.sync_all()
}

impl KeyStore for FileKeyStore {
    fn put(&self, alias: &str, key: &SecretKeyBytes) -> Result<(), Error> {
        let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut keys = self.load()?;
        keys.insert(
            alias.to_owned(),
            base64::engine::general_purpose::STANDARD.encode(key.expose()),
        );
        self.save(&keys)
    }

    fn get(&self, alias: &str) -> Result<Option<SecretKeyBytes>, Error> {
        let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.load()?
            .get(alias)
            .map(|b| {
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .map(SecretKeyBytes::new)
                    .map_err(|e| unavailable("bad key encoding", e))
            })
            .transpose()
    }

    fn delete(&self, alias: &str) -> Result<bool, Error> {
        let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut keys = self.load()?;
        let had = keys.remove(alias).is_some();
        if had {
            self.save(&keys)?;
        }
        Ok(had)
    }

    fn aliases(&self) -> Result<Vec<String>, Error> {
        let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        Ok(self.load()?.into_keys().collect())
    }
}

/// Opens (creating owner-only) the state directory and builds the client on it.
pub fn client(state: &Path) -> Result<VerifyPush, Error> {
    if !state.is_dir() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(state)
            .map_err(|e| Error::Input(format!("cannot create {}: {e}", state.display())))?;
    }
    VerifyPush::builder()
        .data_dir(state)
        .app_id("verify-emulator-device")
        .app("verify-emulator-device", env!("CARGO_PKG_VERSION"))
        .key_store(Arc::new(FileKeyStore::new(state.join("keys.json"))))
        .build()
}

/// `enroll`: `input` is the enrolment link or JSON, or `-` for standard input.
pub async fn enroll(vp: &VerifyPush, input: &str, name: &str) -> Result<Value, Error> {
    let text = if input == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| Error::Input(format!("cannot read standard input: {e}")))?;
        s
    } else {
        input.to_owned()
    };
    let payload = EnrollmentPayload::from_str(text.trim())?;
    let f = vp
        .enroll(EnrollRequest::new(payload, FriendlyName::from_str(name)?))
        .await?;
    Ok(json!({
        "factor_sid": f.sid.to_string(),
        "service_sid": f.service_sid.to_string(),
        "identity": f.identity.to_string(),
        "status": f.status.as_str(),
    }))
}

/// The factor to act for: the one named, or the only one enrolled.
pub fn pick_factor(vp: &VerifyPush, named: Option<&str>) -> Result<FactorSid, Error> {
    if let Some(n) = named {
        return FactorSid::from_str(n);
    }
    let mut all = vp.factors()?;
    match all.len() {
        1 => Ok(all.remove(0).sid),
        0 => Err(Error::Input(
            "no factor enrolled in this state directory".into(),
        )),
        _ => Err(Error::Input(
            "several factors are enrolled; name one with --factor".into(),
        )),
    }
}

/// `pending`: the factor's unexpired pending challenges, as the SDK lists them.
pub async fn pending(vp: &VerifyPush, factor: &FactorSid) -> Result<Value, Error> {
    let list = vp.pending_challenges(factor).await?;
    serde_json::to_value(&list).map_err(|e| Error::Input(format!("encode: {e}")))
}

/// Why a denial was given (`deny --reason`), sent as `Metadata` `{"deny_reason": …}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum DenyReason {
    /// The user did not start this sign-in.
    NotMe,
    /// The user started it but tapped by mistake.
    Mistake,
}

impl DenyReason {
    /// The `deny_reason` value on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            DenyReason::NotMe => "not_me",
            DenyReason::Mistake => "mistake",
        }
    }
}

/// `approve` / `deny`: answers through the library (fetch, sign the listed fields, post); a
/// denial with a `reason` carries it in the answer's `Metadata`.
pub async fn answer(
    vp: &VerifyPush,
    factor: &FactorSid,
    challenge: &str,
    approve: bool,
    reason: Option<DenyReason>,
) -> Result<Value, Error> {
    let sid = ChallengeSid::from_str(challenge)?;
    let c = match (approve, reason) {
        (true, _) => vp.approve(factor, &sid).await?,
        (false, None) => vp.deny(factor, &sid).await?,
        (false, Some(r)) => {
            let metadata = BTreeMap::from([("deny_reason".to_string(), r.as_str().to_string())]);
            vp.answer_with_metadata(factor, &sid, Decision::Deny, Some(&metadata), None)
                .await?
        }
    };
    Ok(json!({"challenge_sid": c.sid.to_string(), "status": c.status.as_str()}))
}

/// `factors`: what this state directory holds.
pub fn factors(vp: &VerifyPush) -> Result<Value, Error> {
    Ok(Value::Array(
        vp.factors()?
            .into_iter()
            .map(|f| {
                json!({
                    "factor_sid": f.sid.to_string(),
                    "service_sid": f.service_sid.to_string(),
                    "identity": f.identity.to_string(),
                    "status": f.status.as_str(),
                    "base_url": f.base_url.as_str(),
                })
            })
            .collect(),
    ))
}
