//! Cost that stays flat as data grows: lazy per-row expiry, keyset paging, retention and the
//! reader pool of a file DB.

mod common;

use common::{Auth, Ctx, IDENTITY};
use serde_json::{json, Value};
use verify_emulator::db::challenges::{self, ChallengeRow};
use verify_emulator::db::{retention, Db};
use verify_emulator::{DbLocation, EmulatorConfig, Faults};

fn file_config(dir: &tempfile::TempDir) -> EmulatorConfig {
    EmulatorConfig {
        db: DbLocation::File(dir.path().join("emu.sqlite")),
        ..EmulatorConfig::default()
    }
}

fn sids(page: &Value) -> Vec<String> {
    page["challenges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sid"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn lazy_expiry_shows_expired_on_fetch_and_list() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Ctx::with(file_config(&dir)).await;
    let va = ctx.service().await;
    let dev = ctx.enroll(&va, IDENTITY).await;
    let old = ctx.challenge(&va, &dev, "Expires").await["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let expiration = ctx
        .get(&ctx.challenge_path(&va, &dev, &old), Auth::Account)
        .await
        .body["expiration_date"]
        .clone();
    // Past the 5 minute default expiry of `old`; `fresh` is created in the shifted time.
    ctx.emu.set_faults(Faults {
        clock_offset_secs: 301,
        ..Faults::default()
    });
    let fresh = ctx.challenge(&va, &dev, "Still pending").await["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let r = ctx
        .get(&ctx.challenge_path(&va, &dev, &old), Auth::Account)
        .await;
    assert_eq!(r.body["status"], "expired", "{}", r.text);
    assert_eq!(
        r.body["date_updated"], expiration,
        "updated when it expired"
    );
    let list = format!("v2/Services/{va}/Entities/{IDENTITY}/Challenges");
    let all = ctx.get(&list, Auth::Account).await;
    let statuses: Vec<(String, String)> = all.body["challenges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["sid"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            (old.clone(), "expired".into()),
            (fresh.clone(), "pending".into())
        ]
    );
    let expired = ctx
        .get(&format!("{list}?Status=expired"), Auth::Account)
        .await;
    assert_eq!(sids(&expired.body), vec![old.clone()]);
    let pending = ctx
        .get(&format!("{list}?Status=pending"), Auth::Account)
        .await;
    assert_eq!(sids(&pending.body), vec![fresh]);
    // Answering the expired one is refused as expired (60323), and it stays expired.
    let r = ctx
        .post(
            &format!("v2/Services/{va}/Entities/{IDENTITY}/Challenges/{old}/Notifications"),
            Auth::Account,
            &[],
        )
        .await;
    r.assert_error(403, 60323);
}

#[tokio::test]
async fn keyset_paging_walks_every_row_once_while_rows_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Ctx::with(file_config(&dir)).await;
    let va = ctx.service().await;
    let dev = ctx.enroll(&va, IDENTITY).await;
    let mut made = Vec::new();
    for i in 0..8 {
        made.push(
            ctx.challenge(&va, &dev, &format!("c{i}")).await["sid"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    for order in ["asc", "desc"] {
        let mut url = ctx.url(&format!(
            "v2/Services/{va}/Entities/{IDENTITY}/Challenges?PageSize=3&Order={order}"
        ));
        let mut seen = Vec::new();
        let mut pages = Vec::new();
        loop {
            let r = ctx.get(&url, Auth::Account).await;
            assert_eq!(r.status, 200, "{}", r.text);
            seen.extend(sids(&r.body));
            pages.push(r.body["meta"]["url"].as_str().unwrap().to_string());
            match r.body["meta"]["next_page_url"].as_str() {
                Some(next) => {
                    let token = next.split("PageToken=").nth(1).unwrap();
                    assert!(token.starts_with("PA"), "opaque keyset token: {token}");
                    url = next.to_string();
                }
                None => break,
            }
            if pages.len() == 1 && order == "asc" {
                // A row added mid-walk lands at the end and is seen once, nothing shifts.
                let extra = ctx.challenge(&va, &dev, "late").await["sid"]
                    .as_str()
                    .unwrap()
                    .to_string();
                made.push(extra);
            }
        }
        let mut want = made.clone();
        if order == "desc" {
            want.reverse();
        }
        assert_eq!(seen, want, "{order}: pages {pages:?}");
        // And back again from the last page by previous_page_url.
        let mut back = Vec::new();
        let mut url = Some(pages.last().unwrap().clone());
        while let Some(u) = url {
            let r = ctx.get(&u, Auth::Account).await;
            let mut page = sids(&r.body);
            page.extend(back);
            back = page;
            url = r.body["meta"]["previous_page_url"]
                .as_str()
                .map(str::to_string);
        }
        assert_eq!(back, want, "{order}: walking back");
    }
    // A forged token is a typed 400, not a scan or a crash.
    let r = ctx
        .get(
            &format!("v2/Services/{va}/Entities/{IDENTITY}/Challenges?PageToken=PA1_1%20OR%201"),
            Auth::Account,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
}

fn row(sid: &str, status: &str, updated: i64, expires: i64) -> ChallengeRow {
    ChallengeRow {
        id: 0,
        sid: sid.into(),
        service_sid: "VA00000000000000000000000000000000".into(),
        entity_sid: "YE00000000000000000000000000000000".into(),
        identity: IDENTITY.into(),
        factor_sid: "YF00000000000000000000000000000000".into(),
        date_created: updated.min(expires) - 60,
        date_updated: updated,
        date_responded: matches!(status, "approved" | "denied").then_some(updated),
        expiration_date: expires,
        status: status.into(),
        responded_reason: "none".into(),
        details: json!({"message": "m", "fields": []}),
        hidden_details: None,
        metadata: None,
        signature_fields: "details,created_date".into(),
        signature_exact_set: false,
        signature_order_strict: false,
    }
}

#[tokio::test]
async fn retention_deletes_only_old_answered_and_expired_rows() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&DbLocation::File(dir.path().join("r.sqlite"))).unwrap();
    // A fake clock: "now" is a fixed instant, the rows are placed around it.
    let now = 1_900_000_000;
    let day = 86_400;
    let rows = [
        (
            "YCold-approved",
            "approved",
            now - 8 * day,
            now - 8 * day + 300,
        ),
        ("YCold-denied", "denied", now - 8 * day, now - 8 * day + 300),
        ("YCold-expired", "expired", now - 9 * day, now - 9 * day),
        // Pending, expired 8 days ago and never swept: expired now, then old enough to go.
        (
            "YCold-pending",
            "pending",
            now - 8 * day - 300,
            now - 8 * day,
        ),
        ("YCnew-approved", "approved", now - day, now - day + 300),
        ("YCnew-expired", "expired", now - 6 * day, now - 6 * day),
        // Pending and recently overdue: becomes expired, is kept.
        ("YCnew-pending-overdue", "pending", now - 600, now - 300),
        ("YClive", "pending", now - 10, now + 290),
    ];
    db.call(move |conn| {
        for (sid, status, updated, expires) in rows {
            challenges::insert(conn, &row(sid, status, updated, expires))?;
        }
        for (n, c) in [("NTold", "YCold-approved"), ("NTnew", "YCnew-approved")] {
            conn.execute(
                "INSERT INTO notifications (sid, service_sid, entity_sid, identity, challenge_sid,
                    priority, ttl, date_created) VALUES (?1, 'VA', 'YE', 'id', ?2, 'high', 300, 0)",
                [n, c],
            )?;
        }
        Ok(())
    })
    .await
    .unwrap();
    let report = db
        .call(move |conn| retention::sweep(conn, now, Some(7 * day)))
        .await
        .unwrap();
    assert_eq!(
        report,
        retention::SweepReport {
            expired: 2,
            challenges_deleted: 4,
            notifications_deleted: 1,
            access_tokens_deleted: 0,
            unverified_factors_deleted: 0,
        }
    );
    let left = db
        .call(|conn| {
            let mut st = conn.prepare("SELECT sid, status FROM challenges ORDER BY sid")?;
            let v = st
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            let n: Vec<String> = conn
                .prepare("SELECT sid FROM notifications")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            Ok((v, n))
        })
        .await
        .unwrap();
    let kept: Vec<(&str, &str)> = left
        .0
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        kept,
        vec![
            ("YClive", "pending"),
            ("YCnew-approved", "approved"),
            ("YCnew-expired", "expired"),
            ("YCnew-pending-overdue", "expired"),
        ]
    );
    assert_eq!(left.1, vec!["NTnew".to_string()]);
    // Without retention only the expiry is written down; nothing is deleted.
    let report = db
        .call(move |conn| retention::sweep(conn, now + 365 * day, None))
        .await
        .unwrap();
    assert_eq!(report.challenges_deleted, 0);
    assert_eq!(report.expired, 1);
}

#[tokio::test]
async fn reader_pool_sees_every_committed_write_at_once() {
    // Writes go to the writer connection, reads to the pool: each read follows its write.
    let dir = tempfile::tempdir().unwrap();
    let ctx = Ctx::with(file_config(&dir)).await;
    let va = ctx.service().await;
    let dev = ctx.enroll(&va, IDENTITY).await;
    for i in 0..20 {
        let sid = ctx.challenge(&va, &dev, &format!("c{i}")).await["sid"]
            .as_str()
            .unwrap()
            .to_string();
        let r = ctx.answer(&va, &dev, &sid, "approved").await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = ctx
            .get(&ctx.challenge_path(&va, &dev, &sid), Auth::Account)
            .await;
        assert_eq!(r.body["status"], "approved", "round {i}");
    }
}

/// The sweep deletes unverified factors older than `UNVERIFIED_FACTOR_TTL_SECS` (whatever the
/// retention setting) and leaves younger unverified and all verified factors alone.
#[tokio::test]
async fn sweep_deletes_unverified_factors_past_their_lifetime() {
    use verify_emulator::db::factors::{self, FactorRow, UNVERIFIED_FACTOR_TTL_SECS};
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&DbLocation::File(dir.path().join("f.sqlite"))).unwrap();
    let now = 1_900_000_000;
    let factor = |n: u8, status: &str, created: i64| FactorRow {
        id: 0,
        sid: format!("YF{n:032}"),
        service_sid: "VA00000000000000000000000000000000".into(),
        entity_sid: "YE00000000000000000000000000000000".into(),
        identity: IDENTITY.into(),
        friendly_name: "f".into(),
        status: status.into(),
        factor_type: "push".into(),
        public_key: "k".into(),
        alg: "ES256".into(),
        credential_sid: format!("CR{n:032}"),
        config: json!({}),
        metadata: None,
        date_created: created,
        date_updated: created,
    };
    let rows = [
        factor(1, "unverified", now - UNVERIFIED_FACTOR_TTL_SECS),
        factor(2, "unverified", now - UNVERIFIED_FACTOR_TTL_SECS + 1),
        factor(3, "verified", now - 365 * 86_400),
    ];
    db.call(move |conn| {
        for f in &rows {
            factors::insert(conn, f)?;
        }
        Ok(())
    })
    .await
    .unwrap();
    for keep in [None, Some(7 * 86_400)] {
        let report = db
            .call(move |conn| retention::sweep(conn, now, keep))
            .await
            .unwrap();
        let want = usize::from(keep.is_none());
        assert_eq!(report.unverified_factors_deleted, want, "{report:?}");
    }
    let left: Vec<String> = db
        .call(|conn| {
            let mut st = conn.prepare("SELECT sid FROM factors ORDER BY sid")?;
            let v = st
                .query_map([], |r| r.get(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(v)
        })
        .await
        .unwrap();
    assert_eq!(left, vec![format!("YF{:032}", 2), format!("YF{:032}", 3)]);
}
