//! The request validation API Gateway applies before a function runs (a request validator on
//! every method): the body against the operation's model (draft 4), and the required
//! parameters present. `delivery-local` applies this one, compiled from the gateway form of the
//! document, so the two gateways refuse the same requests with the same 400.

use std::collections::HashMap;

use domain::validation::FieldError;
use jsonschema::ValidationError;
use jsonschema::error::ValidationErrorKind;
use jsonschema::{Draft, Validator};
use serde_json::{Value, json};

use crate::gateway_document;
use crate::schemas::pattern_message;

/// Each operation's body validator, by `(METHOD, resource)`.
pub struct RequestValidator {
    bodies: HashMap<(String, String), Validator>,
}

impl RequestValidator {
    /// Compiles every operation's body schema. The document is the crate's own, built and
    /// tested with it, so a schema that does not compile is a bug of this crate.
    pub fn new() -> Result<RequestValidator, String> {
        let document = gateway_document();
        let components = document["components"].clone();
        let mut bodies = HashMap::new();
        for (resource, item) in document["paths"].as_object().into_iter().flatten() {
            for (method, operation) in item.as_object().into_iter().flatten() {
                let Some(schema) =
                    operation.pointer("/requestBody/content/application~1json/schema")
                else {
                    continue;
                };
                let root = json!({"allOf": [schema], "components": components});
                let validator = jsonschema::options()
                    .with_draft(Draft::Draft4)
                    .build(&root)
                    .map_err(|e| format!("{method} {resource}: {e}"))?;
                bodies.insert((method.to_ascii_uppercase(), resource.clone()), validator);
            }
        }
        Ok(RequestValidator { bodies })
    }

    /// Whether the route has a body model.
    pub fn has_body(&self, method: &str, resource: &str) -> bool {
        self.bodies
            .contains_key(&(method.to_owned(), resource.to_owned()))
    }

    /// Every way `body` misses the route's model, each naming its field (`items[0].quantity`);
    /// empty when it fits, or when the route has no body model.
    pub fn body_errors(&self, method: &str, resource: &str, body: &Value) -> Vec<FieldError> {
        let Some(validator) = self.bodies.get(&(method.to_owned(), resource.to_owned())) else {
            return Vec::new();
        };
        let mut errors: Vec<FieldError> = Vec::new();
        for error in validator.iter_errors(body) {
            for e in field_errors(&error) {
                if !errors.contains(&e) {
                    errors.push(e);
                }
            }
        }
        errors
    }
}

/// One validator error as the domain would word it, each naming its field. For a `oneOf` or
/// `anyOf` (a price in cents or in yen), the errors of the branch the body came closest to.
fn field_errors(error: &ValidationError<'_>) -> Vec<FieldError> {
    let at = field(error.instance_path().segments().map(|s| s.to_string()));
    match error.kind() {
        ValidationErrorKind::Required { property } => vec![FieldError::new(
            child(&at, property.as_str().unwrap_or_default()),
            "is required",
        )],
        ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
            .iter()
            .map(|name| FieldError::new(child(&at, name), "is not a known field"))
            .collect(),
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            // A branch refused by its discriminator (the currency's `enum`) is the wrong branch.
            let distance = |branch: &&Vec<ValidationError<'static>>| {
                let wrong = branch
                    .iter()
                    .filter(|e| matches!(e.kind(), ValidationErrorKind::Enum { .. }))
                    .count();
                (wrong, branch.len())
            };
            match context.iter().min_by_key(distance) {
                Some(closest) if !closest.is_empty() => {
                    closest.iter().flat_map(field_errors).collect()
                }
                _ => vec![FieldError::new(
                    name_or_body(&at),
                    message(&error.to_string()),
                )],
            }
        }
        ValidationErrorKind::Pattern { pattern } => vec![FieldError::new(
            name_or_body(&at),
            pattern_message(pattern).unwrap_or("does not have the required form"),
        )],
        _ => vec![FieldError::new(
            name_or_body(&at),
            message(&error.to_string()),
        )],
    }
}

/// A JSON path in the domain's notation: `items[2].quantity`, `price.amount`.
fn field(segments: impl Iterator<Item = String>) -> String {
    let mut path = String::new();
    for segment in segments {
        if segment.bytes().all(|b| b.is_ascii_digit()) && !path.is_empty() {
            path.push_str(&format!("[{segment}]"));
        } else {
            path = child(&path, &segment);
        }
    }
    path
}

