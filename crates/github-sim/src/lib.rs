//! A stateful GitHub REST API simulator.
//!
//! Start one from a [`Fixture`] with [`Simulator::start`]; the returned [`SimHandle`] gives the base URL and the
//! control operations (clock, faults, rate-limit budget, request log). See the crate README for the fixture format.

pub mod clock;
pub mod conformance;
pub mod content_creation;
pub mod control;
pub mod encoding;
pub mod enterprise;
pub mod etag;
pub mod faults;
pub mod fixture;
pub mod git_object;
pub mod graphql;
pub mod lockfile;
pub mod merging;
pub mod pagination;
pub mod rate_limit;
pub mod routes;
pub mod runs;
mod server;
pub mod state;
pub mod views;
pub mod webhook;
pub mod workflow_file;

pub use faults::{FaultConfig, OpeningFault};
pub use fixture::Fixture;
pub use server::{SimError, SimHandle, SimOptions, Simulator};
pub use state::LoggedRequest;
