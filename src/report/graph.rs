//! An Organization's dependency graph as a picture: SVG (laid out by [`super::layout`]), Graphviz DOT and Mermaid,
//! with repositories on a dependency cycle and unhealthy ones marked. Pure: the caller reads the Repository objects.
//!
//! Our own layout rather than a layout crate: the SVG must carry a stable class and the repository's name on every
//! node (the browser test and users' stylesheets find them), which a crate's SVG writer does not offer, and the
//! graph is a plain DAG of short names that longest-path layering with barycentre ordering draws well.

use std::collections::BTreeMap;

use crate::crd::condition::find_condition;
use crate::crd::{HasConditions, Repository};
use crate::manifest;
use crate::plan::depgraph::DependencyGraph;

use super::html::escape;
use super::layout;

/// Output format of `graph`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    /// A self-contained SVG picture.
    Svg,
    /// Graphviz DOT, for `dot -Tsvg`.
    Dot,
    /// A Mermaid flowchart, for Markdown that renders Mermaid (GitHub's does).
    Mermaid,
}

/// How a repository is doing, as its `Healthy` condition says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeHealth {
    /// `Healthy` is `True`.
    Healthy,
    /// `Healthy` is `False`.
    Unhealthy,
    /// Not measured yet, or `Unknown`.
    Unknown,
}

impl NodeHealth {
    /// The class name the pictures give it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Unhealthy => "unhealthy",
            Self::Unknown => "unknown",
        }
    }

    /// Fill and stroke colours.
    fn colours(self) -> (&'static str, &'static str) {
        match self {
            Self::Healthy => ("#dafbe1", "#1a7f37"),
            Self::Unhealthy => ("#ffebe9", "#cf222e"),
            Self::Unknown => ("#f6f8fa", "#8c959f"),
        }
    }
}

/// Colour of cycles.
const CYCLE: &str = "#bf8700";
/// Colour of ordinary edges.
const EDGE: &str = "#57606a";

/// One repository of the graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphNode {
    /// GitHub name.
    pub name: String,
    /// Its health.
    pub health: NodeHealth,
    /// The dependency cycle it is on (an index into the graph's cycles), if any.
    pub cycle: Option<usize>,
}

/// The dependency graph of an Organization's repositories.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Graph {
    /// The Organization object.
    pub organization: String,
    /// Repositories, sorted by name.
    pub nodes: Vec<GraphNode>,
    /// `(dependent, dependency)` as indices into `nodes`, sorted.
    pub edges: Vec<(usize, usize)>,
}

impl Graph {
    /// The graph of the Repository objects of the Organization object named `organization`; edges are the
    /// detected dependencies and `spec.dependsOn`, as in the manifest. Dependencies on repositories without an
    /// object are left out.
    pub fn of(organization: &str, repositories: &[Repository]) -> Self {
        let mine: Vec<&Repository> =
            repositories.iter().filter(|repo| repo.spec.organization_ref.name == organization).collect();
        let health: BTreeMap<String, NodeHealth> =
            mine.iter().map(|repo| (repo.spec.name.0.clone(), node_health(repo))).collect();
        let dependencies = manifest::build(organization, mine.iter().copied()).repositories;
        let depgraph = DependencyGraph::new(dependencies.into_iter().map(|entry| (entry.name, entry.dependencies)));
        let cycle_of: BTreeMap<String, usize> = depgraph
            .cycles()
            .into_iter()
            .enumerate()
            .flat_map(|(index, cycle)| cycle.members.into_iter().map(move |member| (member, index)))
            .collect();
        let names: Vec<&str> = depgraph.names().collect();
        let index: BTreeMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let nodes = names
            .iter()
            .map(|name| GraphNode {
                name: (*name).to_owned(),
                health: health.get(*name).copied().unwrap_or(NodeHealth::Unknown),
                cycle: cycle_of.get(*name).copied(),
            })
            .collect();
        let edges = names
            .iter()
            .enumerate()
            .flat_map(|(from, name)| depgraph.dependencies_of(name).into_iter().map(move |to| (from, to)))
            .filter_map(|(from, to)| Some((from, *index.get(to)?)))
            .collect();
        Self { organization: organization.to_owned(), nodes, edges }
    }

