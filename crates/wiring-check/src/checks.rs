//! The checks, each adding a sentence to the findings for every disagreement it sees.

use std::collections::{BTreeMap, BTreeSet};

use hcl::expr::Expression;
use hcl::{Block, Body};

use crate::declarations::{EVERY_FUNCTION, FunctionCrate};
use crate::hcl::*;

const DELIVERY: &str = "terraform/modules/delivery";

pub(crate) fn check_functions(
    crates: &[FunctionCrate],
    delivery: &Body,
    locals: &BTreeMap<String, Expression>,
    refs: &BTreeMap<String, Expression>,
    findings: &mut Vec<String>,
) {
    let declared: BTreeMap<String, &Expression> = locals
        .get("functions")
        .map(|f| entries(f).into_iter().collect())
        .unwrap_or_default();
    for function in crates {
        match declared.get(&function.name) {
            None => findings.push(format!(
                "function crate {} has no lambda-function instance: add it to local.functions in {DELIVERY}",
                function.name
            )),
            Some(value) => {
                check_environment(function, value, refs, findings);
                check_sms_only(function, value, findings);
            }
        }
    }
    for name in declared.keys() {
        if !crates.iter().any(|c| &c.name == name) {
            findings.push(format!(
                "local.functions in {DELIVERY} has {name}, which is no function crate"
            ));
        }
    }
    let Some(module) = blocks(delivery, "module", "function").next() else {
        findings.push(format!(
            "{DELIVERY} has no module \"function\" (the lambda-function instances)"
        ));
        return;
    };
    if attr(module, "source").and_then(string).as_deref() != Some("../lambda-function") {
        findings.push("module \"function\" must use source ../lambda-function".to_owned());
    }
    if attr(module, "for_each").map(text).as_deref() != Some("local.deployed_functions") {
        findings
            .push("module \"function\" must have for_each = local.deployed_functions".to_owned());
    }
    let zip = attr(module, "zip_path").map(text).unwrap_or_default();
    if !zip.contains("/${each.key}/bootstrap.zip") {
        findings.push(format!(
            "module \"function\" zip_path is {zip}: each function must deploy <package_dir>/<its crate>/bootstrap.zip"
        ));
    }
}

/// A function that may publish to `*` (SMS to phone numbers, which have no ARN) must be
/// denied every topic, or it could publish forged events anywhere.
fn check_sms_only(function: &FunctionCrate, declared: &Expression, findings: &mut Vec<String>) {
    let statements = match field(declared, "statements") {
        Some(Expression::Array(items)) => items.as_slice(),
        _ => return,
    };
    let publishes = |s: &Expression| {
        field(s, "actions")
            .map(strings)
            .unwrap_or_default()
            .iter()
            .any(|a| a == "sns:Publish")
    };
    let effect = |s: &Expression| {
        field(s, "effect")
            .and_then(string)
            .unwrap_or("Allow".into())
    };
    let resources = |s: &Expression| field(s, "resources").map(text).unwrap_or_default();
    let to_anything = statements
        .iter()
        .any(|s| publishes(s) && effect(s) == "Allow" && resources(s).contains("\"*\""));
    let topics_denied = statements
        .iter()
        .any(|s| publishes(s) && effect(s) == "Deny" && resources(s).contains(":sns:*:*:*"));
    if to_anything && !topics_denied {
        findings.push(format!(
            "{} may sns:Publish to \"*\" (SMS): deny it every topic (effect = \"Deny\" on arn:<partition>:sns:*:*:*) in {DELIVERY}",
            function.name
        ));
    }
}

fn check_environment(
    function: &FunctionCrate,
    declared: &Expression,
    refs: &BTreeMap<String, Expression>,
    findings: &mut Vec<String>,
) {
    let set = field(declared, "environment")
        .map(|e| env_keys(e, refs))
        .unwrap_or_default();
    let needed = EVERY_FUNCTION
        .iter()
        .copied()
        .chain(function.settings.iter().map(String::as_str));
    for setting in needed {
        if !setting.split('|').any(|s| set.contains(s)) {
            findings.push(format!(
                "{} reads {setting}, but its environment in {DELIVERY} does not set it",
                function.name
            ));
        }
    }
}

