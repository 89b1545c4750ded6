//! Per-account history: answered and expired challenges, newest first, paged by the server.

use verify_push::{ChallengeListQuery, ChallengeStatus, FactorSid, Order, VerifyPush};

use crate::views::{ChallengeView, HistoryPage};
use crate::AppError;

/// Challenges per history page.
pub const PAGE_SIZE: u32 = 20;

/// One page of history. Pending challenges are left out (they are on the card instead), so a
/// page can hold fewer than [`PAGE_SIZE`] items while more pages follow.
pub async fn page(
    client: &VerifyPush,
    factor: &FactorSid,
    page_token: Option<String>,
) -> Result<HistoryPage, AppError> {
    let page = client
        .list_challenges(ChallengeListQuery {
            factor: factor.clone(),
            status: None,
            order: Order::Desc,
            page_size: PAGE_SIZE,
            page_token: page_token.filter(|t| !t.is_empty()),
        })
        .await?;
    Ok(HistoryPage {
        items: page
            .challenges
            .iter()
            .filter(|c| c.status != ChallengeStatus::Pending)
            .map(ChallengeView::from)
            .collect(),
        next_page_token: page.next_page_token,
        previous_page_token: page.previous_page_token,
    })
}
