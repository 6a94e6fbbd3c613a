//! The wiring check on the repository's own Terraform, and on broken copies of it: each
//! breakage must be caught, named.

use std::fs;
use std::path::{Path, PathBuf};

use wiring_check::{FunctionCrate, check, declared_functions};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn declared() -> Vec<FunctionCrate> {
    declared_functions(&repo()).unwrap()
}

/// A copy of `terraform/` in a temporary folder.
fn copy_of_terraform() -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("terraform"), copy.path());
    copy
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            fs::copy(&path, &target).unwrap();
        }
    }
}

/// Replaces `from` (which must occur) by `to` in one file of the copy.
fn edit(copy: &Path, file: &str, from: &str, to: &str) {
    let path = copy.join(file);
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} has no {from:?}");
    fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// Breaks a copy with `edit`s and returns the findings, which must not be empty.
fn findings_after(edits: &[(&str, &str, &str)]) -> Vec<String> {
    let copy = copy_of_terraform();
    assert!(
        check(&declared(), copy.path()).is_empty(),
        "the untouched copy must pass"
    );
    for (file, from, to) in edits {
        edit(copy.path(), file, from, to);
    }
    let findings = check(&declared(), copy.path());
    assert!(!findings.is_empty(), "the broken copy passed: {edits:?}");
    findings
}

fn assert_named(findings: &[String], words: &[&str]) {
    assert!(
        findings.iter().any(|f| words.iter().all(|w| f.contains(w))),
        "no finding names {words:?}: {findings:#?}"
    );
}

const DELIVERY: &str = "modules/delivery/main.tf";