/// The routes the crates declare are exactly the route table's, each on its function.
pub(crate) fn check_declared_routes(crates: &[FunctionCrate], findings: &mut Vec<String>) {
    let declared: BTreeSet<(String, String)> = crates
        .iter()
        .flat_map(|c| c.routes.iter().map(|r| (r.clone(), c.name.clone())))
        .collect();
    let expected: BTreeSet<(String, String)> = domain::auth::ROUTES
        .iter()
        .map(|r| {
            (
                format!("{} {}", r.method, r.resource),
                r.function.name().to_owned(),
            )
        })
        .collect();
    for (route, function) in expected.difference(&declared) {
        findings.push(format!(
            "route {route} is {function}'s in domain::auth::ROUTES, but {function}'s Cargo.toml does not declare it"
        ));
    }
    for (route, function) in declared.difference(&expected) {
        findings.push(format!(
            "{function}'s Cargo.toml declares route {route}, which domain::auth::ROUTES does not give it"
        ));
    }
}

/// The one function a trigger drives, by its declaration.
fn triggered_by<'a>(crates: &'a [FunctionCrate], trigger: &str) -> Result<&'a str, String> {
    let named: Vec<&str> = crates
        .iter()
        .filter(|c| c.triggers.iter().any(|t| t == trigger))
        .map(|c| c.name.as_str())
        .collect();
    match named.as_slice() {
        [one] => Ok(one),
        _ => Err(format!(
            "exactly one function crate must declare the trigger {trigger}, found {named:?}"
        )),
    }
}

pub(crate) fn check_routes(
    delivery: &Body,
    locals: &BTreeMap<String, Expression>,
    findings: &mut Vec<String>,
) {
    let declared = locals
        .get("routes")
        .map(|r| triples(r, ["method", "path", "function"]))
        .unwrap_or_default();
    let expected: BTreeSet<(String, String, String)> = domain::auth::ROUTES
        .iter()
        .map(|r| {
            (
                r.method.to_owned(),
                r.resource.to_owned(),
                r.function.name().to_owned(),
            )
        })
        .collect();
    for (method, path, function) in expected.difference(&declared) {
        findings.push(format!(
            "route {method} {path} → {function} is missing from local.routes in {DELIVERY}"
        ));
    }
    for (method, path, function) in declared.difference(&expected) {
        findings.push(format!(
            "local.routes has {method} {path} → {function}, which domain::auth::ROUTES does not"
        ));
    }
    let api_routes = blocks(delivery, "module", "api")
        .next()
        .and_then(|m| attr(m, "routes"))
        .map(text)
        .unwrap_or_default();
    if !api_routes.contains("local.routes") {
        findings.push("module \"api\" must take its routes from local.routes".to_owned());
    }
}

/// An SQS trigger of the architecture: the queue (also the label of its event source mapping), the
/// module output the mapping reads, and the batch size.
struct QueueTrigger {
    queue: &'static str,
    source: &'static str,
    batch_size: u64,
}

const QUEUE_TRIGGERS: [QueueTrigger; 2] = [
    QueueTrigger {
        queue: "orders",
        source: "module.orders_queue.arn",
        batch_size: 10,
    },
    QueueTrigger {
        queue: "imports",
        source: "module.imports.queue_arn",
        batch_size: 1,
    },
];

pub(crate) fn check_queue_triggers(
    crates: &[FunctionCrate],
    delivery: &Body,
    findings: &mut Vec<String>,
) {
    let mappings: Vec<&Block> =
        blocks(delivery, "resource", "aws_lambda_event_source_mapping").collect();
    if mappings.len() != QUEUE_TRIGGERS.len() {
        findings.push(format!(
            "{DELIVERY} must have one SQS event source mapping per queue (orders, imports), found {}",
            mappings.len()
        ));
    }
    for trigger in &QUEUE_TRIGGERS {
        let mapping = mappings.iter().find(|m| {
            m.labels()
                .get(1)
                .is_some_and(|l| l.as_str() == trigger.queue)
        });
        match mapping {
            Some(mapping) => check_queue_trigger(crates, mapping, trigger, findings),
            None => findings.push(format!(
                "{DELIVERY} has no aws_lambda_event_source_mapping \"{}\"",
                trigger.queue
            )),
        }
    }
    check_queue_module(
        blocks(delivery, "module", "orders_queue").next(),
        "orders",
        findings,
    );
}

