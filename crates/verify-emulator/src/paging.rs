//! List paging as Twilio does it: `PageSize` (1–1000, default 50), `Page` (client state),
//! opaque `PageToken` (also accepted as `pageToken`, which iOS sends) and the `meta` envelope.
//!
//! Tokens are `PA<page>_<id>` ("items after id") and `PB<page>_<id>` ("items before id"), with
//! ids being the table's row ids, so paging stays stable while rows are added.

use serde_json::{json, Value};

use crate::error::ApiError;
use crate::form::Params;

/// Parsed paging parameters.
#[derive(Clone, Debug)]
pub struct PageQuery {
    /// Items per page.
    pub page_size: usize,
    /// Page number (from `Page`, else from the token, else 0).
    pub page: u64,
    /// The raw token as received.
    pub token: Option<String>,
    cursor: Cursor,
}

#[derive(Clone, Debug)]
enum Cursor {
    Start,
    After(i64),
    Before(i64),
}

impl PageQuery {
    /// Reads `PageSize`, `Page`, `PageToken` / `pageToken`.
    pub fn parse(p: &Params) -> Result<Self, ApiError> {
        let page_size = match p.get("PageSize") {
            None => 50,
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if (1..=1000).contains(&n) => n,
                _ => return Err(ApiError::invalid("PageSize must be between 1 and 1000")),
            },
        };
        let token = p
            .get_any(&["PageToken", "pageToken"])
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        let (cursor, token_page) = match &token {
            None => (Cursor::Start, None),
            Some(t) => decode_token(t).ok_or_else(|| ApiError::invalid("Invalid PageToken"))?,
        };
        let page = match p.get("Page") {
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map_err(|_| ApiError::invalid("Page must be a non-negative integer"))?,
            None => token_page.unwrap_or(0),
        };
        Ok(PageQuery {
            page_size,
            page,
            token,
            cursor,
        })
    }

    /// Reads the paging parameters of a raw query string (none: the first page).
    pub fn from_query(q: Option<&str>) -> Result<Self, ApiError> {
        Self::parse(&Params::parse(q.unwrap_or_default().as_bytes()))
    }
}

fn decode_token(t: &str) -> Option<(Cursor, Option<u64>)> {
    let (dir, rest) = (t.get(..2)?, t.get(2..)?);
    let (page, id) = rest.split_once('_')?;
    let page: u64 = page.parse().ok()?;
    let id: i64 = id.parse().ok()?;
    match dir {
        "PA" => Some((Cursor::After(id), Some(page))),
        "PB" => Some((Cursor::Before(id), Some(page))),
        _ => None,
    }
}

/// One page cut from a full, ordered list.
#[derive(Debug)]
pub struct Page<T> {
    /// Items of this page.
    pub items: Vec<T>,
    /// Token for the next page, if any.
    pub next_token: Option<String>,
    /// Token for the previous page, if any.
    pub previous_token: Option<String>,
}

/// Cuts a page out of `rows` (`(row id, item)`, already in the requested order; `desc`
/// says whether ids decrease along the list).
pub fn paginate<T>(rows: Vec<(i64, T)>, q: &PageQuery, desc: bool) -> Page<T> {
    let after = |id: i64, x: i64| if desc { id < x } else { id > x };
    let len = rows.len();
    let (start, end) = match q.cursor {
        Cursor::Start => {
            let s = (q.page as usize).saturating_mul(q.page_size).min(len);
            (s, (s + q.page_size).min(len))
        }
        Cursor::After(x) => {
            let s = rows.iter().position(|(id, _)| after(*id, x)).unwrap_or(len);
            (s, (s + q.page_size).min(len))
        }
        Cursor::Before(x) => {
            let e = rows
                .iter()
                .position(|(id, _)| !after(x, *id))
                .unwrap_or(len);
            (e.saturating_sub(q.page_size), e)
        }
    };
    let next_token =
        (end < len && end > start).then(|| format!("PA{}_{}", q.page + 1, rows[end - 1].0));
    let previous_token = (start > 0 && start < len)
        .then(|| format!("PB{}_{}", q.page.saturating_sub(1), rows[start].0));
    let items = rows
        .into_iter()
        .skip(start)
        .take(end - start)
        .map(|(_, t)| t)
        .collect();
    Page {
        items,
        next_token,
        previous_token,
    }
}

/// Builds `{key: [...], meta: {...}}` with Twilio's page URLs.
pub fn envelope(
    key: &str,
    list_url: &str,
    filters: &[(&str, String)],
    q: &PageQuery,
    items: Vec<Value>,
    next_token: Option<String>,
    previous_token: Option<String>,
) -> Value {
    let page_url = |page: u64, token: Option<&str>| {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in filters {
            ser.append_pair(k, v);
        }
        ser.append_pair("PageSize", &q.page_size.to_string());
        ser.append_pair("Page", &page.to_string());
        if let Some(t) = token {
            ser.append_pair("PageToken", t);
        }
        format!("{list_url}?{}", ser.finish())
    };
    json!({
        key: items,
        "meta": {
            "page": q.page,
            "page_size": q.page_size,
            "first_page_url": page_url(0, None),
            "previous_page_url": previous_token.as_deref().map(|t| page_url(q.page.saturating_sub(1), Some(t))),
            "url": page_url(q.page, q.token.as_deref()),
            "next_page_url": next_token.as_deref().map(|t| page_url(q.page + 1, Some(t))),
            "key": key,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> PageQuery {
        PageQuery::parse(&Params::parse(s.as_bytes())).unwrap()
    }

    #[test]
    fn walks_forward_and_back() {
        let rows: Vec<(i64, i64)> = (1..=5).map(|i| (i, i)).collect();
        let p0 = paginate(rows.clone(), &q("PageSize=2"), false);
        assert_eq!(p0.items, vec![1, 2]);
        assert!(p0.previous_token.is_none());
        let t = p0.next_token.unwrap();
        let p1 = paginate(
            rows.clone(),
            &q(&format!("PageSize=2&pageToken={t}")),
            false,
        );
        assert_eq!(p1.items, vec![3, 4]);
        let p2 = paginate(
            rows.clone(),
            &q(&format!("PageSize=2&PageToken={}", p1.next_token.unwrap())),
            false,
        );
        assert_eq!(p2.items, vec![5]);
        assert!(p2.next_token.is_none());
        let back = paginate(
            rows.clone(),
            &q(&format!(
                "PageSize=2&PageToken={}",
                p2.previous_token.unwrap()
            )),
            false,
        );
        assert_eq!(back.items, vec![3, 4]);
        let desc: Vec<(i64, i64)> = rows.into_iter().rev().collect();
        let d0 = paginate(desc.clone(), &q("PageSize=2"), true);
        assert_eq!(d0.items, vec![5, 4]);
        let d1 = paginate(
            desc,
            &q(&format!("PageSize=2&PageToken={}", d0.next_token.unwrap())),
            true,
        );
        assert_eq!(d1.items, vec![3, 2]);
        assert!(PageQuery::parse(&Params::parse(b"PageSize=0")).is_err());
        assert!(PageQuery::parse(&Params::parse(b"PageToken=zz")).is_err());
    }
}
