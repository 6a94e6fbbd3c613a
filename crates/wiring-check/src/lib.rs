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
//! - the crate that declares `schedule` (`reconciler`) is invoked every 5 minutes by the one
//!   EventBridge Scheduler schedule, on its alias, whose role may invoke that alias only;
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
mod checks;
mod declarations;
mod grants;
mod hcl;
mod names;

use std::path::Path;

use checks::*;
pub use declarations::{EVERY_FUNCTION, FunctionCrate, declared_functions};
pub use grants::{Grant, dynamodb_grants};
use hcl::{locals, module, references};

/// Every disagreement between the Terraform under `terraform_dir` and the declared function
/// crates; empty when the wiring is right.
pub fn check(crates: &[FunctionCrate], terraform_dir: &Path) -> Vec<String> {
    let mut findings = Vec::new();
    if crates.is_empty() {
        return vec!["no function crate is declared".to_owned()];
    }
    let modules = hcl::load_modules(&terraform_dir.join("modules"));
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
    check_schedule_trigger(crates, delivery, &mut findings);
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