fn check_queue_trigger(
    crates: &[FunctionCrate],
    mapping: &Block,
    trigger: &QueueTrigger,
    findings: &mut Vec<String>,
) {
    let queue = trigger.queue;
    let consumer = match triggered_by(crates, &format!("sqs:{queue}")) {
        Ok(name) => name,
        Err(e) => return findings.push(e),
    };
    let target = attr(mapping, "function_name").map(text).unwrap_or_default();
    if !target.starts_with(&format!("module.function[\"{consumer}\"]")) {
        findings.push(format!(
            "the {queue} queue must drive {consumer}, not {target}"
        ));
    }
    let source = attr(mapping, "event_source_arn")
        .map(text)
        .unwrap_or_default();
    if source != trigger.source {
        findings.push(format!(
            "the {queue} event source mapping must read {}, not {source}",
            trigger.source
        ));
    }
    if attr(mapping, "batch_size").and_then(number) != Some(trigger.batch_size) {
        findings.push(format!(
            "the {queue} event source mapping must have batch_size = {}",
            trigger.batch_size
        ));
    }
    let response_types = attr(mapping, "function_response_types")
        .map(strings)
        .unwrap_or_default();
    if response_types != ["ReportBatchItemFailures"] {
        findings.push(format!(
            "the {queue} event source mapping must report partial batch failures (function_response_types = [\"ReportBatchItemFailures\"])"
        ));
    }
}

/// A queue is the `queue` module, moving a message to its DLQ after 5 receives.
fn check_queue_module(queue: Option<&Block>, name: &str, findings: &mut Vec<String>) {
    let Some(queue) = queue else {
        return findings.push(format!("the {name} queue's module is missing"));
    };
    if attr(queue, "source").and_then(string).as_deref() != Some("../queue") {
        findings.push(format!(
            "the {name} queue's module must use source ../queue"
        ));
    }
    if attr(queue, "max_receive_count").and_then(number) != Some(5) {
        findings.push(format!(
            "the {name} queue must move a message to its DLQ after 5 receives (max_receive_count = 5)"
        ));
    }
}

/// The imports bucket notifies the imports queue of every file created under `imports/`, and
/// keeps files 7 days.
pub(crate) fn check_imports(imports: &Body, findings: &mut Vec<String>) {
    const MODULE: &str = "terraform/modules/imports";
    check_queue_module(
        blocks(imports, "module", "queue").next(),
        "imports",
        findings,
    );
    let notification = blocks(imports, "resource", "aws_s3_bucket_notification").next();
    let queue = notification.and_then(|n| n.body().blocks().find(|b| b.identifier() == "queue"));
    let notifies = queue.is_some_and(|q| {
        attr(q, "queue_arn").map(text).as_deref() == Some("module.queue.arn")
            && attr(q, "events").map(strings).unwrap_or_default() == ["s3:ObjectCreated:*"]
            && attr(q, "filter_prefix").and_then(string).as_deref() == Some("imports/")
    });
    if !notifies {
        findings.push(format!(
            "{MODULE}: the bucket must notify module.queue.arn of s3:ObjectCreated:* under imports/"
        ));
    }
    let days = blocks(imports, "variable", "expiration_days")
        .next()
        .and_then(|v| attr(v, "default"))
        .and_then(number);
    if days != Some(7) {
        findings.push(format!(
            "{MODULE}: files must expire after 7 days (expiration_days)"
        ));
    }
}

