//! A small layered layout for directed graphs (the Sugiyama scheme without its refinements): each node goes to the
//! layer of its longest path of dependencies, then the order within each layer is improved by barycentre sweeps,
//! keeping the order with the fewest crossings between adjacent layers. Deterministic: ties keep index order.

/// Where each node goes: `layers[l]` lists layer `l`'s nodes left to right.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Layout {
    /// Nodes by layer, left to right.
    pub layers: Vec<Vec<usize>>,
    /// For each node, its layer and its position in it.
    pub place: Vec<(usize, usize)>,
}

/// Sweeps of barycentre ordering tried (down and up alternately); more rarely helps a graph of repositories.
const SWEEPS: usize = 8;

/// Lays out `count` nodes joined by `edges`, each `(from, to)` meaning `from` depends on `to`: a node with no
/// dependency is in layer 0, every other one layer below its deepest dependency. Edges must form no cycle; any that
/// would are left out of the layering (the caller draws them anyway).
pub(super) fn layered(count: usize, edges: &[(usize, usize)]) -> Layout {
    let layer_of = longest_path_layers(count, edges);
    let depth = layer_of.iter().max().map_or(0, |deepest| deepest + 1);
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); depth];
    for (node, &layer) in layer_of.iter().enumerate() {
        layers[layer].push(node);
    }
    let mut neighbours: Vec<Vec<usize>> = vec![Vec::new(); count];
    for &(from, to) in edges {
        if from != to {
            neighbours[from].push(to);
            neighbours[to].push(from);
        }
    }
    let mut best = layers.clone();
    let mut fewest = crossings(&layers, &layer_of, edges);
    for sweep in 0..SWEEPS {
        let downward = sweep % 2 == 0;
        let order: Vec<usize> =
            if downward { (1..depth).collect() } else { (0..depth.saturating_sub(1)).rev().collect() };
        for layer in order {
            let reference = if downward { layer - 1 } else { layer + 1 };
            reorder(&mut layers, layer, reference, &layer_of, &neighbours);
        }
        let now = crossings(&layers, &layer_of, edges);
        if now < fewest {
            fewest = now;
            best = layers.clone();
        }
    }
    let mut place = vec![(0, 0); count];
    for (layer, nodes) in best.iter().enumerate() {
        for (position, &node) in nodes.iter().enumerate() {
            place[node] = (layer, position);
        }
    }
    Layout { layers: best, place }
}

/// Layer of each node: 0 without dependencies, else one more than its deepest dependency. Kahn's order over the
/// edges; nodes left on a cycle take one more than their dependencies placed so far.
fn longest_path_layers(count: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let mut dependencies: Vec<Vec<usize>> = vec![Vec::new(); count];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); count];
    for &(from, to) in edges {
        if from != to {
            dependencies[from].push(to);
            dependents[to].push(from);
        }
    }
    let mut waiting: Vec<usize> = dependencies.iter().map(Vec::len).collect();
    let mut ready: std::collections::BTreeSet<usize> = (0..count).filter(|&n| waiting[n] == 0).collect();
    let mut layer: Vec<Option<usize>> = vec![None; count];
    let settle = |node: usize, layer: &mut Vec<Option<usize>>| {
        layer[node] = Some(dependencies[node].iter().filter_map(|&d| layer[d]).map(|l| l + 1).max().unwrap_or(0));
    };
    while let Some(node) = ready.pop_first() {
        settle(node, &mut layer);
        for &dependent in &dependents[node] {
            waiting[dependent] -= 1;
            if waiting[dependent] == 0 {
                ready.insert(dependent);
            }
        }
    }
    for node in 0..count {
        if layer[node].is_none() {
            settle(node, &mut layer);
        }
    }
    layer.into_iter().map(Option::unwrap_or_default).collect()
}

