//! Whether an answer is one the document describes: its status documented for the operation,
//! its media type, its body valid against the schema (which forbids undocumented fields), and
//! its required headers present. The tests of `delivery-local` hold every answer to it.

use jsonschema::Draft;
use serde_json::{Value, json};

use crate::document;

/// The document, ready to judge answers.
pub struct Conformance {
    document: Value,
}

impl Default for Conformance {
    fn default() -> Self {
        Conformance {
            document: document(),
        }
    }
}

impl Conformance {
    /// Every way the answer of `method resource` departs from the document; empty if none.
    /// `header` reads a response header by name.
    pub fn departures(
        &self,
        method: &str,
        resource: &str,
        status: u16,
        header: impl Fn(&str) -> Option<String>,
        body: &Value,
    ) -> Vec<String> {
        let operation = &self.document["paths"][resource][method.to_ascii_lowercase()];
        let Some(response) = self.resolve(&operation["responses"][status.to_string()]) else {
            return vec![format!("{method} {resource} does not document a {status}")];
        };
        let mut departures = Vec::new();
        let content = response["content"].as_object().cloned().unwrap_or_default();
        let Some((media_type, media)) = content.iter().next() else {
            return departures;
        };
        let content_type = header("content-type").unwrap_or_default();
        if !content_type.starts_with(media_type.as_str()) {
            departures.push(format!(
                "{status}: Content-Type {content_type}, documented {media_type}"
            ));
        }
        departures.extend(self.schema_departures(&media["schema"], body, status));
        for (name, spec) in response["headers"].as_object().into_iter().flatten() {
            let required = self.resolve(spec).is_some_and(|h| h["required"] == true);
            if required && header(&name.to_ascii_lowercase()).is_none() {
                departures.push(format!("{status}: required header {name} is missing"));
            }
        }
        departures
    }

    fn schema_departures(&self, schema: &Value, body: &Value, status: u16) -> Vec<String> {
        let root = json!({"allOf": [schema], "components": self.document["components"]});
        match jsonschema::options()
            .with_draft(Draft::Draft202012)
            .build(&root)
        {
            Ok(validator) => validator
                .iter_errors(body)
                .map(|e| format!("{status}: {} at '{}'", e, e.instance_path().as_str()))
                .collect(),
            Err(e) => vec![format!("the document's schema does not compile: {e}")],
        }
    }

    /// A response or header object, following one `$ref` into the components.
    fn resolve<'a>(&'a self, value: &'a Value) -> Option<&'a Value> {
        match value["$ref"].as_str() {
            Some(reference) => self.document.pointer(reference.strip_prefix('#')?),
            None if value.is_object() => Some(value),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product() -> Value {
        json!({"id": "p1", "company_id": "acme", "name": "Margherita", "description": "",
               "price": {"amount": "12.50", "currency": "USD"}, "stock": 3, "available": true,
               "stock_shards": 1, "version": 2, "updated_at": "2026-11-22T10:00:00Z"})
    }

    fn departures(status: u16, body: &Value, etag: Option<&str>) -> Vec<String> {
        let header = |name: &str| match name {
            "content-type" => Some("application/json".to_owned()),
            "etag" => etag.map(str::to_owned),
            _ => None,
        };
        Conformance::default().departures("GET", "/products/{id}", status, header, body)
    }

    #[test]
    fn a_documented_answer_conforms() {
        assert_eq!(
            departures(200, &product(), Some("\"2\"")),
            Vec::<String>::new()
        );
    }

    #[test]
    fn an_undocumented_field_status_or_missing_header_departs() {
        let mut extra = product();
        extra["internal_cost"] = json!("3.10");
        assert!(!departures(200, &extra, Some("\"2\"")).is_empty());
        assert!(
            !departures(200, &product(), None).is_empty(),
            "ETag is required"
        );
        assert!(!departures(418, &product(), Some("\"2\"")).is_empty());
        let problem = json!({"type": "/problems/not-found", "title": "Not found", "status": 404, "detail": "No product p9"});
        let header =
            |name: &str| (name == "content-type").then(|| "application/problem+json".to_owned());
        let conformance = Conformance::default();
        assert!(
            conformance
                .departures("GET", "/products/{id}", 404, header, &problem)
                .is_empty()
        );
    }
}
