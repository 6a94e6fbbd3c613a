//! The delivery pipeline's own wiring: nothing is deployed unless the tests pass, and the tools
//! that build what runs in production are pinned by hash.

use std::fs;
use std::path::{Path, PathBuf};

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
    deploy_steps_in_order(&[
        "terraform apply",
        "scripts/shift-traffic",
        "scripts/smoke-test",
    ]);
}

/// Both deploy jobs (dev, prod) run these steps, in this order.
fn deploy_steps_in_order(steps: &[&str]) {
    let deploy = repo_file(".github/workflows/deploy.yml");
    for name in ["dev", "prod"] {
        let job = job(&deploy, name);
        let at: Vec<usize> = steps
            .iter()
            .map(|what| {
                job.find(what)
                    .unwrap_or_else(|| panic!("{name}: no {what}"))
            })
            .collect();
        assert!(at.is_sorted(), "{name}: {steps:?} out of order");
    }
}

/// A fake command `name` in `bin`: a shell script with `body`.
fn fake(bin: &Path, name: &str, body: &str) {
    let path = bin.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    let mut permissions = fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    fs::set_permissions(&path, permissions).unwrap();
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scripts")
        .join(name)
}

/// `scripts/shift-traffic` against fake `terraform` and `aws` commands: an unchanged function is
/// left alone, a changed one is deployed, and a rollback fails the step naming the function.
#[test]
fn shift_traffic_deploys_what_changed_and_fails_on_a_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path();
    let deployments = r#"{"list-products": {"function_name": "d-list-products", "alias": "live", "version": "7", "application": "d-functions", "group": "list-products"},
                          "authorizer": {"function_name": "d-authorizer", "alias": "live", "version": "3", "application": "d-functions", "group": "authorizer"}}"#;
    let fake = |name: &str, body: &str| fake(bin, name, body);
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

#[test]
fn both_deploys_smoke_test_with_the_pools_clients_when_there_is_one() {
    deploy_steps_in_order(&[
        "scripts/publish-page",
        "scripts/smoke-credentials",
        "scripts/smoke-test",
    ]);
}

/// `scripts/smoke-credentials` against a fake `terraform`: the pool's clients become the
/// smoke test's variables, secrets masked first; without a pool it says nothing.
#[test]
fn smoke_credentials_come_from_the_pool_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path();
    let run = |output: &str| {
        fake(bin, "terraform", &format!("cat <<'JSON'\n{output}\nJSON"));
        std::process::Command::new("python3")
            .arg(script("smoke-credentials"))
            .arg("terraform/envs/dev")
            .env("SMOKE_TERRAFORM", bin.join("terraform"))
            .output()
            .unwrap()
    };
    let out = run("null");
    assert!(out.status.success());
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let clients = r#"{"token_url": "https://d.auth.eu-west-1.amazoncognito.com/oauth2/token",
        "customer_id": "c1", "customer_secret": "s3cret'1", "customer_scope": "delivery/products:read delivery/orders:write",
        "company_id": "c2", "company_secret": "s3cret2", "company_scope": "delivery/products:write delivery/company:smoke-test"}"#;
    let out = run(clients);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = String::from_utf8(out.stdout).unwrap();
    // What the workflow's step does with it, in bash.
    let shell = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "export SMOKE_TOKEN=other\n{lines}\nenv | grep ^SMOKE_ | sort"
        ))
        .output()
        .unwrap();
    let shown = String::from_utf8(shell.stdout).unwrap();
    let mask_of_first = shown
        .find("::add-mask::s3cret'1")
        .expect("the secret is masked");
    assert!(shown.find("::add-mask::s3cret2").is_some(), "{shown}");
    for expected in [
        "SMOKE_CLIENT_ID=c1",
        "SMOKE_CLIENT_SECRET=s3cret'1",
        "SMOKE_COMPANY_CLIENT_ID=c2",
        "SMOKE_COMPANY_SCOPE=delivery/products:write delivery/company:smoke-test",
        "SMOKE_SCOPE=delivery/products:read delivery/orders:write",
        "SMOKE_TOKEN_URL=https://d.auth.eu-west-1.amazoncognito.com/oauth2/token",
    ] {
        let at = shown
            .find(expected)
            .unwrap_or_else(|| panic!("no {expected} in {shown}"));
        assert!(mask_of_first < at, "masked before it is shown");
    }
    assert!(
        !shown.contains("SMOKE_TOKEN=other"),
        "the pool is the issuer: {shown}"
    );

    let out = run(r#"{"token_url": "https://x", "customer_id": "c1"}"#);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("smoke_clients has no customer_secret"));
}

