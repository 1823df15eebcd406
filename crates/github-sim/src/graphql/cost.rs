//! GitHub's limits and price of a query, computed from its text before it runs (docs:
//! graphql/overview/rate-limits-and-query-limits-for-the-graphql-api): every connection needs `first` or `last`, at
//! most 100; a query may ask for at most 500,000 nodes; it costs the requests its connections would need, each
//! assumed to reach its `first`/`last`, divided by 100 and rounded, at least 1 point. `nodes(ids:)` takes at most
//! 100 ids.

use apollo_compiler::executable::{Field, Operation, Selection, SelectionSet};
use apollo_compiler::ExecutableDocument;
use serde_json::{Map, Value};

use super::{argument, location_of};

/// Largest `first`/`last` of a connection.
pub const MAX_PAGE: i64 = 100;
/// Most nodes one query may ask for.
pub const MAX_NODES: i64 = 500_000;
/// Most ids one `nodes(ids:)` takes.
pub const MAX_NODE_IDS: usize = 100;

/// What a query costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    /// Points charged to the `graphql` budget.
    pub points: i64,
    /// Connection requests the query needs at most.
    pub requests: i64,
    /// Nodes the query may return at most (`rateLimit { nodeCount }`).
    pub nodes: i64,
}

/// A limit the query breaks, as GitHub reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitError {
    /// GitHub's message.
    pub message: String,
    /// GitHub's error `type`.
    pub kind: Option<&'static str>,
    /// Line and column of the field.
    pub location: Option<(usize, usize)>,
}

/// Points for a number of connection requests: divided by 100, rounded, at least 1.
pub fn points(requests: i64) -> i64 {
    ((requests as f64 / 100.0).round() as i64).max(1)
}

/// The cost of `operation`, or every limit it breaks.
pub fn analyze(
    document: &ExecutableDocument,
    operation: &Operation,
    variables: &Map<String, Value>,
) -> Result<Cost, Vec<LimitError>> {
    let mut walk = Walk { document, variables, requests: 0, nodes: 0, errors: Vec::new(), over_node_limit: false };
    walk.selection_set(&operation.selection_set, 1, 0);
    if !walk.errors.is_empty() {
        return Err(walk.errors);
    }
    Ok(Cost { points: points(walk.requests), requests: walk.requests, nodes: walk.nodes })
}

struct Walk<'a> {
    document: &'a ExecutableDocument,
    variables: &'a Map<String, Value>,
    requests: i64,
    nodes: i64,
    errors: Vec<LimitError>,
    over_node_limit: bool,
}

/// Fragments nest at most this deep (validation already refuses cycles; this bounds the walk regardless).
const MAX_DEPTH: usize = 64;

