//! `delivery-local` tested from outside, as its users run it: each test starts `serve` on a
//! port of its own with a data dir of its own ([`common::Server`]) and talks to it over HTTP or
//! runs its subcommands. One binary (one link), one module per area; a new test goes in the
//! module of its area.

mod api;
mod common;
mod contract;
mod data_dir;
mod declarations;
mod faults;
mod imports;
mod pipeline;
mod simulation;
mod smoke;