/// Sorts `layers[layer]` by the mean position of each node's neighbours in `layers[reference]`; a node with none
/// keeps its place (its current position stands in for the mean).
fn reorder(layers: &mut [Vec<usize>], layer: usize, reference: usize, layer_of: &[usize], neighbours: &[Vec<usize>]) {
    let mut position = vec![0usize; layer_of.len()];
    for (index, &node) in layers[reference].iter().enumerate() {
        position[node] = index;
    }
    let mut keyed: Vec<(f64, usize, usize)> = layers[layer]
        .iter()
        .enumerate()
        .map(|(current, &node)| {
            let near: Vec<usize> =
                neighbours[node].iter().filter(|&&n| layer_of[n] == reference).map(|&n| position[n]).collect();
            let barycentre =
                if near.is_empty() { current as f64 } else { near.iter().sum::<usize>() as f64 / near.len() as f64 };
            (barycentre, current, node)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    layers[layer] = keyed.into_iter().map(|(_, _, node)| node).collect();
}

/// Crossings between edges that join adjacent layers.
fn crossings(layers: &[Vec<usize>], layer_of: &[usize], edges: &[(usize, usize)]) -> usize {
    let mut position = vec![0usize; layer_of.len()];
    for nodes in layers {
        for (index, &node) in nodes.iter().enumerate() {
            position[node] = index;
        }
    }
    // Each edge as (upper layer, position above, position below).
    let spans: Vec<(usize, usize, usize)> = edges
        .iter()
        .filter(|&&(from, to)| layer_of[from].abs_diff(layer_of[to]) == 1)
        .map(|&(from, to)| {
            let (upper, lower) = if layer_of[from] < layer_of[to] { (from, to) } else { (to, from) };
            (layer_of[upper], position[upper], position[lower])
        })
        .collect();
    let mut count = 0;
    for (i, a) in spans.iter().enumerate() {
        for b in &spans[i + 1..] {
            if a.0 == b.0 && ((a.1 < b.1 && a.2 > b.2) || (a.1 > b.1 && a.2 < b.2)) {
                count += 1;
            }
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_follow_the_longest_path_of_dependencies() {
        // 0 ← 1 ← 2, and 3 depends on 0 and 2: 3 goes below 2, not below 0.
        let layout = layered(4, &[(1, 0), (2, 1), (3, 0), (3, 2)]);
        assert_eq!(layout.layers, vec![vec![0], vec![1], vec![2], vec![3]]);
        assert_eq!(layout.place, vec![(0, 0), (1, 0), (2, 0), (3, 0)]);
    }

    #[test]
    fn barycentre_ordering_removes_a_crossing() {
        // Layer 0: a(0) b(1); layer 1 in index order: c(2) depends on b, d(3) depends on a — they cross.
        let edges = [(2, 1), (3, 0)];
        let unordered = vec![vec![0, 1], vec![2, 3]];
        assert_eq!(crossings(&unordered, &[0, 0, 1, 1], &edges), 1);
        let layout = layered(4, &edges);
        assert_eq!(crossings(&layout.layers, &[0, 0, 1, 1], &edges), 0);
        assert_eq!(layout.layers, vec![vec![0, 1], vec![3, 2]]);
    }

    #[test]
    fn a_cycle_still_gets_a_layout_and_every_node_a_place() {
        let layout = layered(3, &[(0, 1), (1, 0), (2, 2)]);
        let placed: usize = layout.layers.iter().map(Vec::len).sum();
        assert_eq!(placed, 3);
        for (node, &(layer, position)) in layout.place.iter().enumerate() {
            assert_eq!(layout.layers[layer][position], node);
        }
    }

    #[test]
    fn same_graph_same_layout() {
        let edges = [(3, 0), (4, 1), (5, 2), (5, 0), (6, 3), (6, 5), (7, 4)];
        assert_eq!(layered(8, &edges), layered(8, &edges));
        assert_eq!(layered(0, &[]), Layout { layers: Vec::new(), place: Vec::new() });
    }
}