/// `scripts/publish-page` against fake `terraform` and `aws`: config.json names the API, and
/// the hosted login only when the environment has a user pool.
#[test]
fn the_page_is_published_with_its_hosted_login_only_when_there_is_a_pool() {
    let sign_in = r#"{"authorizeUrl": "https://d.auth.eu-west-1.amazoncognito.com/oauth2/authorize", "clientId": "web", "scopePrefix": "delivery/"}"#;
    for (output, expected) in [("null", None), (sign_in, Some("web"))] {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path();
        fake(
            bin,
            "terraform",
            &format!(
                r#"case "$*" in
  *"-json sign_in"*) echo '{output}' ;;
  *api_url*) printf https://api.example.com/prod ;;
  *) printf "%s" "$4" ;;
esac"#
            ),
        );
        fake(
            bin,
            "aws",
            r#"case "$*" in *config.json*) cat > "$(dirname "$0")/config.json" ;; esac
echo "$*" >> "$(dirname "$0")/calls""#,
        );
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
        let out = std::process::Command::new("bash")
            .arg(script("publish-page"))
            .arg("terraform/envs/dev")
            .env("PATH", path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let config: serde_json::Value =
            serde_json::from_slice(&fs::read(bin.join("config.json")).unwrap()).unwrap();
        assert_eq!(config["apiBaseUrl"], "https://api.example.com/prod");
        assert_eq!(config["signIn"]["clientId"].as_str(), expected, "{config}");
        let calls = fs::read_to_string(bin.join("calls")).unwrap();
        assert!(calls.contains("s3://site_bucket/signin.js"), "{calls}");
        assert!(
            calls.contains("create-invalidation --distribution-id site_distribution_id"),
            "{calls}"
        );
    }
}

/// scripts/preflight runs before every plan: an account limit fails the job before the apply.
#[test]
fn both_plans_follow_the_preflight() {
    let deploy = repo_file(".github/workflows/deploy.yml");
    for (name, env) in [("dev", "dev"), ("prod-plan", "prod")] {
        let job = job(&deploy, name);
        let preflight = job
            .find(&format!("scripts/preflight {env}"))
            .unwrap_or_else(|| panic!("{name}: no scripts/preflight {env}"));
        let plan = job.find("terraform plan").unwrap();
        assert!(preflight < plan, "{name}: preflight must come before plan");
    }
}

/// A plan holds the state, secrets included: it is never uploaded as a workflow artifact.
#[test]
fn the_prod_plan_is_no_artifact() {
    let deploy = repo_file(".github/workflows/deploy.yml");
    let plan = job(&deploy, "prod-plan");
    assert!(!plan.contains("upload-artifact"), "{plan}");
    assert!(plan.contains("s3://$STATE_BUCKET/plans/prod/"));
    let prod = job(&deploy, "prod");
    assert!(!prod.contains("name: prod-plan"), "{prod}");
    assert!(prod.contains("aws s3 rm --recursive \"s3://$STATE_BUCKET/plans/prod/"));
}

/// The issuer's settings reach Terraform only when Cognito is off (with the pool they must be
/// empty, or the plan is refused); the carriers and the owner of the account settings come
/// from variables in both deploy jobs.
#[test]
fn the_environment_inputs_follow_the_options() {
    let deploy = repo_file(".github/workflows/deploy.yml");
    for (name, env) in [("dev", "dev"), ("prod-plan", "prod")] {
        let job = job(&deploy, name);
        for input in ["JWT_ISSUER", "JWT_AUDIENCE", "JWKS_URL"] {
            let line = job
                .lines()
                .find(|l| l.contains(&format!("vars.{input}")))
                .unwrap_or_else(|| panic!("{name}: no {input}"));
            assert!(
                line.contains("vars.ENABLE_COGNITO != 'true' &&"),
                "{name}: {line}"
            );
        }
        assert!(job.contains("TF_VAR_carriers: ${{ vars.CARRIERS"), "{name}");
        assert!(
            job.contains(&format!(
                "TF_VAR_manage_account_settings: ${{{{ contains(vars.ACCOUNT_SETTINGS_ENVIRONMENTS || 'dev', '{env}') }}}}"
            )),
            "{name}"
        );
    }
}
