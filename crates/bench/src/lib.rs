//! The tools of `scripts/bench` (SPEC §14): a Lambda Runtime API emulator that runs a function
//! binary as Lambda does and times it, the events and settings each function is run with, and
//! an open-loop HTTP load generator.

pub mod events;
pub mod functions;
pub mod load;
pub mod runtime_api;
pub mod setup;
pub mod store;
