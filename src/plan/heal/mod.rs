//! Self-healing decisions for one repository under one HealingPolicy.

pub mod manifest;
