//! `per_page` / `page` arithmetic and RFC 5988 `Link` headers.

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
            .map(|(k, v)| format!("{k}={v}"))
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
}