    /// The graph in `format`.
    pub fn render(&self, format: GraphFormat) -> String {
        match format {
            GraphFormat::Svg => self.svg(),
            GraphFormat::Dot => self.dot(),
            GraphFormat::Mermaid => self.mermaid(),
        }
    }

    /// Whether the edge joins two repositories of the same cycle.
    fn on_cycle(&self, (from, to): (usize, usize)) -> bool {
        self.nodes[from].cycle.is_some() && self.nodes[from].cycle == self.nodes[to].cycle
    }

    /// Class names of a node: `healthy`, `unhealthy` or `unknown`, and `cycle` when on one.
    fn classes(&self, node: &GraphNode) -> String {
        match node.cycle {
            Some(_) => format!("{} cycle", node.health.as_str()),
            None => node.health.as_str().to_owned(),
        }
    }

    /// Graphviz DOT; edges point from a repository to the ones it depends on, dependencies drawn on top.
    pub fn dot(&self) -> String {
        let quote = |text: &str| format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""));
        let mut out = format!("digraph {} {{\n", quote(&self.organization));
        out.push_str("  rankdir=BT;\n  node [shape=box, style=\"rounded,filled\", fontname=\"monospace\"];\n");
        for node in &self.nodes {
            let (fill, stroke) = node.health.colours();
            let (stroke, width) = if node.cycle.is_some() { (CYCLE, 3) } else { (stroke, 1) };
            out.push_str(&format!(
                "  {} [class=\"{}\", fillcolor=\"{fill}\", color=\"{stroke}\", penwidth={width}];\n",
                quote(&node.name),
                self.classes(node)
            ));
        }
        for &(from, to) in &self.edges {
            let style =
                if self.on_cycle((from, to)) { format!(" [color=\"{CYCLE}\", penwidth=2]") } else { String::new() };
            out.push_str(&format!("  {} -> {}{style};\n", quote(&self.nodes[from].name), quote(&self.nodes[to].name)));
        }
        out.push_str("}\n");
        out
    }

    /// A Mermaid flowchart; nodes are `n0`, `n1`, … (a name such as `end` would be a keyword), labelled by name.
    pub fn mermaid(&self) -> String {
        let label = |text: &str| text.replace('"', "#quot;").replace('<', "#lt;").replace('>', "#gt;");
        let mut out = String::from("flowchart BT\n");
        for (i, node) in self.nodes.iter().enumerate() {
            out.push_str(&format!("  n{i}[\"{}\"]\n", label(&node.name)));
        }
        for &(from, to) in &self.edges {
            out.push_str(&format!("  n{from} --> n{to}\n"));
        }
        for health in [NodeHealth::Healthy, NodeHealth::Unhealthy, NodeHealth::Unknown] {
            let members: Vec<String> =
                (0..self.nodes.len()).filter(|&i| self.nodes[i].health == health).map(|i| format!("n{i}")).collect();
            let (fill, stroke) = health.colours();
            out.push_str(&format!("  classDef {} fill:{fill},stroke:{stroke}\n", health.as_str()));
            if !members.is_empty() {
                out.push_str(&format!("  class {} {}\n", members.join(","), health.as_str()));
            }
        }
        let on_cycle: Vec<String> =
            (0..self.nodes.len()).filter(|&i| self.nodes[i].cycle.is_some()).map(|i| format!("n{i}")).collect();
        if !on_cycle.is_empty() {
            out.push_str(&format!("  classDef cycle stroke:{CYCLE},stroke-width:3px\n"));
            out.push_str(&format!("  class {} cycle\n", on_cycle.join(",")));
        }
        let cycle_links: Vec<String> =
            (0..self.edges.len()).filter(|&i| self.on_cycle(self.edges[i])).map(|i| i.to_string()).collect();
        if !cycle_links.is_empty() {
            out.push_str(&format!("  linkStyle {} stroke:{CYCLE},stroke-width:2px\n", cycle_links.join(",")));
        }
        out
    }

    /// A self-contained SVG: dependencies above their dependents, one `<g class="node …"
    /// data-repository="NAME">` per repository, edges as arrows to the dependency, and a legend.
    pub fn svg(&self) -> String {
        // Edges inside a cycle cannot be layered; they are drawn all the same.
        let layered_edges: Vec<(usize, usize)> = self.edges.iter().copied().filter(|&e| !self.on_cycle(e)).collect();
        let layout = layout::layered(self.nodes.len(), &layered_edges);
        let widths: Vec<f64> = self.nodes.iter().map(|n| node_width(&n.name)).collect();
        let row_width =
            |row: &[usize]| row.iter().map(|&n| widths[n]).sum::<f64>() + GAP * row.len().saturating_sub(1) as f64;
        let content = layout.layers.iter().map(|row| row_width(row)).fold(LEGEND_WIDTH, f64::max);
        let width = content + 2.0 * MARGIN;
        let rows_height = (layout.layers.len().max(1) as f64) * ROW - (ROW - NODE_HEIGHT);
        let height = MARGIN + rows_height + MARGIN + LEGEND_HEIGHT;
        // Top-left corner of each node.
        let mut corner = vec![(0.0, 0.0); self.nodes.len()];
        for (layer, row) in layout.layers.iter().enumerate() {
            let mut x = MARGIN + (content - row_width(row)) / 2.0;
            for &node in row {
                corner[node] = (x, MARGIN + layer as f64 * ROW);
                x += widths[node] + GAP;
            }
        }
        let mut out = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"dependency-graph\" viewBox=\"0 0 {width:.0} \
             {height:.0}\" width=\"{width:.0}\" height=\"{height:.0}\" role=\"img\" font-family=\"monospace\" \
             font-size=\"12\">\n<title>Dependency graph of {}</title>\n<defs>{}{}</defs>\n",
            escape(&self.organization),
            marker("dg-arrow", EDGE),
            marker("dg-arrow-cycle", CYCLE)
        );
        if self.nodes.is_empty() {
            out.push_str(&format!(
                "<text x=\"{MARGIN}\" y=\"{:.0}\" fill=\"#57606a\">No repositories.</text>\n",
                MARGIN + NODE_HEIGHT / 2.0
            ));
        }
        out.push_str("<g class=\"edges\" fill=\"none\">\n");
        for &(from, to) in &self.edges {
            let path = edge_path(
                corner[from],
                widths[from],
                corner[to],
                widths[to],
                layout.place[from].0,
                layout.place[to].0,
                from == to,
            );
            let (class, colour, arrow) = if self.on_cycle((from, to)) {
                ("edge cycle", CYCLE, "dg-arrow-cycle")
            } else {
                ("edge", EDGE, "dg-arrow")
            };
            out.push_str(&format!(
                "<path class=\"{class}\" data-from=\"{}\" data-to=\"{}\" d=\"{path}\" stroke=\"{colour}\" \
                 stroke-width=\"1.5\" marker-end=\"url(#{arrow})\"/>\n",
                escape(&self.nodes[from].name),
                escape(&self.nodes[to].name)
            ));
        }
        out.push_str("</g>\n<g class=\"nodes\">\n");
        for (i, node) in self.nodes.iter().enumerate() {
            let (x, y) = corner[i];
            let on_cycle = if node.cycle.is_some() { ", on a dependency cycle" } else { "" };
            out.push_str(&format!(
                "<g class=\"node {}\" data-repository=\"{}\"><title>{}: {}{on_cycle}</title>{}</g>\n",
                self.classes(node),
                escape(&node.name),
                escape(&node.name),
                node.health.as_str(),
                node_shape(x, y, widths[i], node.health, node.cycle.is_some(), &node.name),
            ));
        }
        out.push_str("</g>\n");
        out.push_str(&legend(MARGIN, MARGIN + rows_height + MARGIN));
        out.push_str("</svg>\n");
        out
    }
}