impl Walk<'_> {
    /// Visits a selection set fetched `multiplier` times.
    fn selection_set(&mut self, set: &SelectionSet, multiplier: i64, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        for selection in &set.selections {
            match selection {
                Selection::Field(field) => self.field(field, multiplier, depth),
                Selection::InlineFragment(inline) => self.selection_set(&inline.selection_set, multiplier, depth + 1),
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = self.document.fragments.get(&spread.fragment_name) {
                        self.selection_set(&fragment.selection_set, multiplier, depth + 1);
                    }
                }
            }
        }
    }

    fn field(&mut self, field: &apollo_compiler::Node<Field>, multiplier: i64, depth: usize) {
        let location = location_of(field, self.document);
        let name = field.name.as_str();
        let is_connection = field.ty().inner_named_type().as_str().ends_with("Connection")
            && field.definition.argument_by_name("first").is_some();
        if is_connection {
            let Some(page) = self.page_size(field, location) else { return };
            self.requests = self.requests.saturating_add(multiplier);
            let fetched = multiplier.saturating_mul(page);
            self.add_nodes(fetched, name, location);
            self.selection_set(&field.selection_set, fetched.max(1), depth + 1);
        } else if name == "nodes" && field.definition.argument_by_name("ids").is_some() {
            let ids = argument(field, "ids", self.variables).and_then(|v| v.as_array().map(Vec::len)).unwrap_or(0);
            if ids > MAX_NODE_IDS {
                self.errors.push(LimitError {
                    message: format!(
                        "You may not request more than {MAX_NODE_IDS} node ids at once; you requested {ids}."
                    ),
                    kind: Some("EXCESSIVE_PAGINATION"),
                    location,
                });
                return;
            }
            let fetched = multiplier.saturating_mul(ids as i64);
            self.add_nodes(fetched, name, location);
            self.selection_set(&field.selection_set, fetched.max(1), depth + 1);
        } else {
            self.selection_set(&field.selection_set, multiplier, depth + 1);
        }
    }

    /// The page a connection asks for (the larger of `first` and `last`), or `None` after recording why GitHub
    /// refuses it.
    fn page_size(&mut self, field: &Field, location: Option<(usize, usize)>) -> Option<i64> {
        let name = field.name.as_str();
        let bound = |argument_name: &str| argument(field, argument_name, self.variables).and_then(|v| v.as_i64());
        let (first, last) = (bound("first"), bound("last"));
        if first.is_none() && last.is_none() {
            self.errors.push(LimitError {
                message: format!(
                    "You must provide a `first` or `last` value to properly paginate the `{name}` connection."
                ),
                kind: Some("MISSING_PAGINATION_BOUNDARIES"),
                location,
            });
            return None;
        }
        let mut page = 0;
        for (argument_name, value) in [("first", first), ("last", last)] {
            let Some(value) = value else { continue };
            if value < 0 {
                self.errors.push(LimitError {
                    message: format!("`{argument_name}` on the `{name}` connection cannot be less than zero."),
                    kind: Some("EXCESSIVE_PAGINATION"),
                    location,
                });
                return None;
            }
            if value > MAX_PAGE {
                self.errors.push(LimitError {
                    message: format!(
                        "Requesting {value} records on the `{name}` connection exceeds the `{argument_name}` limit of \
                         {MAX_PAGE} records."
                    ),
                    kind: Some("EXCESSIVE_PAGINATION"),
                    location,
                });
                return None;
            }
            page = page.max(value);
        }
        Some(page)
    }

    fn add_nodes(&mut self, fetched: i64, name: &str, location: Option<(usize, usize)>) {
        self.nodes = self.nodes.saturating_add(fetched);
        if self.nodes > MAX_NODES && !self.over_node_limit {
            self.over_node_limit = true;
            self.errors.push(LimitError {
                message: format!(
                    "By the time this query traverses to the {name} connection, it is requesting up to {} possible \
                     nodes which exceeds the maximum limit of {}.",
                    thousands(self.nodes),
                    thousands(MAX_NODES)
                ),
                kind: Some("MAX_NODE_LIMIT_EXCEEDED"),
                location,
            });
        }
    }
}

/// `1234567` as `1,234,567`.
fn thousands(number: i64) -> String {
    let digits = number.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if number < 0 {
        grouped.insert(0, '-');
    }
    grouped
}

#[cfg(test)]
mod tests {
    use apollo_compiler::Schema;
    use serde_json::json;

    use super::*;

    /// The shapes of GitHub's schema that pricing looks at.
    const SCHEMA: &str = r#"
        type Query { viewer: User! nodes(ids: [ID!]!): [Node]! rateLimit: RateLimit }
        interface Node { id: ID! }
        type RateLimit { cost: Int! }
        type User implements Node { id: ID! login: String! repositories(first: Int, last: Int, after: String): RepositoryConnection! }
        type RepositoryConnection { nodes: [Repository] edges: [RepositoryEdge] totalCount: Int! }
        type RepositoryEdge { node: Repository }
        type Repository implements Node { id: ID! name: String! issues(first: Int, last: Int): IssueConnection! tree: Tree }
        type Tree { entries: [TreeEntry!] }
        type TreeEntry { name: String! }
        type IssueConnection { nodes: [Issue] }
        type Issue { title: String! labels(first: Int, last: Int): LabelConnection }
        type LabelConnection { nodes: [Label] }
        type Label { name: String! }
    "#;