pub(crate) fn check_topic_trigger(
    crates: &[FunctionCrate],
    delivery: &Body,
    findings: &mut Vec<String>,
) {
    let subscriber = match triggered_by(crates, "sns:order-events") {
        Ok(name) => name,
        Err(e) => return findings.push(e),
    };
    let subscriber_ref = format!("module.function[\"{subscriber}\"]");
    let topics: Vec<&Block> = delivery
        .blocks()
        .filter(|b| {
            b.identifier() == "module"
                && attr(b, "source").and_then(string).as_deref() == Some("../topic")
        })
        .collect();
    let [topic] = topics.as_slice() else {
        findings.push(format!(
            "{DELIVERY} must have exactly one topic module (order-events → notify-carrier), found {}",
            topics.len()
        ));
        return;
    };
    for name in ["subscriber_function_arn", "subscriber_function_name"] {
        let target = attr(topic, name).map(text).unwrap_or_default();
        if !target.starts_with(&subscriber_ref) {
            findings.push(format!(
                "the order-events topic must drive {subscriber}, but its {name} is {target}"
            ));
        }
    }
    if attr(topic, "subscription_dlq_arn").is_none() {
        findings.push(format!(
            "the order-events subscription needs a redrive policy: set subscription_dlq_arn on the topic module in {DELIVERY}"
        ));
    }
    let filter = attr(topic, "filter_types").map(strings).unwrap_or_default();
    if filter != ["order.accepted"] {
        findings.push(format!(
            "notify-carrier must receive only type = order.accepted, but the filter is {filter:?}"
        ));
    }
    check_on_failure_destination(subscriber, &subscriber_ref, delivery, findings);
}

/// The subscriber's failed invocations go to the notifications DLQ, after Lambda's retries.
fn check_on_failure_destination(
    subscriber: &str,
    subscriber_ref: &str,
    delivery: &Body,
    findings: &mut Vec<String>,
) {
    let retries = blocks(
        delivery,
        "resource",
        "aws_lambda_function_event_invoke_config",
    )
    .find(|b| {
        attr(b, "function_name")
            .map(text)
            .is_some_and(|t| t.starts_with(subscriber_ref))
    });
    let has_destination = retries.is_some_and(|b| {
        b.body()
            .blocks()
            .filter(|d| d.identifier() == "destination_config")
            .flat_map(|d| d.body().blocks())
            .any(|d| d.identifier() == "on_failure" && attr(d, "destination").is_some())
    });
    if !has_destination {
        findings.push(
            format!("{subscriber} needs an async-invoke configuration whose on_failure destination is the notifications DLQ"),
        );
    }
}

/// With enable_cognito, the user pool's pre token generation trigger is the declaring crate's
/// live alias. The pool names it by a built ARN (reading it would make a cycle), so that ARN
/// must end in `<name>-<crate>:live`, and the invoke permission must be the alias's and check
/// the built ARN against the alias's own.
pub(crate) fn check_token_trigger(
    crates: &[FunctionCrate],
    delivery: &Body,
    locals: &BTreeMap<String, Expression>,
    findings: &mut Vec<String>,
) {
    let function = match triggered_by(crates, "cognito:pre-token-generation") {
        Ok(name) => name,
        Err(e) => return findings.push(e),
    };
    let identity = blocks(delivery, "module", "identity").next();
    let trigger = identity.and_then(|m| attr(m, "pre_token_arn")).map(text);
    let built = locals
        .get("pre_token_trigger")
        .map(text)
        .unwrap_or_default();
    if trigger.as_deref() != Some("local.pre_token_trigger")
        || !built.ends_with(&format!(":function:${{var.name}}-{function}:live\""))
    {
        findings.push(format!(
            "module \"identity\" in {DELIVERY} must take pre_token_arn = local.pre_token_trigger, the ARN of {function}'s live alias (…:function:${{var.name}}-{function}:live), not {trigger:?} = {built}"
        ));
    }
    let function_ref = format!("module.function[\"{function}\"]");
    let permission = blocks(delivery, "resource", "aws_lambda_permission").find(|p| {
        attr(p, "principal").and_then(string).as_deref() == Some("cognito-idp.amazonaws.com")
    });
    let Some(permission) = permission else {
        return findings.push(format!(
            "{DELIVERY} needs the aws_lambda_permission that lets cognito-idp.amazonaws.com invoke {function}'s live alias"
        ));
    };
    let names = |name: &str, wanted: &str| {
        attr(permission, name).map(text).unwrap_or_default() == format!("{function_ref}.{wanted}")
    };
    let checked = permission
        .body()
        .blocks()
        .filter(|b| b.identifier() == "lifecycle")
        .flat_map(|l| l.body().blocks())
        .filter(|b| b.identifier() == "precondition")
        .filter_map(|p| attr(p, "condition").map(text))
        .any(|c| c == format!("{function_ref}.alias_arn==local.pre_token_trigger"));
    if !(names("function_name", "function_name") && names("qualifier", "alias_name") && checked) {
        findings.push(format!(
            "the user pool's invoke permission must name {function_ref}.function_name with qualifier {function_ref}.alias_name, and check in a precondition that {function_ref}.alias_arn == local.pre_token_trigger"
        ));
    }
}

