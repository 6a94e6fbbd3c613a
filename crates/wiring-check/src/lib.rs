//! The wiring check. No Terraform provider can be downloaded where the tests run, so
//! `terraform validate` and `plan` happen only in GitHub Actions; this reads the HCL itself and
//! fails when it disagrees with the code:
//!
//! - every function crate (each declares itself in its `Cargo.toml`, `[package.metadata.lambda]`,
//!   read with `cargo metadata`) has an instance of the `lambda-function` module, with the zip
//!   of its name, and no instance names a crate that does not exist;
//! - every setting a function declares is in that instance's environment; a test in
//!   `delivery-local` proves each declaration is what the function's wiring really reads;
//! - the routes the crates declare, and the API's routes, are exactly `domain::auth::ROUTES`,
//!   each on the function the code says;
//! - the triggers are those of ARCHITECTURE.md's bird's-eye view: the orders queue drives the crate that declares
//!   `sqs:orders` (`order-processor`) in batches of 10 with `ReportBatchItemFailures` (DLQ after
//!   5 receives), the `order-events` topic drives the crate that declares `sns:order-events`
//!   (`notify-carrier`) filtered on `type = order.accepted`, with an on-failure destination;
//!   the imports queue drives the crate that declares `sqs:imports` (`import-catalog`) one
//!   file at a time, and the imports bucket notifies that queue and keeps files 7 days;
//! - every trigger (the API's routes and authorizer, the event source mappings, the order-events
//!   subscription, notify-carrier's retries) targets a function's `live` alias, never the
//!   function itself, and every invoke permission names its alias; with `enable_cognito`, the
//!   user pool's pre token generation trigger is the alias of the crate that declares
//!   `cognito:pre-token-generation` (`pre-token`);
//! - a setting counts as set when every branch of a conditional environment sets it (the
//!   authorizer's comes from the user pool's outputs with `enable_cognito`, else from inputs);
//! - the tables' keys and indexes are those of `store_dynamodb::schema`;
//! - the deploy roles of `terraform/bootstrap` cover every resource type the modules manage
//!   ([`bootstrap`]);
//! - every name built from the environment's `name` fits its resource's limit, at the longest
//!   name the `name` validation allows ([`names`]).
//!
//! [`check`] returns every disagreement, each as a sentence naming what to fix.

mod bootstrap;
mod names;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use hcl::expr::{Expression, ObjectKey};
use hcl::{Block, Body};
use serde::Deserialize;

/// Settings every function gets (README, "Configuration").
pub const EVERY_FUNCTION: &[&str] = &["RUST_LOG"];

/// A Lambda function crate, as it declares itself in its `Cargo.toml`
/// (`[package.metadata.lambda]`; ARCHITECTURE "Adding a function").
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionCrate {
    #[serde(skip)]
    pub name: String,
    /// `http`, `invoke`, `authorizer`, `sqs:<queue>` or `sns:<topic>`.
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

/// Every disagreement between the Terraform under `terraform_dir` and the declared function
/// crates; empty when the wiring is right.
pub fn check(crates: &[FunctionCrate], terraform_dir: &Path) -> Vec<String> {
    let mut findings = Vec::new();
    if crates.is_empty() {
        return vec!["no function crate is declared".to_owned()];
    }
    let modules = load_modules(&terraform_dir.join("modules"));
    let delivery = match module(&modules, "delivery") {
        Ok(body) => body,
        Err(e) => return vec![e],
    };
    let locals = locals(delivery);
    let refs = references(&modules, delivery, &locals);
    check_functions(crates, delivery, &locals, &refs, &mut findings);
    check_declared_routes(crates, &mut findings);
    check_routes(delivery, &locals, &mut findings);
    check_queue_triggers(crates, delivery, &mut findings);
    check_topic_trigger(crates, delivery, &mut findings);
    check_carrier_phones(delivery, &mut findings);
    check_token_trigger(crates, delivery, &locals, &mut findings);
    match (module(&modules, "rest-api"), module(&modules, "topic")) {
        (Ok(api), Ok(topic)) => {
            check_execution_logs(api, &mut findings);
            check_aliases(delivery, api, topic, &mut findings);
        }
        (Err(e), _) | (_, Err(e)) => findings.push(e),
    }
    match module(&modules, "edge") {
        Ok(edge) => check_edge(delivery, edge, &mut findings),
        Err(e) => findings.push(e),
    }
    match module(&modules, "tables") {
        Ok(tables) => check_tables(tables, &mut findings),
        Err(e) => findings.push(e),
    }
    match module(&modules, "imports") {
        Ok(imports) => check_imports(imports, &mut findings),
        Err(e) => findings.push(e),
    }
    bootstrap::check(terraform_dir, &mut findings);
    names::check(delivery, &modules, &locals, terraform_dir, &mut findings);
    findings
}

// ---- reading HCL ----

/// Every module folder under `dir` (`terraform/modules`), each read once, by name.
fn load_modules(dir: &Path) -> BTreeMap<String, Result<Body, String>> {
    let Ok(entries) = fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .filter_map(|p| Some((p.file_name()?.to_str()?.to_owned(), load(&p))))
        .collect()
}

/// One module of [`load_modules`], or why it cannot be read.
fn module<'a>(
    modules: &'a BTreeMap<String, Result<Body, String>>,
    name: &str,
) -> Result<&'a Body, String> {
    match modules.get(name) {
        Some(Ok(body)) => Ok(body),
        Some(Err(e)) => Err(e.clone()),
        None => Err(format!("terraform/modules/{name} is missing")),
    }
}

