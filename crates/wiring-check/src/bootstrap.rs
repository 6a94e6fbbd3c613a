//! The deploy roles against the modules: every resource type the modules manage must be in
//! `terraform/bootstrap`'s `local.managed_resource_types` (by the IAM service that manages it),
//! no type may linger there that no module uses, and every service named there must have a
//! statement in the roles' policies (`local.named`, `local.tagged`, or IAM's own). A new
//! resource type in a module is caught here, not by the first apply that AWS refuses.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use hcl::Body;
use hcl::expr::Expression;

const SERVICES: &str = "terraform/bootstrap/services.tf";

/// Services whose statements the policies write out by hand rather than from the two tables.
const HAND_WRITTEN: &[&str] = &["iam"];

pub fn check(terraform_dir: &Path, findings: &mut Vec<String>) {
    let mut used = BTreeSet::new();
    if let Err(e) = resource_types(&terraform_dir.join("modules"), &mut used) {
        findings.push(e);
        return;
    }
    let services = match read(&terraform_dir.join("bootstrap/services.tf")) {
        Ok(body) => body,
        Err(e) => {
            findings.push(e);
            return;
        }
    };
    let locals = locals(&services);
    let declared: BTreeMap<String, String> = match locals.get("managed_resource_types") {
        Some(Expression::Object(map)) => map
            .iter()
            .map(|(k, v)| {
                (
                    crate::hcl::key_name(k),
                    crate::hcl::string(v).unwrap_or_default(),
                )
            })
            .collect(),
        _ => {
            findings.push(format!(
                "{SERVICES} has no local.managed_resource_types map"
            ));
            return;
        }
    };
    for missing in used.iter().filter(|t| !declared.contains_key(*t)) {
        findings.push(format!(
            "the modules manage {missing}, which {SERVICES} does not list: add it with its IAM service, so the deploy roles may manage it"
        ));
    }
    for stale in declared.keys().filter(|t| !used.contains(*t)) {
        findings.push(format!(
            "{SERVICES} lists {stale}, which no module manages: remove it (the deploy roles hold no more than the modules need)"
        ));
    }
    let covered = covered_services(&locals);
    for service in declared.values().collect::<BTreeSet<_>>() {
        if !covered.contains(service.as_str()) && !HAND_WRITTEN.contains(&service.as_str()) {
            findings.push(format!(
                "the service {service} has no statement in the deploy roles' policies: add it to local.named (by name) or local.tagged (by tag) in {SERVICES}"
            ));
        }
    }
}

/// The services `local.named` (an environment's object) and `local.tagged` give statements.
fn covered_services(locals: &BTreeMap<String, Expression>) -> BTreeSet<String> {
    let mut covered = BTreeSet::new();
    // `{ for env, e in var.environments : env => { dynamodb = [...], … } }`: the inner keys.
    if let Some(Expression::ForExpr(named)) = locals.get("named")
        && let Expression::Object(services) = &named.value_expr
    {
        covered.extend(services.keys().map(crate::hcl::key_name));
    }
    if let Some(tagged) = locals.get("tagged") {
        covered.extend(crate::hcl::strings(tagged));
    }
    covered
}

fn locals(body: &Body) -> BTreeMap<String, Expression> {
    crate::hcl::locals(body)
}

fn read(file: &Path) -> Result<Body, String> {
    let text = fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    hcl::parse(&text).map_err(|e| format!("{} does not parse: {e}", file.display()))
}

/// Every `aws_*` resource type of every `.tf` file under `dir`, recursively.
fn resource_types(dir: &Path, types: &mut BTreeSet<String>) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for path in entries.filter_map(Result::ok).map(|e| e.path()) {
        if path.is_dir() {
            resource_types(&path, types)?;
        } else if path.extension().is_some_and(|x| x == "tf") {
            for block in read(&path)?
                .blocks()
                .filter(|b| b.identifier() == "resource")
            {
                if let Some(kind) = block.labels().first() {
                    types.insert(kind.as_str().to_owned());
                }
            }
        }
    }
    Ok(())
}
