//! Infinity Orchestrator: a Kubernetes operator that runs a whole GitHub organization declaratively.

pub mod clock;
pub mod config;
pub mod controller;
pub mod crd;
pub mod github;
pub mod inventory;
pub mod manifest;
pub mod metrics;
pub mod plan;
pub mod report;
pub mod scope;
pub mod server;
pub mod shard;
pub mod telemetry;
