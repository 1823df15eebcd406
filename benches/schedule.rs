//! How good is the BuildPlan schedule? On generated layered DAGs (seeded, so every machine prints the same figures)
//! with random build durations, simulates `plan::schedule` and prints its makespan over the lower bound
//! max(critical path, total work ÷ maxParallel), and over the makespan of the wave-by-wave schedule of the original
//! multi-repo-build workflow (each dependency level waits for the whole previous one).
//!
//! Run with `cargo bench --bench schedule`. The figures are simulated seconds, independent of the machine; only the
//! last line (wall time) is not. Nothing is asserted.

use std::time::Instant;

use infinity_orchestrator::crd::build_plan::FailurePolicy;
use infinity_orchestrator::plan::schedule::simulate::{self, SimulatedRepository};
use infinity_orchestrator::plan::schedule::{SchedulePolicy, SelectedRepository};
use k8s_openapi::jiff::SignedDuration;

/// SplitMix64: a tiny seedable generator, enough for reproducible test graphs.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `low..=high`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

/// A layered random DAG of `n` repositories: about √n layers of random width; each repository past the first
/// layer depends on one to three repositories of earlier layers, mostly the layer just before. Durations are
/// 1–30 minutes, skewed short (the minimum of two uniform draws), with one repository in ten a slow 30–60 minutes.
fn layered_dag(n: usize, seed: u64) -> Vec<SimulatedRepository> {
    let mut rng = SplitMix64(seed);
    let layers = ((n as f64).sqrt().round() as usize).max(1);
    let mut layer_of: Vec<usize> = (0..n).map(|_| rng.between(0, layers as u64 - 1) as usize).collect();
    layer_of.sort_unstable();
    let mut repos: Vec<SimulatedRepository> = Vec::with_capacity(n);
    for i in 0..n {
        let earlier: Vec<usize> = (0..i).filter(|&j| layer_of[j] < layer_of[i]).collect();
        let previous: Vec<usize> = earlier.iter().copied().filter(|&j| layer_of[j] + 1 == layer_of[i]).collect();
        let mut depends_on = Vec::new();
        if !earlier.is_empty() {
            for _ in 0..rng.between(1, 3) {
                let pool = if !previous.is_empty() && rng.between(0, 3) > 0 { &previous } else { &earlier };
                let j = pool[rng.between(0, pool.len() as u64 - 1) as usize];
                depends_on.push(format!("repo-{j:03}"));
            }
        }
        depends_on.sort();
        depends_on.dedup();
        let minutes =
            if rng.between(0, 9) == 0 { rng.between(30, 60) } else { rng.between(1, 30).min(rng.between(1, 30)) };
        let duration_secs = (minutes * 60 + rng.between(0, 59)) as i64;
        repos.push(SimulatedRepository {
            selected: SelectedRepository {
                name: format!("repo-{i:03}"),
                depends_on,
                head_already_built: false,
                expected_duration: SignedDuration::from_secs(duration_secs),
                unbuildable: None,
            },
            duration_secs,
            outcomes: Vec::new(),
        });
    }
    repos
}

/// Min, mean and max of a list of ratios.
fn summary(values: &[f64]) -> (f64, f64, f64) {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, values.iter().sum::<f64>() / values.len() as f64, max)
}

fn main() {
    let started = Instant::now();
    let seeds: Vec<u64> = (1..=5).collect();
    println!("BuildPlan schedule on layered random DAGs, every build succeeding ({} seeds per row)", seeds.len());
    println!(
        "priority: 'known' = longest remaining path by true durations, 'unknown' = every duration estimated alike"
    );
    println!();
    println!(
        "{:>5} {:>5} {:>8} | {:^22} | {:^22} | {:>9} {:>9}",
        "repos", "par", "priority", "makespan / lower bound", "makespan / waves", "waves/lb", "mean h"
    );
    println!(
        "{:>5} {:>5} {:>8} | {:>6} {:>7} {:>7} | {:>6} {:>7} {:>7} | {:>9} {:>9}",
        "", "", "", "min", "mean", "max", "min", "mean", "max", "mean", ""
    );
    println!("{}", "-".repeat(92));
    for n in [50, 500] {
        for max_parallel in [4u32, 10, 50] {
            for known in [true, false] {
                let mut over_bound = Vec::new();
                let mut over_waves = Vec::new();
                let mut waves_over_bound = Vec::new();
                let mut hours = Vec::new();
                for &seed in &seeds {
                    let mut repos = layered_dag(n, seed * 1_000 + n as u64);
                    if !known {
                        for r in &mut repos {
                            r.selected.expected_duration = SignedDuration::from_secs(600);
                        }
                    }
                    let policy = SchedulePolicy {
                        max_parallel,
                        timeout: SignedDuration::from_hours(3),
                        retry_attempts: 0,
                        failure_policy: FailurePolicy::SkipDependents,
                        only_changed: false,
                    };
                    let (report, bound, waves) = match (
                        simulate::run(&repos, &policy),
                        simulate::lower_bound_secs(&repos, max_parallel),
                        simulate::wave_makespan_secs(&repos, max_parallel),
                    ) {
                        (Ok(report), Ok(bound), Ok(waves)) if report.completed => (report, bound, waves),
                        _ => {
                            eprintln!("seed {seed}, {n} repositories: the simulation did not complete");
                            std::process::exit(1);
                        }
                    };
                    let makespan = report.makespan_secs as f64;
                    over_bound.push(makespan / bound);
                    over_waves.push(makespan / waves as f64);
                    waves_over_bound.push(waves as f64 / bound);
                    hours.push(makespan / 3600.0);
                }
                let (b_min, b_mean, b_max) = summary(&over_bound);
                let (w_min, w_mean, w_max) = summary(&over_waves);
                let (_, wb_mean, _) = summary(&waves_over_bound);
                let (_, h_mean, _) = summary(&hours);
                println!(
                    "{n:>5} {max_parallel:>5} {:>8} | {b_min:>6.3} {b_mean:>7.3} {b_max:>7.3} | {w_min:>6.3} {w_mean:>7.3} {w_max:>7.3} | {wb_mean:>9.3} {h_mean:>9.2}",
                    if known { "known" } else { "unknown" }
                );
            }
        }
    }
    println!();
    println!("lower bound = max(critical path, total work / maxParallel); below 1.0 in 'makespan / waves' = faster than waves");
    println!(
        "waves/lb = the wave-by-wave makespan over the lower bound; mean h = our mean makespan in simulated hours"
    );
    println!("(wall time of this program: {:.1} s, machine-dependent)", started.elapsed().as_secs_f64());
}
