//! The function crates, as each declares itself in its `Cargo.toml`.

use std::path::Path;

use serde::Deserialize;

/// Settings every function gets (docs/configuration.md).
pub const EVERY_FUNCTION: &[&str] = &["RUST_LOG"];

/// A Lambda function crate, as it declares itself in its `Cargo.toml`
/// (`[package.metadata.lambda]`; the README's "Layout").
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionCrate {
    #[serde(skip)]
    pub name: String,
    /// `http`, `invoke`, `authorizer`, `schedule`, `sqs:<queue>` or `sns:<topic>`.
    pub triggers: Vec<String>,
    /// Its routes of `domain::auth::ROUTES`, as `METHOD /resource`.
    #[serde(default)]
    pub routes: Vec<String>,
    /// The settings it reads (`A|B`: either).
    pub settings: Vec<String>,
}

/// The function crates of the workspace at `workspace`, by name: every package with a
/// `[package.metadata.lambda]` table, read with `cargo metadata`.
pub fn declared_functions(workspace: &Path) -> Result<Vec<FunctionCrate>, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace)
        .output()
        .map_err(|e| format!("running cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("reading cargo metadata: {e}"))?;
    let mut found = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let name = package["name"].as_str().unwrap_or_default().to_owned();
        let Some(declaration) = package["metadata"].get("lambda") else {
            continue;
        };
        let mut function: FunctionCrate = serde_json::from_value(declaration.clone())
            .map_err(|e| format!("{name}'s [package.metadata.lambda]: {e}"))?;
        function.name = name;
        found.push(function);
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}
