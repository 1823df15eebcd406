//! A stateful GitHub REST API simulator.