/// Terraform validates carrier phones with the domain's own rule.
pub(crate) fn check_carrier_phones(delivery: &Body, findings: &mut Vec<String>) {
    let condition = blocks(delivery, "variable", "carriers")
        .flat_map(|v| v.body().blocks())
        .filter(|b| b.identifier() == "validation")
        .find_map(|v| attr(v, "condition").map(text))
        .unwrap_or_default();
    // The pattern as written in HCL: a quoted string with `\\` for each backslash.
    let pattern = condition
        .split_once("regex(\"")
        .and_then(|(_, rest)| rest.split_once("\","))
        .map(|(literal, _)| literal.replace("\\\\", "\\"));
    if pattern.as_deref() != Some(domain::ids::PHONE_PATTERN) {
        findings.push(format!(
            "{DELIVERY}: variable \"carriers\" must validate phones with regex(\"{}\", …), the domain's rule (domain::ids::PHONE_PATTERN), not {pattern:?}",
            domain::ids::PHONE_PATTERN.replace('\\', "\\\\")
        ));
    }
}

/// API Gateway's execution logs go to a log group made with retention and the key (else API
/// Gateway makes one that keeps everything, unencrypted).
/// Every trigger invokes a function's `live` alias, never the function itself (`$LATEST`):
/// CodeDeploy moves the alias, so a trigger on the function would skip the canary and the
/// rollback (docs/deploy.md).
pub(crate) fn check_aliases(delivery: &Body, api: &Body, topic: &Body, findings: &mut Vec<String>) {
    for (what, target, wanted) in alias_targets(delivery) {
        if !target.contains(wanted) {
            findings.push(format!(
                "{what} must target the live alias ({wanted}), not the function itself: {target}"
            ));
        }
    }
    for (module, body) in [("delivery", delivery), ("rest-api", api), ("topic", topic)] {
        for permission in blocks(body, "resource", "aws_lambda_permission") {
            if attr(permission, "qualifier").is_none() {
                findings.push(format!(
                    "terraform/modules/{module}: aws_lambda_permission \"{}\" must have a qualifier (the alias it lets invoke)",
                    name_of(permission)
                ));
            }
        }
    }
}

/// A block's name: the second label of `resource "type" "name"`.
fn name_of(block: &Block) -> String {
    block
        .labels()
        .get(1)
        .map(|l| l.as_str().to_owned())
        .unwrap_or_default()
}

/// What invokes a function, in the delivery module: what it is, the reference it uses, and
/// what that reference must name (the alias).
fn alias_targets(delivery: &Body) -> Vec<(String, String, &'static str)> {
    let attr_text = |block: &Block, name: &str| attr(block, name).map(text).unwrap_or_default();
    let mut targets = Vec::new();
    for mapping in blocks(delivery, "resource", "aws_lambda_event_source_mapping") {
        let what = format!("the {} event source mapping", name_of(mapping));
        targets.push((what, attr_text(mapping, "function_name"), ".alias_arn"));
    }
    if let Some(api) = blocks(delivery, "module", "api").next() {
        let (routes, authorizer) = (attr_text(api, "routes"), attr_text(api, "authorizer"));
        targets.extend([
            (
                "the API's routes".to_owned(),
                routes.clone(),
                ".alias_invoke_arn",
            ),
            (
                "the API's route permissions".to_owned(),
                routes,
                ".alias_name",
            ),
            (
                "the API's authorizer".to_owned(),
                authorizer.clone(),
                ".alias_invoke_arn",
            ),
            (
                "the authorizer's permission".to_owned(),
                authorizer,
                ".alias_name",
            ),
        ]);
    }
    if let Some(events) = blocks(delivery, "module", "events").next() {
        targets.extend([
            (
                "the order-events subscription".to_owned(),
                attr_text(events, "subscriber_function_arn"),
                ".alias_arn",
            ),
            (
                "the subscription's permission".to_owned(),
                attr_text(events, "subscriber_qualifier"),
                ".alias_name",
            ),
        ]);
    }
    for config in blocks(
        delivery,
        "resource",
        "aws_lambda_function_event_invoke_config",
    ) {
        let what = "notify-carrier's retries and destination".to_owned();
        targets.push((what, attr_text(config, "qualifier"), ".alias_name"));
    }
    targets
}

