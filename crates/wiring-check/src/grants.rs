//! The DynamoDB grants of each function's role, as the delivery module's statements give
//! them: `delivery-local` records the calls each function makes (`faults::calls`), and its
//! test holds them to these, so that a code path the role does not allow fails here rather
//! than with `AccessDeniedException` in AWS.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use hcl::Expression;

use crate::hcl::{entries, field, load_modules, locals, module, strings, text};

/// One grant: `dynamodb:<Action>` on a table, by its key in the tables module (`products`),
/// or on one of its indexes (`products/index/by_company`).
pub type Grant = (String, String);

/// Every function's DynamoDB grants (its `Allow` statements' `dynamodb:` actions, times their
/// table and index resources).
pub fn dynamodb_grants(terraform_dir: &Path) -> Result<BTreeMap<String, BTreeSet<Grant>>, String> {
    let modules = load_modules(&terraform_dir.join("modules"));
    let delivery = module(&modules, "delivery")?;
    let locals = locals(delivery);
    let functions = locals
        .get("functions")
        .ok_or("the delivery module has no local.functions")?;
    Ok(entries(functions)
        .into_iter()
        .map(|(name, function)| (name, function_grants(function, &locals)))
        .collect())
}

fn function_grants(
    function: &Expression,
    locals: &BTreeMap<String, Expression>,
) -> BTreeSet<Grant> {
    let statements = match field(function, "statements") {
        Some(Expression::Array(items)) => items.as_slice(),
        _ => &[],
    };
    let mut grants = BTreeSet::new();
    for statement in statements {
        let effect = field(statement, "effect").map(text);
        if effect.is_some_and(|e| e != "\"Allow\"") {
            continue;
        }
        let actions = field(statement, "actions").map(strings).unwrap_or_default();
        let resources = match field(statement, "resources") {
            Some(Expression::Array(items)) => items.as_slice(),
            _ => &[],
        };
        let tables: Vec<String> = resources
            .iter()
            .filter_map(|r| table_of(&text(r), locals))
            .collect();
        for action in actions.iter().filter(|a| a.starts_with("dynamodb:")) {
            grants.extend(tables.iter().map(|t| (action.clone(), t.clone())));
        }
    }
    grants
}

/// The table (or index) a resource names: `local.x` followed to `module.tables.arns["t"]`,
/// with an `/index/i` suffix kept. `None` for anything that is not a table.
fn table_of(resource: &str, locals: &BTreeMap<String, Expression>) -> Option<String> {
    let mut resolved = resource.to_owned();
    for _ in 0..4 {
        let mut next = resolved.clone();
        for (name, value) in locals {
            next = next.replace(&format!("local.{name}"), &text(value));
        }
        if next == resolved {
            break;
        }
        resolved = next;
    }
    let start = resolved.find("arns[\"")? + "arns[\"".len();
    let table = &resolved[start..start + resolved[start..].find('"')?];
    Some(match resolved.split_once("/index/") {
        Some((_, index)) => format!("{table}/index/{}", index.trim_end_matches('"')),
        None => table.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_is_followed_through_locals_to_its_table_or_index() {
        let locals: BTreeMap<String, Expression> = hcl::parse(
            r#"
            products_table = module.tables.arns["products"]
            alias = local.products_table
            "#,
        )
        .unwrap()
        .attributes()
        .map(|a| (a.key().to_owned(), a.expr().clone()))
        .collect();
        assert_eq!(
            table_of("local.alias", &locals).as_deref(),
            Some("products")
        );
        assert_eq!(
            table_of("\"${local.products_table}/index/by_company\"", &locals).as_deref(),
            Some("products/index/by_company")
        );
        assert_eq!(table_of("module.orders_queue.arn", &locals), None);
    }

    #[test]
    fn the_repository_s_roles_read_as_grants() {
        let terraform = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../terraform");
        let grants = dynamodb_grants(&terraform).unwrap();
        let get = |f: &str, action: &str, table: &str| {
            grants[f].contains(&(format!("dynamodb:{action}"), table.to_owned()))
        };
        assert!(get("list-products", "Query", "products/index/by_company"));
        assert!(get("place-order", "UpdateItem", "idempotency"));
        assert!(!get("notify-carrier", "PutItem", "orders"));
        assert!(grants["authorizer"].is_empty());
    }
}
