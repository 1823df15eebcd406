//! A dependency graph over repository names: cycles, a deterministic topological order, transitive dependents and
//! dependencies, dependency levels, and the longest remaining path from each repository.
//!
//! Edges point from a repository to the repositories it depends on. Every answer is deterministic: ties are broken
//! by name, so the same graph always gives the same order, the same levels and the same cycle messages.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

/// A dependency on a repository that is not a node of the graph; the edge is otherwise ignored.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct MissingDependency {
    /// The repository that declares the dependency.
    pub repository: String,
    /// The name it depends on, absent from the graph.
    pub missing: String,
}

/// One dependency cycle: a strongly connected component of more than one repository, or a self-loop.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cycle {
    /// The names along one cycle through the component, starting at its smallest name and following dependency
    /// edges (shortest way back, ties by name); the first name is not repeated at the end.
    pub path: Vec<String>,
    /// Every repository of the strongly connected component, sorted.
    pub members: Vec<String>,
}

impl fmt::Display for Cycle {
    /// `a → b → c → a`: the path, closed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for name in &self.path {
            write!(f, "{name} → ")?;
        }
        match self.path.first() {
            Some(first) => write!(f, "{first}"),
            None => Ok(()),
        }
    }
}

/// The graph has a cycle, so it has no topological order.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("dependency cycle: {cycle}")]
pub struct CycleError {
    /// The first cycle found (by smallest member name).
    pub cycle: Cycle,
}

/// A dependency graph over repository names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DependencyGraph {
    /// Node names, sorted; a node's index is its position here.
    names: Vec<String>,
    index: BTreeMap<String, usize>,
    /// For each node, the nodes it depends on (sorted, no duplicates).
    dependencies: Vec<Vec<usize>>,
    /// For each node, the nodes that depend on it (sorted, no duplicates).
    dependents: Vec<Vec<usize>>,
    missing: Vec<MissingDependency>,
}

impl DependencyGraph {
    /// Builds the graph from `name → names it depends on`. Names only mentioned as dependencies are not nodes; such
    /// edges are listed by [`DependencyGraph::missing`]. A name given twice has the union of its dependencies.
    pub fn new<N, D, I>(nodes: impl IntoIterator<Item = (N, I)>) -> Self
    where
        N: Into<String>,
        D: Into<String>,
        I: IntoIterator<Item = D>,
    {
        let mut declared: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (name, dependencies) in nodes {
            declared.entry(name.into()).or_default().extend(dependencies.into_iter().map(Into::into));
        }
        let names: Vec<String> = declared.keys().cloned().collect();
        let index: BTreeMap<String, usize> = names.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect();
        let mut dependencies = vec![Vec::new(); names.len()];
        let mut dependents = vec![Vec::new(); names.len()];
        let mut missing = Vec::new();
        for (node, (name, targets)) in declared.iter().enumerate() {
            for target in targets {
                match index.get(target) {
                    Some(&t) => {
                        dependencies[node].push(t);
                        dependents[t].push(node);
                    }
                    None => missing.push(MissingDependency { repository: name.clone(), missing: target.clone() }),
                }
            }
        }
        // Targets come from a BTreeSet, so `dependencies` is sorted; `dependents` is filled in node order, sorted too.
        Self { names, index, dependencies, dependents, missing }
    }

    /// This graph with only the nodes in `keep`; edges to dropped nodes vanish (they are not reported as missing).
    pub fn restricted_to(&self, keep: &BTreeSet<String>) -> Self {
        let nodes = self.names.iter().enumerate().filter(|(_, n)| keep.contains(*n)).map(|(i, n)| {
            let deps: Vec<String> =
                self.dependencies[i].iter().map(|&d| self.names[d].clone()).filter(|d| keep.contains(d)).collect();
            (n.clone(), deps)
        });
        Self::new(nodes)
    }

    /// Number of repositories in the graph.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the graph has no repository.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Whether `name` is a node of the graph.
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// The repository names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// Dependencies on names outside the graph, sorted.
    pub fn missing(&self) -> &[MissingDependency] {
        &self.missing
    }

    /// The repositories `name` depends on directly, sorted; empty for an unknown name.
    pub fn dependencies_of(&self, name: &str) -> Vec<&str> {
        self.neighbours(name, &self.dependencies)
    }

    /// The repositories that depend on `name` directly, sorted; empty for an unknown name.
    pub fn dependents_of(&self, name: &str) -> Vec<&str> {
        self.neighbours(name, &self.dependents)
    }