pub(crate) fn check_execution_logs(api: &Body, findings: &mut Vec<String>) {
    let managed = api
        .blocks()
        .filter(|b| {
            b.identifier() == "resource"
                && b.labels()
                    .first()
                    .is_some_and(|l| l.as_str() == "aws_cloudwatch_log_group")
        })
        .any(|group| {
            attr(group, "name")
                .map(text)
                .is_some_and(|n| n.contains("API-Gateway-Execution-Logs_"))
                && attr(group, "retention_in_days").is_some()
                && attr(group, "kms_key_id").is_some()
        });
    if !managed {
        findings.push(
            "terraform/modules/rest-api must make the execution logs' group (API-Gateway-Execution-Logs_<api id>/<stage>) with retention_in_days and kms_key_id".to_owned(),
        );
    }
}

/// The API is behind the edge's web ACL, which limits each IP's rate and the body size.
pub(crate) fn check_edge(delivery: &Body, edge: &Body, findings: &mut Vec<String>) {
    let api_acl = blocks(delivery, "module", "api")
        .next()
        .and_then(|m| attr(m, "web_acl_arn"))
        .map(text)
        .unwrap_or_default();
    if api_acl != "module.edge.web_acl_arn" {
        findings.push(format!(
            "module \"api\" in {DELIVERY} must take web_acl_arn = module.edge.web_acl_arn (the WAF in front of the stage)"
        ));
    }
    let statements: Vec<&Block> = blocks(edge, "resource", "aws_wafv2_web_acl")
        .flat_map(|acl| acl.body().blocks())
        .filter(|b| b.identifier() == "rule")
        .flat_map(|rule| rule.body().blocks())
        .filter(|b| b.identifier() == "statement")
        .flat_map(|s| s.body().blocks())
        .collect();
    let rate_keys: Vec<String> = statements
        .iter()
        .filter(|b| b.identifier() == "rate_based_statement")
        .filter_map(|b| attr(b, "aggregate_key_type").and_then(string))
        .collect();
    let has = |kind: &str| statements.iter().any(|b| b.identifier() == kind);
    for (present, what) in [
        (
            rate_keys.iter().any(|k| k == "IP"),
            "a per-IP rate rule (rate_based_statement, aggregate_key_type = \"IP\")",
        ),
        (
            rate_keys.iter().any(|k| k == "CUSTOM_KEYS"),
            "a rate rule on POST /orders per bearer token (rate_based_statement, CUSTOM_KEYS on the authorization header): self sign-up must not spend the SMS budget",
        ),
        (
            has("size_constraint_statement"),
            "a body-size rule (size_constraint_statement)",
        ),
        (
            has("managed_rule_group_statement"),
            "AWS's managed rules (managed_rule_group_statement)",
        ),
    ] {
        if !present {
            findings.push(format!("terraform/modules/edge: the web ACL needs {what}"));
        }
    }
    let logging = blocks(edge, "resource", "aws_wafv2_web_acl_logging_configuration")
        .map(|b| hcl::format::to_string(b.body()).unwrap_or_default())
        .collect::<String>();
    if !logging.contains("redacted_fields")
        || !logging.to_ascii_lowercase().contains("\"authorization\"")
    {
        findings.push(
            "terraform/modules/edge: the web ACL's logs must redact the authorization header (a bearer token in a log is a credential)".to_owned(),
        );
    }
}