/// Height of a node's box.
const NODE_HEIGHT: f64 = 30.0;
/// Distance from one layer's top to the next one's.
const ROW: f64 = 78.0;
/// Space between boxes of a layer.
const GAP: f64 = 24.0;
/// Space around the picture.
const MARGIN: f64 = 16.0;
/// The legend's size.
const LEGEND_WIDTH: f64 = 640.0;
const LEGEND_HEIGHT: f64 = 30.0;

/// A box wide enough for the name in 12px monospace (about 7.2px a character).
fn node_width(name: &str) -> f64 {
    (name.chars().count() as f64 * 7.5 + 20.0).max(60.0)
}

fn node_health(repo: &Repository) -> NodeHealth {
    match find_condition(repo.conditions(), "Healthy").map(|c| format!("{:?}", c.status)).as_deref() {
        Some("True") => NodeHealth::Healthy,
        Some("False") => NodeHealth::Unhealthy,
        _ => NodeHealth::Unknown,
    }
}

fn marker(id: &str, colour: &str) -> String {
    format!(
        "<marker id=\"{id}\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" \
         orient=\"auto\"><path d=\"M0,0L10,5L0,10z\" fill=\"{colour}\"/></marker>"
    )
}

/// The box and the name of a node whose top-left corner is `(x, y)`.
fn node_shape(x: f64, y: f64, width: f64, health: NodeHealth, on_cycle: bool, name: &str) -> String {
    let (fill, stroke) = health.colours();
    let outline = if on_cycle {
        format!("stroke=\"{CYCLE}\" stroke-width=\"3\" stroke-dasharray=\"6 3\"")
    } else {
        format!("stroke=\"{stroke}\" stroke-width=\"1.5\"")
    };
    format!(
        "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{NODE_HEIGHT}\" rx=\"6\" fill=\"{fill}\" \
         {outline}/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" dominant-baseline=\"central\" \
         fill=\"#1b1f24\">{}</text>",
        x + width / 2.0,
        y + NODE_HEIGHT / 2.0,
        escape(name)
    )
}

