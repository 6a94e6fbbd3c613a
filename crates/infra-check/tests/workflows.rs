//! The delivery pipeline's own wiring: nothing is deployed unless the tests pass, and the tools
//! that build what runs in production are pinned by hash.

use std::fs;
use std::path::Path;

fn repo_file(path: &str) -> String {
    fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(path),
    )
    .unwrap()
}

/// The lines of one job of a workflow: from `  name:` to the next line indented by two.
fn job<'a>(workflow: &'a str, name: &str) -> &'a str {
    let start = workflow
        .find(&format!("\n  {name}:\n"))
        .unwrap_or_else(|| panic!("no job {name}"))
        + 1;
    let body = &workflow[start..];
    let next_job = body
        .match_indices("\n  ")
        .map(|(i, _)| i)
        .find(|&i| body[i + 3..].starts_with(|c: char| c.is_ascii_alphanumeric()));
    &body[..next_job.unwrap_or(body.len())]
}

#[test]
fn deployments_wait_for_the_tests() {
    let deploy = repo_file(".github/workflows/deploy.yml");
    assert!(job(&deploy, "tests").contains("uses: ./.github/workflows/ci.yml"));
    assert!(job(&deploy, "package").contains("needs: tests"));
    let ci = repo_file(".github/workflows/ci.yml");
    assert!(
        ci.contains("workflow_call:"),
        "ci.yml must be callable by deploy.yml"
    );
}

#[test]
fn packaging_tools_are_pinned_by_hash() {
    let package = repo_file("scripts/package");
    assert!(package.contains("--require-hashes"));
    let requirements = repo_file("scripts/package-requirements.txt");
    for tool in ["cargo-lambda==", "ziglang=="] {
        assert!(requirements.contains(tool), "{tool}");
    }
    assert!(requirements.matches("--hash=sha256:").count() >= 2);
}
