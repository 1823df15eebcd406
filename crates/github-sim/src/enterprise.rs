//! GitHub Enterprise Server's URL layout: the REST API under `/api/v3`, GraphQL at `/api/graphql`, web pages at the
//! host's root (docs: enterprise-server rest/enterprise-admin "Endpoint URLs",
//! graphql/guides/forming-calls-with-graphql).

/// Where an Enterprise Server serves its REST API.
pub const API_PREFIX: &str = "/api/v3";

/// Where an Enterprise Server serves GraphQL (beside the REST API, not under it).
pub const GRAPHQL_PATH: &str = "/api/graphql";

/// Where github.com serves GraphQL: the path GitHub's descriptions and the simulator's routing use.
const GITHUB_COM_GRAPHQL_PATH: &str = "/graphql";

/// The release named in `X-GitHub-Enterprise-Version` on every API answer and webhook delivery.
pub const VERSION: &str = "enterprise-server@3.17.0";

/// The REST API versions an Enterprise Server knows unless the fixture says otherwise: its releases list only the
/// first dated version (docs: enterprise-server rest/about-the-rest-api/api-versions).
pub const API_VERSIONS: &[&str] = &["2022-11-28"];

/// The path of an API request as GitHub's descriptions name it (`/repos/…`, `/graphql`), or `None` when `url_path`
/// is not an API path there: a web page (which the simulator does not serve), github.com's bare API paths, or
/// github.com's GraphQL path under the REST prefix.
pub fn route_path(url_path: &str) -> Option<String> {
    if url_path == GRAPHQL_PATH {
        return Some(GITHUB_COM_GRAPHQL_PATH.to_string());
    }
    match url_path.strip_prefix(API_PREFIX)? {
        "" => Some("/".to_string()),
        rest if rest == GITHUB_COM_GRAPHQL_PATH => None,
        rest => rest.starts_with('/').then(|| rest.to_string()),
    }
}

/// The path a client sends for the API path `route_path`: the inverse of [`route_path`].
pub fn url_path(route_path: &str) -> String {
    if route_path == GITHUB_COM_GRAPHQL_PATH {
        GRAPHQL_PATH.to_string()
    } else {
        format!("{API_PREFIX}{route_path}")
    }
}

/// The web root of an API base URL: the host for an Enterprise Server's `…/api/v3`, the base itself otherwise
/// (the simulator serves github.com's API and pages from one host).
pub fn html_root(api_base: &str) -> &str {
    api_base.strip_suffix(API_PREFIX).unwrap_or(api_base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_map_to_the_routes_github_describes_and_back() {
        assert_eq!(route_path("/api/v3/repos/acme/api").as_deref(), Some("/repos/acme/api"));
        assert_eq!(route_path("/api/v3").as_deref(), Some("/"));
        assert_eq!(route_path("/api/graphql").as_deref(), Some("/graphql"));
        assert_eq!(url_path("/graphql"), "/api/graphql");
        assert_eq!(url_path("/repos/acme/api"), "/api/v3/repos/acme/api");
    }

    #[test]
    fn paths_outside_the_api_are_not_routes() {
        for outside in ["/repos/acme/api", "/graphql", "/api/v3/graphql", "/api/v3repos", "/acme/api", "/api/graphql/x"]
        {
            assert_eq!(route_path(outside), None, "{outside}");
        }
    }

    #[test]
    fn web_pages_live_at_the_host_root() {
        assert_eq!(html_root("http://127.0.0.1:1/api/v3"), "http://127.0.0.1:1");
        assert_eq!(html_root("http://127.0.0.1:1"), "http://127.0.0.1:1");
    }
}