/// Every `.tf` file of a module folder, as one body.
fn load(dir: &Path) -> Result<Body, String> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "tf"))
        .collect();
    files.sort();
    let mut structures = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let body: Body =
            hcl::parse(&text).map_err(|e| format!("{} does not parse: {e}", file.display()))?;
        structures.extend(body);
    }
    Ok(structures.into_iter().collect())
}

/// What a reference in the delivery module can name, by its text: `local.<name>`, and
/// `module.<call>.<output>` for every module it calls from this repository (an instance's
/// `[0]` left out).
fn references(
    modules: &BTreeMap<String, Result<Body, String>>,
    delivery: &Body,
    locals: &BTreeMap<String, Expression>,
) -> BTreeMap<String, Expression> {
    let mut refs: BTreeMap<String, Expression> = locals
        .iter()
        .map(|(k, v)| (format!("local.{k}"), v.clone()))
        .collect();
    for call in delivery.blocks().filter(|b| b.identifier() == "module") {
        let source = attr(call, "source").and_then(string).unwrap_or_default();
        let Some(Ok(module)) = source.strip_prefix("../").and_then(|dir| modules.get(dir)) else {
            continue;
        };
        for output in module.blocks().filter(|b| b.identifier() == "output") {
            if let (Some(name), Some(value)) = (output.labels().first(), attr(output, "value")) {
                let key = format!("module.{}.{}", name_of_call(call), name.as_str());
                refs.insert(key, value.clone());
            }
        }
    }
    refs
}

/// A module call's name: the label of `module "name"`.
fn name_of_call(block: &Block) -> String {
    block
        .labels()
        .first()
        .map(|l| l.as_str().to_owned())
        .unwrap_or_default()
}

fn locals(body: &Body) -> BTreeMap<String, Expression> {
    body.blocks()
        .filter(|b| b.identifier() == "locals")
        .flat_map(|b| b.body().attributes())
        .map(|a| (a.key().to_owned(), a.expr().clone()))
        .collect()
}

/// The blocks `kind "label" { … }` (e.g. `module "function"`, `resource "aws_…"`).
fn blocks<'a>(body: &'a Body, kind: &'a str, label: &'a str) -> impl Iterator<Item = &'a Block> {
    body.blocks().filter(move |b| {
        b.identifier() == kind && b.labels().first().is_some_and(|l| l.as_str() == label)
    })
}

fn attr<'a>(block: &'a Block, name: &str) -> Option<&'a Expression> {
    block
        .body()
        .attributes()
        .find(|a| a.key() == name)
        .map(|a| a.expr())
}

