//! `import-catalog`'s integration tests: one binary (one link), one module per area.

mod handler;
mod s3;
