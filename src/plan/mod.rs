//! Pure decisions: observed state and spec in, a plan out. Nothing here performs I/O, awaits, or knows about
//! `kube::Client` or GitHub; every function is unit-tested on plain values.

pub mod build_commands;
pub mod cron;
pub mod dependencies;
pub mod depgraph;
pub mod detect;
pub mod discovery_pass;
pub mod flaky;
pub mod glob;
pub mod heal;
pub mod health;
pub mod installed_workflows;
pub mod onboarding;
pub mod prerequisites;
pub mod prune_hold;
pub mod readiness;
pub mod repository_sync;
pub mod schedule;
pub mod webhook;
pub mod webhook_recovery;