#[test]
fn the_repository_terraform_is_wired_to_the_code() {
    let findings = check(&declared(), &repo().join("terraform"));
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn the_thirteen_functions_are_declared() {
    let names: Vec<String> = declared().into_iter().map(|f| f.name).collect();
    assert_eq!(
        names,
        [
            "authorizer",
            "get-order",
            "import-catalog",
            "list-products",
            "notify-carrier",
            "order-processor",
            "order-simulator",
            "order-total",
            "place-order",
            "pre-token",
            "reconciler",
            "start-import",
            "update-product"
        ]
    );
}

#[test]
fn a_schedule_that_misses_the_reconciler_s_alias_or_its_rate_is_caught() {
    let alias = "module.function[\"reconciler\"].alias_arn";
    let findings = findings_after(&[(
        DELIVERY,
        &format!("    arn      = {alias}"),
        "    arn      = module.function[\"reconciler\"].function_arn",
    )]);
    assert_named(&findings, &["schedule must invoke reconciler's live alias"]);
    let findings = findings_after(&[(DELIVERY, "rate(5 minutes)", "rate(1 hour)")]);
    assert_named(&findings, &["every 5 minutes", "rate(1 hour)"]);
    let findings = findings_after(&[(
        DELIVERY,
        &format!("resources = [{alias}]"),
        "resources = [\"*\"]",
    )]);
    assert_named(&findings, &["lambda:InvokeFunction", "only"]);
}

#[test]
fn a_function_without_an_instance_is_caught() {
    let findings = findings_after(&[(DELIVERY, "order-total = {", "order-totals = {")]);
    assert_named(&findings, &["order-total ", "no lambda-function instance"]);
    assert_named(&findings, &["order-totals", "no function crate"]);
}

/// A thirteenth function: declaring it is enough for the check to ask for its Terraform.
#[test]
fn a_declared_function_missing_from_terraform_is_caught() {
    let mut functions = declared();
    functions.push(FunctionCrate {
        name: "export-catalog".into(),
        triggers: vec!["invoke".into()],
        routes: vec![],
        settings: vec!["PRODUCTS_TABLE".into()],
    });
    let findings = check(&functions, &repo().join("terraform"));
    assert_named(
        &findings,
        &["export-catalog", "no lambda-function instance"],
    );
}

#[test]
fn a_route_declared_on_the_wrong_function_is_caught() {
    let mut functions = declared();
    let get_order = functions
        .iter_mut()
        .find(|f| f.name == "get-order")
        .unwrap();
    get_order.routes.retain(|r| r != "GET /orders/{id}");
    let list_products = functions
        .iter_mut()
        .find(|f| f.name == "list-products")
        .unwrap();
    list_products.routes.push("GET /orders/{id}".into());
    let findings = check(&functions, &repo().join("terraform"));
    assert_named(
        &findings,
        &["GET /orders/{id}", "get-order", "does not declare"],
    );
    assert_named(
        &findings,
        &["list-products", "declares route GET /orders/{id}"],
    );
}

#[test]
fn a_zip_not_named_after_its_function_is_caught() {
    let findings = findings_after(&[(
        DELIVERY,
        "\"${var.package_dir}/${each.key}/bootstrap.zip\"",
        "\"${var.package_dir}/bootstrap.zip\"",
    )]);
    assert_named(&findings, &["zip_path", "bootstrap.zip"]);
}

#[test]
fn a_missing_setting_is_caught() {
    let findings = findings_after(&[(
        DELIVERY,
        "cors_env     = { CORS_ALLOWED_ORIGINS = join(\",\", local.cors_origins) }",
        "cors_env = {}",
    )]);
    for function in ["list-products", "place-order", "order-simulator"] {
        assert_named(&findings, &[function, "CORS_ALLOWED_ORIGINS"]);
    }
    let findings = findings_after(&[(DELIVERY, "{ EVENTS_TOPIC_ARN = module.events.arn }", "{}")]);
    assert_named(&findings, &["order-processor", "EVENTS_TOPIC_ARN"]);
    let findings = findings_after(&[(
        DELIVERY,
        "{ for k, v in { JWKS = var.jwks, JWKS_URL = var.jwks_url } : k => v if v != \"\" },",
        "",
    )]);
    assert_named(&findings, &["authorizer", "JWKS|JWKS_URL"]);
}

#[test]
fn a_missing_route_is_caught() {
    let findings = findings_after(&[(
        DELIVERY,
        "{ method = \"PATCH\", path = \"/products/{id}\", function = \"update-product\" },",
        "",
    )]);
    assert_named(&findings, &["PATCH /products/{id}", "missing"]);
    let findings = findings_after(&[(
        DELIVERY,
        "{ method = \"GET\", path = \"/orders/{id}\", function = \"get-order\" },",
        "{ method = \"GET\", path = \"/orders/{id}\", function = \"list-products\" },",
    )]);
    assert_named(&findings, &["GET /orders/{id} → get-order", "missing"]);
}

#[test]
fn a_changed_queue_trigger_is_caught() {
    let findings = findings_after(&[(DELIVERY, "batch_size              = 10", "batch_size = 5")]);
    assert_named(&findings, &["batch_size = 10"]);
    let findings = findings_after(&[(
        DELIVERY,
        "function_response_types = [\"ReportBatchItemFailures\"]",
        "",
    )]);
    assert_named(&findings, &["ReportBatchItemFailures"]);
    let findings = findings_after(&[(
        DELIVERY,
        "function_name           = module.function[\"order-processor\"].alias_arn",
        "function_name = module.function[\"notify-carrier\"].alias_arn",
    )]);
    assert_named(&findings, &["must drive order-processor"]);
    let findings = findings_after(&[(
        DELIVERY,
        "max_receive_count        = 5",
        "max_receive_count = 10",
    )]);
    assert_named(&findings, &["max_receive_count = 5"]);
}

const IMPORTS: &str = "modules/imports/main.tf";

#[test]
fn a_changed_imports_trigger_or_bucket_is_caught() {
    let findings = findings_after(&[(
        DELIVERY,
        "batch_size              = 1\n",
        "batch_size = 10\n",
    )]);
    assert_named(
        &findings,
        &["imports event source mapping", "batch_size = 1"],
    );
    let findings = findings_after(&[(
        DELIVERY,
        "function_name           = module.function[\"import-catalog\"].alias_arn",
        "function_name = module.function[\"order-processor\"].alias_arn",
    )]);
    assert_named(&findings, &["imports queue must drive import-catalog"]);
    let findings = findings_after(&[(
        IMPORTS,
        "filter_prefix = \"imports/\"",
        "filter_prefix = \"\"",
    )]);
    assert_named(&findings, &["s3:ObjectCreated:* under imports/"]);
    let findings = findings_after(&[(
        IMPORTS,
        "max_receive_count        = 5",
        "max_receive_count = 50",
    )]);
    assert_named(&findings, &["imports queue", "max_receive_count = 5"]);
    let findings = findings_after(&[(
        "modules/imports/variables.tf",
        "default     = 7",
        "default     = 30",
    )]);
    assert_named(&findings, &["expire after 7 days"]);
}

#[test]
fn a_trigger_on_the_function_itself_is_caught() {
    let findings = findings_after(&[(
        DELIVERY,
        "function_name           = module.function[\"order-processor\"].alias_arn",
        "function_name = module.function[\"order-processor\"].arn",
    )]);
    assert_named(&findings, &["orders event source mapping", "live alias"]);
    let findings = findings_after(&[(
        DELIVERY,
        "invoke_arn    = module.function[r.function].alias_invoke_arn",
        "invoke_arn    = module.function[r.function].invoke_arn",
    )]);
    assert_named(&findings, &["API's routes", "live alias"]);
    let findings = findings_after(&[(
        DELIVERY,
        "subscriber_function_arn  = module.function[\"notify-carrier\"].alias_arn",
        "subscriber_function_arn  = module.function[\"notify-carrier\"].arn",
    )]);
    assert_named(&findings, &["order-events subscription", "live alias"]);
    let findings = findings_after(&[(
        "modules/rest-api/main.tf",
        "qualifier     = var.authorizer.qualifier\n",
        "",
    )]);
    assert_named(
        &findings,
        &["aws_lambda_permission \"authorizer\"", "qualifier"],
    );
}

#[test]
fn a_user_pool_trigger_that_is_not_pre_tokens_alias_is_caught() {
    let findings = findings_after(&[(
        DELIVERY,
        "pre_token_arn       = local.pre_token_trigger",
        "pre_token_arn       = module.function[\"pre-token\"].arn",
    )]);
    assert_named(
        &findings,
        &["module \"identity\"", "pre_token_arn", "live alias"],
    );
    let findings = findings_after(&[(
        DELIVERY,
        "${var.name}-pre-token:live\"",
        "${var.name}-pre-token\"",
    )]);
    assert_named(&findings, &["pre-token:live"]);
    let findings = findings_after(&[(
        DELIVERY,
        "  qualifier     = module.function[\"pre-token\"].alias_name\n",
        "",
    )]);
    assert_named(
        &findings,
        &["aws_lambda_permission \"pre_token\"", "qualifier"],
    );
    assert_named(&findings, &["user pool's invoke permission"]);
    let findings = findings_after(&[(
        DELIVERY,
        "condition     = module.function[\"pre-token\"].alias_arn == local.pre_token_trigger",
        "condition     = true",
    )]);
    assert_named(&findings, &["precondition", "local.pre_token_trigger"]);
}

#[test]
fn the_authorizer_needs_its_settings_from_the_pool_too() {
    let findings = findings_after(&[(
        "modules/identity/outputs.tf",
        "    JWKS_URL         = \"${local.issuer}/.well-known/jwks.json\"\n",
        "",
    )]);
    assert_named(&findings, &["authorizer", "JWKS|JWKS_URL"]);
}

#[test]
fn a_changed_topic_trigger_is_caught() {
    let findings = findings_after(&[(
        DELIVERY,
        "filter_types             = [\"order.accepted\"]",
        "filter_types = [\"order.accepted\", \"order.rejected\"]",
    )]);
    assert_named(&findings, &["order.accepted", "filter"]);
    let findings = findings_after(&[(
        DELIVERY,
        "subscriber_function_arn  = module.function[\"notify-carrier\"].alias_arn",
        "subscriber_function_arn = module.function[\"order-processor\"].alias_arn",
    )]);
    assert_named(&findings, &["subscriber_function_arn", "notify-carrier"]);
    let findings = findings_after(&[(
        DELIVERY,
        "destination = aws_sqs_queue.notifications_dlq.arn",
        "",
    )]);
    assert_named(&findings, &["on_failure"]);
    let findings = findings_after(&[(
        DELIVERY,
        "subscription_dlq_arn     = aws_sqs_queue.notifications_dlq.arn",
        "",
    )]);
    assert_named(&findings, &["redrive policy", "subscription_dlq_arn"]);
}

#[test]
fn publishing_sms_without_denying_topics_is_caught() {
    let findings = findings_after(&[(DELIVERY, "effect    = \"Deny\"", "effect    = \"Allow\"")]);
    assert_named(&findings, &["notify-carrier", "sns:Publish", "Deny"]);
}

#[test]
fn unmanaged_execution_logs_are_caught() {
    let findings = findings_after(&[(
        "modules/rest-api/main.tf",
        "name              = \"API-Gateway-Execution-Logs_",
        "name              = \"execution-",
    )]);
    assert_named(&findings, &["execution logs"]);
}

#[test]
fn an_api_without_its_web_acl_is_caught() {
    let findings = findings_after(&[(
        DELIVERY,
        "web_acl_arn             = module.edge.web_acl_arn",
        "",
    )]);
    assert_named(&findings, &["web_acl_arn", "WAF"]);
    let findings = findings_after(&[(
        "modules/edge/main.tf",
        r#"aggregate_key_type = "IP""#,
        r#"aggregate_key_type = "FORWARDED_IP""#,
    )]);
    assert_named(&findings, &["per-IP rate rule"]);
    let findings = findings_after(&[(
        "modules/edge/main.tf",
        r#"aggregate_key_type = "CUSTOM_KEYS""#,
        r#"aggregate_key_type = "IP""#,
    )]);
    assert_named(&findings, &["POST /orders per bearer token"]);
    let findings =
        findings_after(&[("modules/edge/main.tf", "redacted_fields {", "kept_fields {")]);
    assert_named(&findings, &["redact the authorization header"]);
}

#[test]
fn a_resource_type_the_deploy_roles_do_not_cover_is_caught() {
    let findings = findings_after(&[(
        "bootstrap/services.tf",
        "aws_wafv2_web_acl_association",
        "aws_wafv2_web_acl_associations",
    )]);
    assert_named(
        &findings,
        &["aws_wafv2_web_acl_association", "does not list"],
    );
    assert_named(
        &findings,
        &["aws_wafv2_web_acl_associations", "no module manages"],
    );
    let findings = findings_after(&[("bootstrap/services.tf", "dynamodb   = [", "dynamodb_x = [")]);
    assert_named(&findings, &["the service dynamodb has no statement"]);
}

#[test]
fn a_carrier_phone_rule_unlike_the_domain_is_caught() {
    let findings = findings_after(&[(
        "modules/delivery/variables.tf",
        "[0-9]{7,14}$",
        "[0-9]{6,14}$",
    )]);
    assert_named(&findings, &["carriers", "PHONE_PATTERN"]);
}

#[test]
fn a_table_unlike_the_adapter_is_caught() {
    let findings = findings_after(&[(
        "modules/tables/main.tf",
        "range_key = \"created_at\"",
        "range_key = \"placed_at\"",
    )]);
    assert_named(&findings, &["orders", "by_customer"]);
}

#[test]
fn a_history_table_without_its_range_key_is_caught() {
    let findings = findings_after(&[(
        "modules/tables/main.tf",
        "range_key = \"version\"",
        "range_key = \"at\"",
    )]);
    assert_named(&findings, &["history", "range key", "version"]);
}

#[test]
fn unparsable_terraform_is_a_finding() {
    let findings = findings_after(&[(DELIVERY, "locals {", "locals {{")]);
    assert_named(&findings, &["does not parse"]);
}

#[test]
fn a_name_bound_that_lets_a_name_pass_its_limit_is_caught() {
    let findings = findings_after(&[("modules/delivery/variables.tf", "{1,27}$", "{1,30}$")]);
    assert_named(
        &findings,
        &[
            "aws_s3_bucket.bucket_prefix",
            "-imports-",
            "40 characters",
            "37",
        ],
    );
}

/// Both environments take the same inputs and give the same outputs: prod's files are links to
/// dev's, and a copy put in their place must not drift.
#[test]
fn the_environments_share_their_variables_and_outputs() {
    let envs = repo().join("terraform/envs");
    for file in ["variables.tf", "outputs.tf"] {
        let dev = std::fs::read_to_string(envs.join("dev").join(file)).unwrap();
        let prod = std::fs::read_to_string(envs.join("prod").join(file)).unwrap();
        assert!(!dev.is_empty());
        assert_eq!(dev, prod, "terraform/envs/{{dev,prod}}/{file} differ");
    }
}

/// The functions' own metric names quoted in `text`: the ones in the namespace the functions
/// write (`Orders…`, `Sms…`, `Imports…`, `ProcessingLatency`, `Faults`), not AWS's.
fn own_metric_names(text: &str) -> Vec<String> {
    text.split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            ["Orders", "Sms", "Imports"]
                .iter()
                .any(|p| s.starts_with(p) && s[p.len()..].starts_with(char::is_uppercase))
                || *s == "ProcessingLatency"
                || *s == "Faults"
        })
        .map(str::to_owned)
        .collect()
}