/// The path of an edge from a dependent (box at `a`, `a_width` wide, in `a_layer`) to its dependency: from the
/// dependent's top to the dependency's bottom when the dependency is above, else around (inside a cycle).
fn edge_path(
    a: (f64, f64),
    a_width: f64,
    b: (f64, f64),
    b_width: f64,
    a_layer: usize,
    b_layer: usize,
    self_loop: bool,
) -> String {
    let (ax, bx) = (a.0 + a_width / 2.0, b.0 + b_width / 2.0);
    if self_loop {
        let right = a.0 + a_width;
        return format!(
            "M{right:.1},{:.1} C{:.1},{:.1} {:.1},{:.1} {right:.1},{:.1}",
            a.1 + 6.0,
            right + 34.0,
            a.1 - 8.0,
            right + 34.0,
            a.1 + NODE_HEIGHT + 8.0,
            a.1 + NODE_HEIGHT - 6.0
        );
    }
    let (start, end) = match b_layer.cmp(&a_layer) {
        std::cmp::Ordering::Less => ((ax, a.1), (bx, b.1 + NODE_HEIGHT)),
        // Inside a cycle, beside the edge coming back up, so that both show.
        std::cmp::Ordering::Greater => ((ax + 10.0, a.1 + NODE_HEIGHT), (bx + 10.0, b.1)),
        // Same layer: a loop below both boxes.
        std::cmp::Ordering::Equal => {
            let low = a.1 + NODE_HEIGHT;
            return format!("M{ax:.1},{low:.1} C{ax:.1},{:.1} {bx:.1},{:.1} {bx:.1},{low:.1}", low + 30.0, low + 30.0);
        }
    };
    let middle = (start.1 + end.1) / 2.0;
    format!(
        "M{:.1},{:.1} C{:.1},{middle:.1} {:.1},{middle:.1} {:.1},{:.1}",
        start.0, start.1, start.0, end.0, end.0, end.1
    )
}

