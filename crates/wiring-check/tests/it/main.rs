//! `wiring-check`'s integration tests: one binary (one link), one module per area.

mod wiring;
mod workflows;