/// Every metric the dashboard, the alarms, the deploy's rollback alarm and the local console
/// read is one the functions emit (`telemetry::metric::ALL`): a metric renamed in the code
/// leaves no chart or alarm watching a name nobody writes.
#[test]
fn every_metric_read_is_one_the_functions_write() {
    let mut read = Vec::new();
    for file in [
        "terraform/modules/dashboard/body/main.tf",
        "terraform/modules/alarms/table/main.tf",
        "terraform/modules/deploy/main.tf",
        "web/console.js",
    ] {
        let text = fs::read_to_string(repo().join(file)).unwrap();
        let names = own_metric_names(&text);
        assert!(
            !names.is_empty(),
            "{file} reads no metric of the functions'"
        );
        read.extend(names.into_iter().map(|n| (file, n)));
    }
    let unknown: Vec<_> = read
        .iter()
        .filter(|(_, name)| !telemetry::metric::ALL.contains(&name.as_str()))
        .collect();
    assert!(unknown.is_empty(), "read but never written: {unknown:?}");
    assert_eq!(
        own_metric_names(r#"x = "OrdersLost", "Order", "SmsX""#),
        ["OrdersLost", "SmsX"]
    );
}

/// The shell scripts (the test command, packaging) list the functions with `scripts/functions`;
/// it reads the same declaration as [`declared_functions`] and must find the same crates.
#[test]
fn the_scripts_find_the_functions_the_check_finds() {
    let out = std::process::Command::new(repo().join("scripts/functions"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let declared: Vec<String> = declared().into_iter().map(|f| f.name).collect();
    assert_eq!(listed, declared);
}
