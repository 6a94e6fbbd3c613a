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

#[test]
fn both_deploys_shift_traffic_after_apply_and_before_the_smoke_test() {
    let deploy = repo_file(".github/workflows/deploy.yml");
    for name in ["dev", "prod"] {
        let steps = job(&deploy, name);
        let at = |what: &str| {
            steps
                .find(what)
                .unwrap_or_else(|| panic!("{name}: no {what}"))
        };
        assert!(
            at("terraform apply") < at("scripts/shift-traffic"),
            "{name}"
        );
        assert!(
            at("scripts/shift-traffic") < at("scripts/smoke-test"),
            "{name}"
        );
    }
}

/// `scripts/shift-traffic` against fake `terraform` and `aws` commands: an unchanged function is
/// left alone, a changed one is deployed, and a rollback fails the step naming the function.
#[test]
fn shift_traffic_deploys_what_changed_and_fails_on_a_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path();
    let deployments = r#"{"list-products": {"function_name": "d-list-products", "alias": "live", "version": "7", "application": "d-functions", "group": "list-products"},
                          "authorizer": {"function_name": "d-authorizer", "alias": "live", "version": "3", "application": "d-functions", "group": "authorizer"}}"#;
    let fake = |name: &str, body: &str| {
        let path = bin.join(name);
        fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        let mut permissions = fs::metadata(&path).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        fs::set_permissions(&path, permissions).unwrap();
    };
    fake("terraform", &format!("cat <<'JSON'\n{deployments}\nJSON"));
    // The authorizer's alias is on version 3 already; list-products' on 6. Its deployment fails.
    fake(
        "aws",
        r#"echo "$*" >> "$(dirname "$0")/calls"
case "$*" in
  *"get-alias --function-name d-authorizer"*) echo '{"FunctionVersion": "3"}' ;;
  *"get-alias --function-name d-list-products"*) echo '{"FunctionVersion": "6"}' ;;
  *create-deployment*) echo '{"deploymentId": "d-123"}' ;;
  *get-deployment*) echo '{"deploymentInfo": {"status": "Failed", "errorInformation": {"message": "alarm d-list-products-live-errors fired"}}}' ;;
esac"#,
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/shift-traffic");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg("terraform/envs/prod")
        .env("SHIFT_AWS", bin.join("aws"))
        .env("SHIFT_TERRAFORM", bin.join("terraform"))
        .env("SHIFT_POLL_SECONDS", "0")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("authorizer: unchanged (version 3)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("list-products: version 6 -> 7, deployment d-123"),
        "{stdout}"
    );
    assert!(stderr.contains("ROLLED BACK list-products: Failed, rolled back: alarm d-list-products-live-errors fired"), "{stderr}");
    let calls = fs::read_to_string(bin.join("calls")).unwrap();
    assert_eq!(calls.matches("create-deployment").count(), 1, "{calls}");
    assert!(
        calls.contains(r#"\"CurrentVersion\": \"6\", \"TargetVersion\": \"7\""#),
        "{calls}"
    );
}
