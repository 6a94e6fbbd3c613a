//! Reading HCL: the modules' bodies, their locals and references, and the few shapes of
//! expression the checks look into.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use hcl::expr::{Expression, ObjectKey};
use hcl::{Block, Body};

/// Every module folder under `dir` (`terraform/modules`), each read once, by name.
pub(crate) fn load_modules(dir: &Path) -> BTreeMap<String, Result<Body, String>> {
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
pub(crate) fn module<'a>(
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
pub(crate) fn load(dir: &Path) -> Result<Body, String> {
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
pub(crate) fn references(
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
pub(crate) fn name_of_call(block: &Block) -> String {
    block
        .labels()
        .first()
        .map(|l| l.as_str().to_owned())
        .unwrap_or_default()
}

pub(crate) fn locals(body: &Body) -> BTreeMap<String, Expression> {
    body.blocks()
        .filter(|b| b.identifier() == "locals")
        .flat_map(|b| b.body().attributes())
        .map(|a| (a.key().to_owned(), a.expr().clone()))
        .collect()
}

/// The blocks `kind "label" { … }` (e.g. `module "function"`, `resource "aws_…"`).
pub(crate) fn blocks<'a>(
    body: &'a Body,
    kind: &'a str,
    label: &'a str,
) -> impl Iterator<Item = &'a Block> {
    body.blocks().filter(move |b| {
        b.identifier() == kind && b.labels().first().is_some_and(|l| l.as_str() == label)
    })
}

pub(crate) fn attr<'a>(block: &'a Block, name: &str) -> Option<&'a Expression> {
    block
        .body()
        .attributes()
        .find(|a| a.key() == name)
        .map(|a| a.expr())
}

/// An expression as HCL text without whitespace, for comparing references.
pub(crate) fn text(expr: &Expression) -> String {
    hcl::format::to_string(expr)
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

pub(crate) fn string(expr: &Expression) -> Option<String> {
    match expr {
        Expression::String(s) => Some(s.clone()),
        _ => None,
    }
}

pub(crate) fn number(expr: &Expression) -> Option<u64> {
    match expr {
        Expression::Number(n) => n.as_u64(),
        _ => None,
    }
}

pub(crate) fn key_name(key: &ObjectKey) -> String {
    match key {
        ObjectKey::Identifier(id) => id.to_string(),
        ObjectKey::Expression(e) => string(e).unwrap_or_else(|| text(e)),
        _ => String::new(),
    }
}

pub(crate) fn entries(expr: &Expression) -> Vec<(String, &Expression)> {
    match expr {
        Expression::Object(object) => object.iter().map(|(k, v)| (key_name(k), v)).collect(),
        _ => Vec::new(),
    }
}

pub(crate) fn field<'a>(expr: &'a Expression, name: &str) -> Option<&'a Expression> {
    entries(expr)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

pub(crate) fn strings(expr: &Expression) -> Vec<String> {
    match expr {
        Expression::Array(items) => items.iter().filter_map(string).collect(),
        _ => Vec::new(),
    }
}

/// Three string fields of each object of an array, e.g. a route's method, path and function.
pub(crate) fn triples(expr: &Expression, names: [&str; 3]) -> BTreeSet<(String, String, String)> {
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
pub(crate) fn env_keys(expr: &Expression, refs: &BTreeMap<String, Expression>) -> BTreeSet<String> {
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
