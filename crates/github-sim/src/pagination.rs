//! `per_page` / `page` arithmetic and RFC 5988 `Link` headers.

use crate::encoding::percent_encode;

/// GitHub's default page size.
pub const DEFAULT_PER_PAGE: usize = 30;
/// GitHub's largest page size.
pub const MAX_PER_PAGE: usize = 100;

/// One page of a list: which slice of items to serve and the last page number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The 1-based page requested.
    pub page: usize,
    /// Items per page after clamping.
    pub per_page: usize,
    /// Index range of the items on this page.
    pub range: std::ops::Range<usize>,
    /// The last page number (at least 1).
    pub last_page: usize,
}

/// Computes the page for `total` items from raw `per_page` / `page` query values.
pub fn page_of(total: usize, per_page: Option<&str>, page: Option<&str>) -> Page {
    let per_page =
        per_page.and_then(|v| v.parse::<usize>().ok()).map(|v| v.clamp(1, MAX_PER_PAGE)).unwrap_or(DEFAULT_PER_PAGE);
    let page = page.and_then(|v| v.parse::<usize>().ok()).unwrap_or(1).max(1);
    let last_page = total.div_ceil(per_page).max(1);
    let start = ((page - 1) * per_page).min(total);
    let end = (start + per_page).min(total);
    Page { page, per_page, range: start..end, last_page }
}

/// A cursor (`before` / `after`) as GitHub's cursor-paginated lists give them in `Link`: opaque, here the hex of
/// `cursor:<index>`.
pub fn cursor_of(index: usize) -> String {
    hex::encode(format!("cursor:{index}"))
}

/// The item index a cursor names, `None` for a cursor this simulator did not give.
pub fn index_of(cursor: &str) -> Option<usize> {
    let text = String::from_utf8(hex::decode(cursor).ok()?).ok()?;
    text.strip_prefix("cursor:")?.parse().ok()
}

/// One page of a cursor-paginated list (GitHub's `before` / `after`, no `page`): the items to serve and the `Link`
/// header (`next` with `after`, `prev` with `before`; no `first` or `last`, as GitHub sends none). A `page`
/// parameter is ignored, as GitHub ignores it on these lists.
pub fn cursor_page(total: usize, base: &str, query: &[(String, String)]) -> (std::ops::Range<usize>, Option<String>) {
    let value = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let per_page =
        value("per_page").and_then(|v| v.parse::<usize>().ok()).map_or(DEFAULT_PER_PAGE, |v| v.clamp(1, MAX_PER_PAGE));
    let range = match (value("after").and_then(index_of), value("before").and_then(index_of)) {
        (Some(after), _) => after.min(total)..(after + per_page).min(total),
        (None, Some(before)) => before.min(total).saturating_sub(per_page)..before.min(total),
        (None, None) => 0..per_page.min(total),
    };
    let url = |cursor_name: &str, index: usize| {
        let mut q: Vec<String> = query
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "page" | "per_page" | "before" | "after"))
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .collect();
        q.push(format!("per_page={per_page}"));
        q.push(format!("{cursor_name}={}", cursor_of(index)));
        format!("<{base}?{}>", q.join("&"))
    };
    let mut links = Vec::new();
    if range.start > 0 {
        links.push(format!("{}; rel=\"prev\"", url("before", range.start)));
    }
    if range.end < total {
        links.push(format!("{}; rel=\"next\"", url("after", range.end)));
    }
    (range, (!links.is_empty()).then(|| links.join(", ")))
}

/// The `Link` header for `page`, or `None` when everything fits on one page.
/// `base` is the absolute URL without query; `other_query` holds the request's other parameters.
pub fn link_header(base: &str, other_query: &[(String, String)], page: &Page) -> Option<String> {
    if page.last_page <= 1 {
        return None;
    }
    let url = |n: usize| {
        let mut q: Vec<String> = other_query
            .iter()
            .filter(|(k, _)| k != "page" && k != "per_page")
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .collect();
        q.push(format!("per_page={}", page.per_page));
        q.push(format!("page={n}"));
        format!("<{base}?{}>", q.join("&"))
    };
    let mut links = Vec::new();
    if page.page > 1 {
        links.push(format!("{}; rel=\"prev\"", url((page.page - 1).min(page.last_page))));
        links.push(format!("{}; rel=\"first\"", url(1)));
    }
    if page.page < page.last_page {
        links.push(format!("{}; rel=\"next\"", url(page.page + 1)));
        links.push(format!("{}; rel=\"last\"", url(page.last_page)));
    }
    Some(links.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_and_slices() {
        let p = page_of(250, Some("1000"), Some("3"));
        assert_eq!((p.per_page, p.range.clone(), p.last_page), (100, 200..250, 3));
        let p = page_of(0, None, None);
        assert_eq!((p.per_page, p.range, p.last_page), (30, 0..0, 1));
        let p = page_of(10, Some("5"), Some("9"));
        assert_eq!(p.range, 10..10);
    }

    #[test]
    fn link_has_next_last_prev_first() {
        let p = page_of(250, Some("100"), Some("2"));
        let link = link_header("http://h/orgs/o/repos", &[("type".into(), "all".into())], &p).expect("link");
        assert!(link.contains("<http://h/orgs/o/repos?type=all&per_page=100&page=3>; rel=\"next\""));
        assert!(link.contains("page=3>; rel=\"last\""));
        assert!(link.contains("page=1>; rel=\"prev\""));
        assert!(link.contains("page=1>; rel=\"first\""));
        assert_eq!(link_header("b", &[], &page_of(3, None, None)), None);
    }

    #[test]
    fn cursor_pages_walk_forward_and_back_without_page_numbers() {
        let query = |pairs: &[(&str, String)]| -> Vec<(String, String)> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
        };
        let (range, link) = cursor_page(5, "http://h/a", &query(&[("per_page", "2".into()), ("page", "3".into())]));
        assert_eq!(range, 0..2, "page is ignored");
        let link = link.expect("link");
        assert_eq!(link, format!("<http://h/a?per_page=2&after={}>; rel=\"next\"", cursor_of(2)));
        let (range, link) = cursor_page(5, "http://h/a", &query(&[("per_page", "2".into()), ("after", cursor_of(4))]));
        assert_eq!(range, 4..5);
        assert_eq!(link, Some(format!("<http://h/a?per_page=2&before={}>; rel=\"prev\"", cursor_of(4))));
        let (range, _) = cursor_page(5, "http://h/a", &query(&[("per_page", "2".into()), ("before", cursor_of(4))]));
        assert_eq!(range, 2..4);
        assert_eq!(cursor_page(0, "b", &[]), (0..0, None));
    }

    #[test]
    fn link_query_values_are_percent_encoded() {
        let p = page_of(250, Some("100"), Some("1"));
        let query = [("created".to_string(), ">=2026-01-01T00:00:00Z".to_string()), ("labels".into(), "a b,c".into())];
        let link = link_header("http://h/x", &query, &p).expect("link");
        assert!(
            link.contains("<http://h/x?created=%3E%3D2026-01-01T00%3A00%3A00Z&labels=a%20b%2Cc&per_page=100&page=2>"),
            "{link}"
        );
        let urls: Vec<&str> = link.split(", ").map(|l| &l[1..l.find('>').expect(">")]).collect();
        assert!(urls.iter().all(|u| !u.contains(['<', '>', ' '])), "{urls:?}");
    }
}