/// An expression as HCL text without whitespace, for comparing references.
fn text(expr: &Expression) -> String {
    hcl::format::to_string(expr)
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

fn string(expr: &Expression) -> Option<String> {
    match expr {
        Expression::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn number(expr: &Expression) -> Option<u64> {
    match expr {
        Expression::Number(n) => n.as_u64(),
        _ => None,
    }
}

fn key_name(key: &ObjectKey) -> String {
    match key {
        ObjectKey::Identifier(id) => id.to_string(),
        ObjectKey::Expression(e) => string(e).unwrap_or_else(|| text(e)),
        _ => String::new(),
    }
}

fn entries(expr: &Expression) -> Vec<(String, &Expression)> {
    match expr {
        Expression::Object(object) => object.iter().map(|(k, v)| (key_name(k), v)).collect(),
        _ => Vec::new(),
    }
}

fn field<'a>(expr: &'a Expression, name: &str) -> Option<&'a Expression> {
    entries(expr)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn strings(expr: &Expression) -> Vec<String> {
    match expr {
        Expression::Array(items) => items.iter().filter_map(string).collect(),
        _ => Vec::new(),
    }
}

/// Three string fields of each object of an array, e.g. a route's method, path and function.
fn triples(expr: &Expression, names: [&str; 3]) -> BTreeSet<(String, String, String)> {
    let items = match expr {
        Expression::Array(items) => items.as_slice(),
        _ => &[],
    };
    items
        .iter()
        .map(|item| {
            let get = |name| field(item, name).and_then(string).unwrap_or_default();
            (get(names[0]), get(names[1]), get(names[2]))
        })
        .collect()
}

/// The keys an environment expression sets: object literals, references (`local.x`, a module's
/// output), `merge(…)` and `{ for k, v in {…} : k => v if … }`, followed to the end. A
/// conditional sets what both of its branches set.
fn env_keys(expr: &Expression, refs: &BTreeMap<String, Expression>) -> BTreeSet<String> {
    match expr {
        Expression::Object(_) => entries(expr).into_iter().map(|(k, _)| k).collect(),
        Expression::Traversal(_) => refs
            .get(&text(expr).replace("[0]", ""))
            .map(|e| env_keys(e, refs))
            .unwrap_or_default(),
        Expression::FuncCall(call) if call.name.name.as_str() == "merge" => {
            call.args.iter().flat_map(|a| env_keys(a, refs)).collect()
        }
        Expression::ForExpr(f) => env_keys(&f.collection_expr, refs),
        Expression::Parenthesis(inner) => env_keys(inner, refs),
        Expression::Conditional(c) => env_keys(&c.true_expr, refs)
            .intersection(&env_keys(&c.false_expr, refs))
            .cloned()
            .collect(),
        _ => BTreeSet::new(),
    }
}

// ---- the checks ----

const DELIVERY: &str = "terraform/modules/delivery";

fn check_functions(
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
fn check_declared_routes(crates: &[FunctionCrate], findings: &mut Vec<String>) {
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

fn check_routes(
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

fn check_queue_triggers(crates: &[FunctionCrate], delivery: &Body, findings: &mut Vec<String>) {
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
fn check_imports(imports: &Body, findings: &mut Vec<String>) {
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

fn check_topic_trigger(crates: &[FunctionCrate], delivery: &Body, findings: &mut Vec<String>) {
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
fn check_token_trigger(
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
fn check_carrier_phones(delivery: &Body, findings: &mut Vec<String>) {
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
fn check_aliases(delivery: &Body, api: &Body, topic: &Body, findings: &mut Vec<String>) {
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

fn check_execution_logs(api: &Body, findings: &mut Vec<String>) {
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
fn check_edge(delivery: &Body, edge: &Body, findings: &mut Vec<String>) {
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

fn check_tables(tables: &Body, findings: &mut Vec<String>) {
    use store_dynamodb::schema::{CARRIERS, IDEMPOTENCY, IMPORTS, ORDERS, PRODUCTS};
    const MODULE: &str = "terraform/modules/tables";
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
                "{MODULE}: table {name} has indexes {indexes:?}, but store_dynamodb::schema defines {expected:?}"
            ));
        }
    }
    for name in declared.keys() {
        if !specs.iter().any(|(known, _)| known == name) {
            findings.push(format!(
                "{MODULE}: local.tables has {name}, which store_dynamodb::schema does not define"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_keys_are_followed_through_locals_merge_and_for() {
        let body: Body = hcl::parse(
            r#"locals {
                 a = { A = "1" }
                 b = merge(local.a, { B = "2" })
                 c = merge(local.b, { for k, v in { C = var.c, D = var.d } : k => v if v != "" })
               }"#,
        )
        .unwrap();
        let refs: BTreeMap<String, Expression> = locals(&body)
            .into_iter()
            .map(|(k, v)| (format!("local.{k}"), v))
            .collect();
        let keys = env_keys(&refs["local.c"], &refs);
        assert_eq!(keys.into_iter().collect::<Vec<_>>(), ["A", "B", "C", "D"]);
    }

    #[test]
    fn a_conditional_environment_sets_what_both_branches_set() {
        let body: Body = hcl::parse(
            r#"locals {
                 c = var.on ? module.identity[0].env : merge({ A = "1" }, { B = "2" })
               }"#,
        )
        .unwrap();
        let mut refs: BTreeMap<String, Expression> = locals(&body)
            .into_iter()
            .map(|(k, v)| (format!("local.{k}"), v))
            .collect();
        let output: Body = hcl::parse(r#"x = { A = "a", C = "c" }"#).unwrap();
        let value = output.attributes().next().unwrap().expr().clone();
        refs.insert("module.identity.env".to_owned(), value);
        let keys = env_keys(&refs["local.c"], &refs);
        assert_eq!(keys.into_iter().collect::<Vec<_>>(), ["A"]);
    }
}
