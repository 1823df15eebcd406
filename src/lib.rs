//! Infinity Orchestrator: a Kubernetes operator that runs a whole GitHub organization declaratively.

pub mod crd;