    fn cost_of(query: &str, variables: Value) -> Result<Cost, Vec<LimitError>> {
        let schema = Schema::parse_and_validate(SCHEMA, "schema.graphql").expect("schema");
        let document = ExecutableDocument::parse_and_validate(&schema, query, "query.graphql").expect("valid query");
        let operation = document.operations.get(None).expect("one operation");
        analyze(&document, operation, variables.as_object().expect("object"))
    }

    #[test]
    fn points_are_requests_over_100_rounded_at_least_1() {
        assert_eq!(points(0), 1);
        assert_eq!(points(1), 1);
        assert_eq!(points(149), 1);
        assert_eq!(points(150), 2);
        assert_eq!(points(5101), 51);
    }

    #[test]
    fn github_documented_example_costs_51_points() {
        // docs: "Calculating a rate limit score": 1 + 100 + 100 × 50 = 5,101 requests → 51 points.
        let query = "{ viewer { repositories(first: 100) { edges { node { issues(first: 50) { nodes { \
                     labels(first: 60) { nodes { name } } } } } } } } }";
        let cost = cost_of(query, json!({})).expect("within limits");
        assert_eq!(cost.requests, 5101);
        assert_eq!(cost.points, 51);
        assert_eq!(cost.nodes, 100 + 100 * 50 + 100 * 50 * 60);
    }

    #[test]
    fn plain_objects_and_lists_cost_one_point_and_fragments_count() {
        let query = "query($ids: [ID!]!) { rateLimit { cost } nodes(ids: $ids) { ...R } } \
                     fragment R on Repository { name tree { entries { name } } issues(first: 10) { nodes { title } } }";
        let cost = cost_of(query, json!({"ids": ["a", "b", "c"]})).expect("within limits");
        assert_eq!(cost.requests, 3, "one issues page per node");
        assert_eq!(cost.points, 1);
        assert_eq!(cost.nodes, 3 + 30);
        let cost = cost_of("{ viewer { login } }", json!({})).expect("within limits");
        assert_eq!((cost.points, cost.requests, cost.nodes), (1, 0, 0));
    }

    #[test]
    fn limits_are_refused_with_github_messages() {
        let missing = cost_of("{ viewer { repositories { totalCount } } }", json!({})).expect_err("refused");
        assert_eq!(missing[0].kind, Some("MISSING_PAGINATION_BOUNDARIES"));
        assert!(missing[0].message.contains("`first` or `last` value to properly paginate the `repositories`"));
        let over = cost_of("query($n: Int) { viewer { repositories(first: $n) { totalCount } } }", json!({"n": 101}))
            .expect_err("refused");
        assert_eq!(
            over[0].message,
            "Requesting 101 records on the `repositories` connection exceeds the `first` limit of 100 records."
        );
        let ids: Vec<String> = (0..101).map(|i| format!("R_{i}")).collect();
        let too_many =
            cost_of("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", json!({ "ids": ids })).expect_err("refused");
        assert!(too_many[0].message.contains("you requested 101"), "{too_many:?}");
        let query = "{ viewer { repositories(first: 100) { nodes { issues(first: 100) { nodes { \
                     labels(first: 100) { nodes { name } } } } } } } }";
        let nodes = cost_of(query, json!({})).expect_err("refused");
        assert_eq!(nodes[0].kind, Some("MAX_NODE_LIMIT_EXCEEDED"));
        assert_eq!(
            nodes[0].message,
            "By the time this query traverses to the labels connection, it is requesting up to 1,010,100 possible \
             nodes which exceeds the maximum limit of 500,000."
        );
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(500_000), "500,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_010_100), "1,010,100");
    }
}
