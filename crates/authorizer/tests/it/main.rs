//! `authorizer`'s integration tests: one binary (one link), one module per area.

mod attacks;
mod rotation;
