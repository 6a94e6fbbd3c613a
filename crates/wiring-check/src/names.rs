//! Names built from an environment's `name` fit their resources' limits. `modules/delivery`'s
//! `name` validation says how long a name may be; every module the delivery module calls with
//! a name built from it (`name = "${var.name}-orders"`) builds its resources' names from that
//! in turn. With the longest name the validation allows (and the longest function name where a
//! name is per function), each of those must fit AWS's limit, or the first apply of a long
//! name is refused halfway.

use std::collections::BTreeMap;
use std::path::Path;

use hcl::expr::Expression;
use hcl::{Block, Body};

const VARIABLES: &str = "terraform/modules/delivery/variables.tf";

/// AWS's limits on the names this Terraform builds, by resource type and attribute.
const LIMITS: &[(&str, &str, usize)] = &[
    ("aws_s3_bucket", "bucket_prefix", 37),
    ("aws_iam_role", "name", 64),
    ("aws_iam_role_policy", "name", 128),
    ("aws_lambda_function", "function_name", 64),
    ("aws_lambda_permission", "statement_id", 100),
    ("aws_sqs_queue", "name", 80),
    ("aws_sns_topic", "name", 256),
    ("aws_dynamodb_table", "name", 255),
    ("aws_cloudwatch_log_group", "name", 512),
    ("aws_cloudwatch_metric_alarm", "alarm_name", 255),
    ("aws_codedeploy_app", "name", 100),
    ("aws_cloudfront_origin_access_control", "name", 64),
    ("aws_cloudfront_response_headers_policy", "name", 128),
    ("aws_wafv2_web_acl", "name", 128),
    ("aws_security_group", "name", 255),
    ("aws_kms_alias", "name", 256),
];

pub fn check(
    delivery: &Body,
    modules: &BTreeMap<String, Result<Body, String>>,
    locals: &BTreeMap<String, Expression>,
    terraform_dir: &Path,
    findings: &mut Vec<String>,
) {
    let Some(longest) = longest_name(&terraform_dir.join("modules/delivery/variables.tf")) else {
        findings.push(format!(
            "{VARIABLES}: the name's validation must bound its length (a regex ending in {{m,n}}$)"
        ));
        return;
    };
    let longest_key = locals
        .get("functions")
        .map(crate::hcl::entries)
        .unwrap_or_default()
        .iter()
        .map(|(k, _)| k.len())
        .max()
        .unwrap_or(0);
    let name = "n".repeat(longest);
    let expand = |template: &str, own: &str| {
        template
            .replace("${var.name}", own)
            .replace("${var.name_prefix}", own)
            .replace("${each.key}", &"k".repeat(longest_key))
    };
    // The delivery module's own resources, then each module it calls with a name.
    check_body(delivery, "delivery", &|t| expand(t, &name), findings);
    for call in delivery.blocks().filter(|b| b.identifier() == "module") {
        let Some(source) = crate::hcl::attr(call, "source").and_then(crate::hcl::string) else {
            continue;
        };
        let Some(Ok(body)) = modules.get(source.trim_start_matches("../")) else {
            continue;
        };
        for input in ["name", "name_prefix"] {
            if let Some(given) = crate::hcl::attr(call, input).map(template) {
                let own = expand(&given, &name);
                check_body(body, &source, &|t| expand(t, &own), findings);
            }
        }
    }
}

/// The longest name `^[a-z][a-z0-9-]{m,n}$` allows: 1 + n.
fn longest_name(variables: &Path) -> Option<usize> {
    let text = std::fs::read_to_string(variables).ok()?;
    let pattern = text.split("regex(\"").nth(1)?.split('"').next()?;
    let bound = pattern.rsplit_once(',')?.1.trim_end_matches("}$");
    Some(1 + bound.parse::<usize>().ok()?)
}

/// An attribute's value as a template: `var.name` alone becomes `${var.name}`.
fn template(expr: &Expression) -> String {
    let text = crate::hcl::text(expr);
    if text.starts_with('"') {
        text.trim_matches('"').to_owned()
    } else {
        format!("${{{text}}}")
    }
}

fn check_body(
    body: &Body,
    module: &str,
    expand: &dyn Fn(&str) -> String,
    findings: &mut Vec<String>,
) {
    let resources = body.blocks().filter(|b| b.identifier() == "resource");
    for block in resources {
        let Some(kind) = block.labels().first().map(|l| l.as_str()) else {
            continue;
        };
        for (_, attribute, limit) in LIMITS.iter().filter(|(k, _, _)| *k == kind) {
            check_one(block, module, kind, attribute, *limit, expand, findings);
        }
    }
}

fn check_one(
    block: &Block,
    module: &str,
    kind: &str,
    attribute: &str,
    limit: usize,
    expand: &dyn Fn(&str) -> String,
    findings: &mut Vec<String>,
) {
    let Some(value) = crate::hcl::attr(block, attribute).map(template) else {
        return;
    };
    let built = expand(&value);
    // Only names built from the environment's name, with nothing else left to fill in.
    if built == value || built.contains("${") {
        return;
    }
    if built.len() > limit {
        findings.push(format!(
            "{module}: {kind}.{attribute} = {value:?} can be {} characters long with the longest name {VARIABLES} allows; AWS allows {limit}: shorten the name's bound",
            built.len()
        ));
    }
}