pub(crate) fn check_tables(tables: &Body, findings: &mut Vec<String>) {
    use store_dynamodb::schema::{CARRIERS, HISTORY, IDEMPOTENCY, IMPORTS, ORDERS, PRODUCTS};
    const MODULE: &str = TABLES;
    let declared = locals(tables);
    let declared: BTreeMap<String, &Expression> = declared
        .get("tables")
        .map(|t| entries(t).into_iter().collect())
        .unwrap_or_default();
    let hash_key = blocks(tables, "resource", "aws_dynamodb_table")
        .next()
        .and_then(|t| attr(t, "hash_key"))
        .and_then(string);
    let specs = [
        ("products", PRODUCTS),
        ("orders", ORDERS),
        ("carriers", CARRIERS),
        ("idempotency", IDEMPOTENCY),
        ("imports", IMPORTS),
        ("history", HISTORY),
    ];
    for (name, spec) in specs {
        if hash_key.as_deref() != Some(spec.hash_key) {
            findings.push(format!(
                "{MODULE}: table {name} must have hash key {} (store_dynamodb::schema)",
                spec.hash_key
            ));
        }
        let Some(table) = declared.get(name) else {
            findings.push(format!("{MODULE}: local.tables has no {name} table"));
            continue;
        };
        check_table_keys(name, table, spec, findings);
    }
    for name in declared.keys() {
        if !specs.iter().any(|(known, _)| known == name) {
            findings.push(format!(
                "{MODULE}: local.tables has {name}, which store_dynamodb::schema does not define"
            ));
        }
    }
}

/// The tables module, as findings name it.
const TABLES: &str = "terraform/modules/tables";

/// One table's range key and indexes against its spec.
fn check_table_keys(
    name: &str,
    table: &Expression,
    spec: store_dynamodb::schema::TableSpec,
    findings: &mut Vec<String>,
) {
    let range_key = field(table, "range_key").and_then(string);
    if range_key.as_deref() != spec.range_key {
        findings.push(format!(
            "{TABLES}: table {name} has range key {range_key:?}, but store_dynamodb::schema defines {:?}",
            spec.range_key
        ));
    }
    let indexes = field(table, "indexes")
        .map(|i| triples(i, ["name", "hash_key", "range_key"]))
        .unwrap_or_default();
    let expected: BTreeSet<(String, String, String)> = spec
        .indexes
        .iter()
        .map(|i| {
            (
                i.name.to_owned(),
                i.hash_key.to_owned(),
                i.range_key.to_owned(),
            )
        })
        .collect();
    if indexes != expected {
        findings.push(format!(
            "{TABLES}: table {name} has indexes {indexes:?}, but store_dynamodb::schema defines {expected:?}"
        ));
    }
}

/// The crate that declares `schedule` (`reconciler`) is invoked every five minutes by one
/// EventBridge Scheduler schedule, on its alias, by a role that may invoke that alias only; a
/// failed run is retried by neither the schedule nor Lambda (the next run does the same work).
pub(crate) fn check_schedule_trigger(
    crates: &[FunctionCrate],
    delivery: &Body,
    findings: &mut Vec<String>,
) {
    let function = match triggered_by(crates, "schedule") {
        Ok(name) => name,
        Err(e) => return findings.push(e),
    };
    let alias = format!("module.function[\"{function}\"].alias_arn");
    let schedules: Vec<&Block> = blocks(delivery, "resource", "aws_scheduler_schedule").collect();
    let [schedule] = schedules.as_slice() else {
        return findings.push(format!(
            "{DELIVERY} must have exactly one aws_scheduler_schedule ({function} every 5 minutes), found {}",
            schedules.len()
        ));
    };
    let every = attr(schedule, "schedule_expression").and_then(string);
    if every.as_deref() != Some("rate(5 minutes)") {
        findings.push(format!(
            "{function} runs every 5 minutes: the schedule's expression is {every:?}, not \"rate(5 minutes)\""
        ));
    }
    let target = schedule
        .body()
        .blocks()
        .find(|b| b.identifier() == "target");
    let arn = target
        .and_then(|t| attr(t, "arn"))
        .map(text)
        .unwrap_or_default();
    if arn != alias {
        findings.push(format!(
            "the schedule must invoke {function}'s live alias ({alias}), not {arn:?}"
        ));
    }
    let invokes_alias = blocks(delivery, "data", "aws_iam_policy_document").any(|policy| {
        policy.body().blocks().any(|statement| {
            attr(statement, "actions").map(strings).unwrap_or_default() == ["lambda:InvokeFunction"]
                && attr(statement, "resources").map(text).unwrap_or_default()
                    == format!("[{alias}]")
        })
    });
    if !invokes_alias {
        findings.push(format!(
            "the schedule's role needs a statement allowing lambda:InvokeFunction on {alias} only"
        ));
    }
}