fn child(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

fn name_or_body(path: &str) -> String {
    if path.is_empty() {
        "body".to_owned()
    } else {
        path.to_owned()
    }
}

/// The validator's sentence, without the (possibly long) value it quotes first.
fn message(text: &str) -> String {
    const MAX: usize = 200;
    if text.chars().count() <= MAX {
        return text.to_owned();
    }
    let cut: String = text.chars().take(MAX).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(method: &str, resource: &str, body: Value) -> Vec<String> {
        let validator = RequestValidator::new().unwrap();
        validator
            .body_errors(method, resource, &body)
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn every_body_schema_compiles_and_a_good_body_fits() {
        let validator = RequestValidator::new().unwrap();
        for (method, resource) in [
            ("PUT", "/products/{id}"),
            ("PATCH", "/products/{id}"),
            ("POST", "/orders/total"),
            ("POST", "/orders"),
            ("POST", "/simulations"),
        ] {
            assert!(validator.has_body(method, resource), "{method} {resource}");
        }
        let product = json!({"name": "Margherita", "description": "Tomato\nand basil", "price": {"amount": "12.50", "currency": "USD"}, "stock": 5});
        assert_eq!(
            errors("PUT", "/products/{id}", product),
            Vec::<String>::new()
        );
        let yen = json!({"price": {"amount": "1200", "currency": "JPY"}});
        assert_eq!(errors("PATCH", "/products/{id}", yen), Vec::<String>::new());
        let order = json!({"items": [{"product_id": "p1", "quantity": 2}], "delivery": {"address": "1 Main St", "phone": "+15551234567"}});
        assert_eq!(errors("POST", "/orders", order), Vec::<String>::new());
        assert!(!validator.has_body("GET", "/products"));
    }

    #[test]
    fn refusals_name_their_fields_as_the_domain_does() {
        let bad = json!({"items": [{"product_id": "p1", "quantity": 0}, {"product_id": "p 2", "quantity": 1, "x": 1}]});
        assert_eq!(
            errors("POST", "/orders/total", bad),
            ["items[0].quantity", "items[1].product_id", "items[1].x"]
        );
        let missing = json!({"name": "A", "price": {"amount": "12.5", "currency": "USD"}});
        let fields = errors("PUT", "/products/{id}", missing);
        assert!(fields.contains(&"stock".to_owned()), "{fields:?}");
        assert!(fields.contains(&"price.amount".to_owned()), "{fields:?}");
        assert_eq!(errors("PATCH", "/products/{id}", json!({})), ["body"]);
        assert_eq!(errors("POST", "/simulations", json!([])), ["body"]);
    }

    #[test]
    fn a_price_is_refused_in_the_words_of_the_currency_it_names() {
        let validator = RequestValidator::new().unwrap();
        let refuse = |price: Value| {
            validator.body_errors("PATCH", "/products/{id}", &json!({"price": price}))
        };
        let cents = refuse(json!({"amount": "9.999", "currency": "USD"}));
        assert_eq!(cents[0].field, "price.amount");
        assert!(cents[0].message.contains("2 decimal digits"), "{cents:?}");
        let yen = refuse(json!({"amount": "12.00", "currency": "JPY"}));
        assert_eq!(yen[0].field, "price.amount");
        assert!(yen[0].message.contains("whole number"), "{yen:?}");
        let phone = validator.body_errors(
            "POST",
            "/orders",
            &json!({"items": [{"product_id": "p", "quantity": 1}], "delivery": {"address": "a", "phone": "555"}}),
        );
        assert_eq!(phone[0].field, "delivery.phone");
        assert!(phone[0].message.contains("E.164"), "{phone:?}");
    }

    #[test]
    fn text_refuses_control_characters_and_keeps_newlines_where_allowed() {
        let named = |name: &str, description: &str| json!({"name": name, "description": description, "price": {"amount": "1.00", "currency": "EUR"}, "stock": 0});
        assert!(errors("PUT", "/products/{id}", named("A", "two\nlines\tok")).is_empty());
        assert_eq!(errors("PUT", "/products/{id}", named("A\n", "")), ["name"]);
        assert_eq!(
            errors("PUT", "/products/{id}", named("A", "bell\u{7}")),
            ["description"]
        );
    }

    #[test]
    fn prices_are_exact_positive_and_in_the_currency_s_digits() {
        for (amount, currency, ok) in [
            ("12.50", "USD", true),
            ("0.01", "GBP", true),
            ("0.00", "USD", false),
            ("12.5", "USD", false),
            ("012.50", "USD", false),
            ("1200", "JPY", true),
            ("12.00", "JPY", false),
            ("0", "JPY", false),
            ("-1.00", "USD", false),
            ("1.00", "XXX", false),
            ("99999999999999999.00", "USD", false),
        ] {
            let body = json!({"price": {"amount": amount, "currency": currency}});
            assert_eq!(
                errors("PATCH", "/products/{id}", body).is_empty(),
                ok,
                "{amount} {currency}"
            );
        }
    }
}