/// The legend, its top-left corner at `(x, y)`.
fn legend(x: f64, y: f64) -> String {
    let mut out = String::from("<g class=\"legend\">");
    let mut left = x;
    let swatch = |left: f64, fill: &str, stroke: &str, dashed: bool| {
        let dash = if dashed { " stroke-dasharray=\"6 3\" stroke-width=\"3\"" } else { " stroke-width=\"1.5\"" };
        format!(
            "<rect x=\"{left:.1}\" y=\"{:.1}\" width=\"22\" height=\"14\" rx=\"3\" fill=\"{fill}\" stroke=\"{stroke}\"{dash}/>",
            y + 6.0
        )
    };
    let items = [
        (NodeHealth::Healthy.colours(), false, "healthy"),
        (NodeHealth::Unhealthy.colours(), false, "unhealthy"),
        (NodeHealth::Unknown.colours(), false, "not measured"),
        (("#ffffff", CYCLE), true, "on a cycle"),
    ];
    for ((fill, stroke), dashed, text) in items {
        out.push_str(&swatch(left, fill, stroke, dashed));
        out.push_str(&format!("<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#1b1f24\">{text}</text>", left + 28.0, y + 17.0));
        left += 40.0 + text.len() as f64 * 7.5;
    }
    out.push_str(&format!(
        "<path d=\"M{left:.1},{:.1} h30\" stroke=\"{EDGE}\" stroke-width=\"1.5\" marker-end=\"url(#dg-arrow)\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#1b1f24\">depends on</text></g>\n",
        y + 13.0,
        left + 36.0,
        y + 17.0
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::repo;
    use super::*;

    fn repository(name: &str, healthy: Option<&str>, depends_on: &[&str]) -> Repository {
        let conditions = match healthy {
            Some(status) => serde_json::json!([{ "type": "Healthy", "status": status, "reason": "R", "message": "",
                                                   "lastTransitionTime": "2026-11-25T00:00:00Z" }]),
            None => serde_json::json!([]),
        };
        let dependencies: Vec<serde_json::Value> =
            depends_on.iter().map(|d| serde_json::json!({ "repository": d })).collect();
        repo(name, serde_json::json!({ "conditions": conditions, "dependencies": dependencies }))
    }

    /// core ← lib ← web, web → ghost (no object); a ⇄ b on a cycle; other-org's repository left out.
    fn sample() -> Graph {
        let mut foreign = repository("foreign", Some("True"), &[]);
        foreign.spec.organization_ref.name = "other".to_owned();
        Graph::of(
            "acme",
            &[
                repository("core", Some("True"), &[]),
                repository("lib", Some("False"), &["core"]),
                repository("web", None, &["lib", "core", "ghost"]),
                repository("a", Some("True"), &["b"]),
                repository("b", Some("True"), &["a"]),
                foreign,
            ],
        )
    }

    #[test]
    fn nodes_edges_health_and_cycles_come_from_the_repositories() {
        let graph = sample();
        let names: Vec<&str> = graph.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "core", "lib", "web"]);
        let health: Vec<NodeHealth> = graph.nodes.iter().map(|n| n.health).collect();
        use NodeHealth::*;
        assert_eq!(health, [Healthy, Healthy, Healthy, Unhealthy, Unknown]);
        let cycles: Vec<Option<usize>> = graph.nodes.iter().map(|n| n.cycle).collect();
        assert_eq!(cycles, [Some(0), Some(0), None, None, None]);
        assert_eq!(graph.edges, [(0, 1), (1, 0), (3, 2), (4, 2), (4, 3)], "ghost has no object, so no edge");
    }

    #[test]
    fn svg_has_one_node_element_per_repository_with_its_class() {
        let svg = sample().svg();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"dependency-graph\""), "{svg}");
        assert_eq!(svg.matches("<g class=\"node ").count(), 5, "{svg}");
        assert!(svg.contains("<g class=\"node unhealthy\" data-repository=\"lib\">"), "{svg}");
        assert!(svg.contains("<g class=\"node healthy cycle\" data-repository=\"a\">"), "{svg}");
        assert!(svg.contains("<g class=\"node unknown\" data-repository=\"web\">"), "{svg}");
        assert_eq!(svg.matches("<path class=\"edge cycle\"").count(), 2, "{svg}");
        assert_eq!(svg.matches("<path class=\"edge\"").count(), 3, "{svg}");
        assert!(svg.contains("<g class=\"legend\">") && svg.contains("on a cycle") && svg.contains("depends on"));
        roxmltree::Document::parse(&svg).expect("well-formed XML");
    }

    #[test]
    fn svg_puts_dependencies_above_dependents() {
        let svg = sample().svg();
        let top = |name: &str| -> f64 {
            let node = svg.split(&format!("data-repository=\"{name}\">")).nth(1).unwrap();
            let y = node.split("y=\"").nth(1).unwrap().split('"').next().unwrap();
            y.parse().unwrap()
        };
        assert!(top("core") < top("lib") && top("lib") < top("web"), "{svg}");
    }

    #[test]
    fn names_are_escaped_in_every_format() {
        let graph = Graph::of("ac\"me", &[]);
        assert!(graph.dot().starts_with("digraph \"ac\\\"me\" {"));
        let mut odd = repository("x<y>\"z", Some("False"), &[]);
        odd.spec.organization_ref.name = "acme".to_owned();
        let graph = Graph::of("acme", &[odd]);
        let svg = graph.svg();
        assert!(svg.contains("data-repository=\"x&lt;y&gt;&quot;z\"") && !svg.contains("x<y>"), "{svg}");
        roxmltree::Document::parse(&svg).expect("well-formed XML");
        assert!(graph.mermaid().contains("n0[\"x#lt;y#gt;#quot;z\"]"), "{}", graph.mermaid());
        assert!(graph.dot().contains("\"x<y>\\\"z\" [class=\"unhealthy\""), "{}", graph.dot());
    }

    #[test]
    fn dot_and_mermaid_mark_cycles_and_health() {
        let graph = sample();
        let dot = graph.dot();
        assert!(dot.contains("rankdir=BT;"), "{dot}");
        assert!(dot.contains("\"a\" [class=\"healthy cycle\", fillcolor=\"#dafbe1\", color=\"#bf8700\", penwidth=3];"));
        assert!(dot.contains("\"a\" -> \"b\" [color=\"#bf8700\", penwidth=2];"), "{dot}");
        assert!(dot.contains("\"web\" -> \"lib\";"), "{dot}");
        assert_eq!(dot.matches(" -> ").count(), 5);
        let mermaid = graph.mermaid();
        assert!(mermaid.starts_with("flowchart BT\n  n0[\"a\"]\n"), "{mermaid}");
        assert!(mermaid.contains("  n4 --> n3\n"), "{mermaid}");
        assert!(mermaid.contains("  class n3 unhealthy\n") && mermaid.contains("  class n0,n1 cycle\n"), "{mermaid}");
        assert!(mermaid.contains("  linkStyle 0,1 stroke:#bf8700"), "{mermaid}");
    }

    #[test]
    fn an_empty_organization_still_draws_a_picture() {
        let svg = Graph::of("acme", &[]).svg();
        assert!(svg.contains("No repositories.") && svg.contains("<g class=\"legend\">"), "{svg}");
        assert_eq!(svg.matches("<g class=\"node ").count(), 0);
    }
}