    fn neighbours<'a>(&'a self, name: &str, adjacency: &'a [Vec<usize>]) -> Vec<&'a str> {
        match self.index.get(name) {
            Some(&i) => adjacency[i].iter().map(|&j| self.names[j].as_str()).collect(),
            None => Vec::new(),
        }
    }

    /// Every repository that depends on `name`, directly or not (without `name` itself unless it is on a cycle).
    pub fn transitive_dependents(&self, name: &str) -> BTreeSet<&str> {
        self.reachable(name, &self.dependents)
    }

    /// Every repository `name` depends on, directly or not (without `name` itself unless it is on a cycle).
    pub fn transitive_dependencies(&self, name: &str) -> BTreeSet<&str> {
        self.reachable(name, &self.dependencies)
    }

    fn reachable<'a>(&'a self, name: &str, adjacency: &[Vec<usize>]) -> BTreeSet<&'a str> {
        let mut seen = vec![false; self.names.len()];
        let mut stack: Vec<usize> = match self.index.get(name) {
            Some(&i) => adjacency[i].clone(),
            None => Vec::new(),
        };
        let mut found = BTreeSet::new();
        while let Some(node) = stack.pop() {
            if !std::mem::replace(&mut seen[node], true) {
                found.insert(self.names[node].as_str());
                stack.extend(adjacency[node].iter().copied());
            }
        }
        found
    }

    /// Every cycle: each strongly connected component of more than one repository, and each self-loop, ordered by
    /// smallest member name.
    pub fn cycles(&self) -> Vec<Cycle> {
        let mut cycles: Vec<Cycle> = self
            .strongly_connected_components()
            .into_iter()
            .filter(|component| component.len() > 1 || self.dependencies[component[0]].contains(&component[0]))
            .map(|component| self.cycle_through(&component))
            .collect();
        cycles.sort();
        cycles
    }

    /// The shortest cycle from the component's smallest node back to itself, staying inside the component.
    fn cycle_through(&self, component: &[usize]) -> Cycle {
        let inside: BTreeSet<usize> = component.iter().copied().collect();
        let start = component.iter().copied().min().unwrap_or_default();
        // Breadth-first over dependency edges; the first edge back to `start` closes the shortest cycle.
        let mut parent: BTreeMap<usize, usize> = BTreeMap::new();
        let mut queue = VecDeque::from([start]);
        let mut last = start;
        'search: while let Some(node) = queue.pop_front() {
            for &next in &self.dependencies[node] {
                if next == start {
                    last = node;
                    break 'search;
                }
                if inside.contains(&next) && !parent.contains_key(&next) {
                    parent.insert(next, node);
                    queue.push_back(next);
                }
            }
        }
        let mut path = vec![last];
        while let Some(&p) = parent.get(path.last().unwrap_or(&start)) {
            path.push(p);
        }
        if path.last() != Some(&start) {
            path.push(start);
        }
        path.reverse();
        path.dedup();
        let mut members: Vec<String> = component.iter().map(|&i| self.names[i].clone()).collect();
        members.sort();
        Cycle { path: path.into_iter().map(|i| self.names[i].clone()).collect(), members }
    }

    /// Tarjan's algorithm, iterative so that long chains cannot overflow the stack.
    fn strongly_connected_components(&self) -> Vec<Vec<usize>> {
        let n = self.names.len();
        let mut index = vec![usize::MAX; n];
        let mut low = vec![0; n];
        let mut on_stack = vec![false; n];
        let mut stack = Vec::new();
        let mut components = Vec::new();
        let mut counter = 0;
        for root in 0..n {
            if index[root] != usize::MAX {
                continue;
            }
            // Each frame: the node and the position of the next dependency edge to follow.
            let mut frames = vec![(root, 0usize)];
            index[root] = counter;
            low[root] = counter;
            counter += 1;
            stack.push(root);
            on_stack[root] = true;
            while let Some(frame) = frames.last_mut() {
                let node = frame.0;
                if let Some(&next) = self.dependencies[node].get(frame.1) {
                    frame.1 += 1;
                    if index[next] == usize::MAX {
                        index[next] = counter;
                        low[next] = counter;
                        counter += 1;
                        stack.push(next);
                        on_stack[next] = true;
                        frames.push((next, 0));
                    } else if on_stack[next] {
                        low[node] = low[node].min(index[next]);
                    }
                    continue;
                }
                frames.pop();
                if let Some(&(parent, _)) = frames.last() {
                    low[parent] = low[parent].min(low[node]);
                }
                if low[node] == index[node] {
                    let mut component = Vec::new();
                    while let Some(member) = stack.pop() {
                        on_stack[member] = false;
                        component.push(member);
                        if member == node {
                            break;
                        }
                    }
                    component.sort_unstable();
                    components.push(component);
                }
            }
        }
        components
    }

    fn first_cycle_error(&self) -> CycleError {
        match self.cycles().into_iter().next() {
            Some(cycle) => CycleError { cycle },
            None => CycleError { cycle: Cycle { path: Vec::new(), members: Vec::new() } },
        }
    }

    /// Node indices in topological order (dependencies first; among ready nodes the smallest name first).
    fn topological_indices(&self) -> Result<Vec<usize>, CycleError> {
        let mut waiting: Vec<usize> = self.dependencies.iter().map(Vec::len).collect();
        let mut ready: BTreeSet<usize> = (0..self.names.len()).filter(|&i| waiting[i] == 0).collect();
        let mut order = Vec::with_capacity(self.names.len());
        while let Some(node) = ready.pop_first() {
            order.push(node);
            for &dependent in &self.dependents[node] {
                waiting[dependent] -= 1;
                if waiting[dependent] == 0 {
                    ready.insert(dependent);
                }
            }
        }
        if order.len() == self.names.len() {
            Ok(order)
        } else {
            Err(self.first_cycle_error())
        }
    }

    /// Every repository after all of its dependencies; among repositories whose dependencies are all placed, the
    /// smallest name comes first. Fails on a cycle.
    pub fn topological_order(&self) -> Result<Vec<&str>, CycleError> {
        Ok(self.topological_indices()?.into_iter().map(|i| self.names[i].as_str()).collect())
    }

    /// Dependency levels: level 0 holds the repositories without dependencies, level k those whose deepest
    /// dependency is on level k − 1. Each level is sorted. Fails on a cycle.
    pub fn levels(&self) -> Result<Vec<Vec<&str>>, CycleError> {
        let order = self.topological_indices()?;
        let mut level = vec![0usize; self.names.len()];
        for &node in &order {
            level[node] = self.dependencies[node].iter().map(|&d| level[d] + 1).max().unwrap_or(0);
        }
        let mut levels: Vec<Vec<&str>> = vec![Vec::new(); level.iter().max().map_or(0, |m| m + 1)];
        for (node, &l) in level.iter().enumerate() {
            levels[l].push(self.names[node].as_str());
        }
        Ok(levels)
    }

    /// For each repository, the heaviest path from it through the repositories that depend on it, counting its own
    /// weight: how long the rest of the plan takes at least once it starts. Scheduling the largest first keeps the
    /// critical path moving. Fails on a cycle.
    pub fn longest_remaining_path(&self, weight: impl Fn(&str) -> u64) -> Result<BTreeMap<&str, u64>, CycleError> {
        let order = self.topological_indices()?;
        let mut remaining = vec![0u64; self.names.len()];
        for &node in order.iter().rev() {
            let tail = self.dependents[node].iter().map(|&d| remaining[d]).max().unwrap_or(0);
            remaining[node] = weight(&self.names[node]).saturating_add(tail);
        }
        Ok(self.names.iter().map(String::as_str).zip(remaining).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> DependencyGraph {
        DependencyGraph::new(edges.iter().map(|(n, d)| (*n, d.iter().copied())))
    }

    fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
        names.iter().copied().collect()
    }

    #[test]
    fn diamond_orders_levels_and_reachability() {
        let g = graph(&[("app", &["left", "right"]), ("left", &["core"]), ("right", &["core"]), ("core", &[])]);
        assert_eq!(g.topological_order().unwrap(), ["core", "left", "right", "app"]);
        assert_eq!(g.levels().unwrap(), vec![vec!["core"], vec!["left", "right"], vec!["app"]]);
        assert_eq!(g.transitive_dependents("core"), set(&["app", "left", "right"]));
        assert_eq!(g.transitive_dependencies("app"), set(&["core", "left", "right"]));
        assert_eq!(g.transitive_dependents("app"), set(&[]));
        assert!(g.cycles().is_empty());
        let weights = BTreeMap::from([("app", 1), ("left", 5), ("right", 2), ("core", 3)]);
        let lrp = g.longest_remaining_path(|n| weights[n]).unwrap();
        assert_eq!(lrp, BTreeMap::from([("app", 1), ("left", 6), ("right", 3), ("core", 9)]));
    }

    #[test]
    fn chain_has_one_repository_per_level() {
        let g = graph(&[("c", &["b"]), ("b", &["a"]), ("a", &[])]);
        assert_eq!(g.topological_order().unwrap(), ["a", "b", "c"]);
        assert_eq!(g.levels().unwrap(), vec![vec!["a"], vec!["b"], vec!["c"]]);
        assert_eq!(g.longest_remaining_path(|_| 1).unwrap(), BTreeMap::from([("a", 3), ("b", 2), ("c", 1)]));
        assert_eq!(g.dependents_of("a"), ["b"]);
        assert_eq!(g.dependencies_of("c"), ["b"]);
    }

    #[test]
    fn disconnected_components_interleave_by_name() {
        let g = graph(&[("z", &[]), ("y", &["z"]), ("b", &[]), ("a", &["b"])]);
        assert_eq!(g.topological_order().unwrap(), ["b", "a", "z", "y"]);
        assert_eq!(g.levels().unwrap(), vec![vec!["b", "z"], vec!["a", "y"]]);
        assert_eq!(g.transitive_dependents("b"), set(&["a"]));
    }

    #[test]
    fn cycles_are_named_from_their_smallest_member() {
        let g = graph(&[("c", &["a"]), ("a", &["b"]), ("b", &["c"]), ("d", &["a"])]);
        let cycles = g.cycles();
        assert_eq!(cycles.len(), 1);
        assert_eq!(cycles[0].to_string(), "a → b → c → a");
        assert_eq!(cycles[0].members, ["a", "b", "c"]);
        let error = g.topological_order().unwrap_err();
        assert_eq!(error.to_string(), "dependency cycle: a → b → c → a");
        assert!(g.levels().is_err());
        assert!(g.longest_remaining_path(|_| 1).is_err());
    }

    #[test]
    fn every_cycle_is_reported_and_the_shortest_way_back_is_shown() {
        // One component {a, b, c} with two cycles through a; plus a separate two-cycle {x, y}.
        let g = graph(&[("a", &["c", "b"]), ("b", &["c"]), ("c", &["a"]), ("x", &["y"]), ("y", &["x"])]);
        let shown: Vec<String> = g.cycles().iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["a → c → a", "x → y → x"]);
        assert_eq!(g.cycles()[0].members, ["a", "b", "c"]);
    }

    #[test]
    fn self_loop_is_a_cycle() {
        let g = graph(&[("a", &["a"]), ("b", &[])]);
        let cycles = g.cycles();
        assert_eq!(cycles.len(), 1);
        assert_eq!(cycles[0].to_string(), "a → a");
        assert!(g.topological_order().is_err());
    }

    #[test]
    fn missing_targets_are_reported_and_ignored() {
        let g = graph(&[("app", &["core", "ghost"]), ("core", &["vanished"])]);
        assert_eq!(
            g.missing(),
            [
                MissingDependency { repository: "app".into(), missing: "ghost".into() },
                MissingDependency { repository: "core".into(), missing: "vanished".into() },
            ]
        );
        assert_eq!(g.topological_order().unwrap(), ["core", "app"]);
        assert!(!g.contains("ghost"));
        assert_eq!(g.len(), 2);
    }

    #[test]
    fn restriction_drops_edges_to_removed_nodes() {
        let g = graph(&[("app", &["lib"]), ("lib", &["core"]), ("core", &[])]);
        let keep: BTreeSet<String> = ["app", "core"].into_iter().map(String::from).collect();
        let r = g.restricted_to(&keep);
        assert_eq!(r.names().collect::<Vec<_>>(), ["app", "core"]);
        assert!(r.dependencies_of("app").is_empty());
        assert!(r.missing().is_empty());
    }

    #[test]
    fn long_chain_does_not_overflow_the_stack() {
        let names: Vec<String> = (0..20_000).map(|i| format!("r{i:05}")).collect();
        let g = DependencyGraph::new(
            names
                .iter()
                .enumerate()
                .map(|(i, n)| (n.clone(), if i == 0 { vec![] } else { vec![names[i - 1].clone()] })),
        );
        assert!(g.cycles().is_empty());
        assert_eq!(g.topological_order().unwrap().len(), 20_000);
    }
}
