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

/// The rows one page query reads (keyset paging): a bound on the row id from the token, the
/// scan order, and one row more than the page so the query itself says whether more follow.
/// `Page` without a token falls back to an offset (the SDKs and helper libraries always
/// follow the token URLs).
#[derive(Clone, Debug)]
pub struct Window {
    bound: Option<(&'static str, i64)>,
    scan_desc: bool,
    limit: usize,
    offset: usize,
    cursor: Cursor,
    page_size: usize,
}

impl Window {
    /// SQL condition on `id` for this window (`1` when unbounded). Only integers are inlined.
    pub fn filter(&self) -> String {
        match self.bound {
            None => "1".to_string(),
            Some((op, id)) => format!("id {op} {id}"),
        }
    }

    /// `ORDER BY id … LIMIT … OFFSET …` for this window.
    pub fn tail(&self) -> String {
        let dir = if self.scan_desc { "DESC" } else { "ASC" };
        format!(
            "ORDER BY id {dir} LIMIT {} OFFSET {}",
            self.limit, self.offset
        )
    }

    /// Whether `id` lies inside the window's bound (for lists kept in memory).
    pub fn admits(&self, id: i64) -> bool {
        match self.bound {
            None => true,
            Some((">", b)) => id > b,
            Some((_, b)) => id < b,
        }
    }

    /// Whether the scan runs by decreasing id.
    pub fn scan_desc(&self) -> bool {
        self.scan_desc
    }

    /// Rows to read at most.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Rows to skip first.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl PageQuery {
    /// The window to read for this query over a list whose ids increase (`desc` false) or
    /// decrease along it.
    pub fn window(&self, desc: bool) -> Window {
        let (fwd, back) = if desc { ("<", ">") } else { (">", "<") };
        let (bound, scan_desc, offset) = match self.cursor {
            Cursor::Start => (
                None,
                desc,
                (self.page as usize).saturating_mul(self.page_size),
            ),
            Cursor::After(x) => (Some((fwd, x)), desc, 0),
            Cursor::Before(x) => (Some((back, x)), !desc, 0),
        };
        Window {
            bound,
            scan_desc,
            limit: self.page_size + 1,
            offset: offset.min(i64::MAX as usize),
            cursor: self.cursor.clone(),
            page_size: self.page_size,
        }
    }
}

/// One page of a list.
#[derive(Debug)]
pub struct Page<T> {
    /// Items of this page.
    pub items: Vec<T>,
    /// Token for the next page, if any.
    pub next_token: Option<String>,
    /// Token for the previous page, if any.
    pub previous_token: Option<String>,
}

/// Makes the page of `rows` (`(row id, item)` as read for `w`, in scan order).
pub fn finish<T>(mut rows: Vec<(i64, T)>, q: &PageQuery, w: &Window) -> Page<T> {
    let more = rows.len() > w.page_size;
    rows.truncate(w.page_size);
    let backwards = matches!(w.cursor, Cursor::Before(_));
    if backwards {
        rows.reverse();
    }
    let nonempty = !rows.is_empty();
    let (has_next, has_prev) = match w.cursor {
        Cursor::Start => (more, nonempty && w.offset > 0),
        Cursor::After(_) => (more, nonempty),
        Cursor::Before(_) => (nonempty, more),
    };
    let next_token = rows
        .last()
        .filter(|_| has_next)
        .map(|(id, _)| format!("PA{}_{id}", q.page + 1));
    let previous_token = rows
        .first()
        .filter(|_| has_prev)
        .map(|(id, _)| format!("PB{}_{id}", q.page.saturating_sub(1)));
    Page {
        items: rows.into_iter().map(|(_, t)| t).collect(),
        next_token,
        previous_token,
    }
}

/// Reads the window of a list held in memory (`rows` in id order, ascending) — for small
/// tables and tests; the same tokens as the SQL path.
pub fn window_of<T: Clone>(rows: &[(i64, T)], w: &Window) -> Vec<(i64, T)> {
    let it: Box<dyn Iterator<Item = &(i64, T)>> = if w.scan_desc {
        Box::new(rows.iter().rev())
    } else {
        Box::new(rows.iter())
    };
    it.filter(|(id, _)| w.admits(*id))
        .skip(w.offset)
        .take(w.limit)
        .cloned()
        .collect()
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

    fn page(rows: &[(i64, i64)], query: &str, desc: bool) -> Page<i64> {
        let q = q(query);
        let w = q.window(desc);
        finish(window_of(rows, &w), &q, &w)
    }

    #[test]
    fn walks_forward_and_back() {
        let rows: Vec<(i64, i64)> = (1..=5).map(|i| (i, i)).collect();
        let p0 = page(&rows, "PageSize=2", false);
        assert_eq!(p0.items, vec![1, 2]);
        assert!(p0.previous_token.is_none());
        let t = p0.next_token.unwrap();
        let p1 = page(&rows, &format!("PageSize=2&pageToken={t}"), false);
        assert_eq!(p1.items, vec![3, 4]);
        let p2 = page(
            &rows,
            &format!("PageSize=2&PageToken={}", p1.next_token.unwrap()),
            false,
        );
        assert_eq!(p2.items, vec![5]);
        assert!(p2.next_token.is_none());
        let back = page(
            &rows,
            &format!("PageSize=2&PageToken={}", p2.previous_token.unwrap()),
            false,
        );
        assert_eq!(back.items, vec![3, 4]);
        let back0 = page(
            &rows,
            &format!("PageSize=2&PageToken={}", back.previous_token.unwrap()),
            false,
        );
        assert_eq!(back0.items, vec![1, 2]);
        assert!(back0.previous_token.is_none());
        assert!(back0.next_token.is_some());
        let d0 = page(&rows, "PageSize=2", true);
        assert_eq!(d0.items, vec![5, 4]);
        let d1 = page(
            &rows,
            &format!("PageSize=2&PageToken={}", d0.next_token.unwrap()),
            true,
        );
        assert_eq!(d1.items, vec![3, 2]);
        let d0b = page(
            &rows,
            &format!("PageSize=2&PageToken={}", d1.previous_token.unwrap()),
            true,
        );
        assert_eq!(d0b.items, vec![5, 4]);
        assert!(PageQuery::parse(&Params::parse(b"PageSize=0")).is_err());
        assert!(PageQuery::parse(&Params::parse(b"PageToken=zz")).is_err());
    }

    #[test]
    fn keyset_token_survives_inserts_and_deletes() {
        // Rows added before the cursor or removed behind it do not shift the next page.
        let mut rows: Vec<(i64, i64)> = (1..=6).map(|i| (i * 10, i)).collect();
        let p0 = page(&rows, "PageSize=2", false);
        assert_eq!(p0.items, vec![1, 2]);
        rows.remove(0);
        rows.push((70, 7));
        let p1 = page(
            &rows,
            &format!("PageSize=2&PageToken={}", p0.next_token.unwrap()),
            false,
        );
        assert_eq!(p1.items, vec![3, 4]);
        // The window reads one row more than the page, never the whole list.
        let w = q("PageSize=2").window(false);
        assert_eq!((w.limit(), w.offset()), (3, 0));
        assert_eq!(q("PageSize=2&Page=3").window(false).offset(), 6);
    }
}
