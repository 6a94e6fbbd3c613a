//! `import-catalog`'s integration tests: one binary (one link), one module per area.

mod events;
mod handler;
mod s3;
