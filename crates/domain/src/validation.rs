//! Field-level validation of JSON bodies: every error of a body at once, each naming its field
//! with a JSON path such as `items[2].quantity` or `price.amount`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::money::{Money, MoneyError};

/// One problem with one field of a request, as it appears in problem+json `errors`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Collects field errors while a body is validated.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value())` when no error was recorded; the value closure may then unwrap freely
    /// the `Option`s the accessors returned, since each `None` recorded an error.
    pub fn finish<T>(self, value: impl FnOnce() -> Option<T>) -> Result<T, Vec<FieldError>> {
        if !self.0.is_empty() {
            return Err(self.0);
        }
        value().ok_or_else(|| vec![FieldError::new("body", "is invalid")])
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }
}

/// Whether an absent field is an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    Required,
    Optional,
}

/// A JSON object under validation, at `path` within the body.
pub struct JsonObject<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> JsonObject<'a> {
    /// The request body itself; it must be a JSON object.
    pub fn root(value: &'a Value, errors: &mut FieldErrors) -> Option<JsonObject<'a>> {
        JsonObject::at(value, "", errors)
    }

    /// A nested value that must be an object; `path` names it in errors.
    pub fn at(value: &'a Value, path: &str, errors: &mut FieldErrors) -> Option<JsonObject<'a>> {
        match value {
            Value::Object(map) => Some(JsonObject {
                map,
                path: path.to_owned(),
            }),
            _ => {
                let field = if path.is_empty() { "body" } else { path };
                errors.add(field, "must be a JSON object");
                None
            }
        }
    }

    /// The path of `key` inside this object, e.g. `delivery.phone`.
    pub fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// Refuses fields this object does not define, so a typo is never silently ignored.
    pub fn deny_unknown(&self, allowed: &[&str], errors: &mut FieldErrors) {
        for key in self.map.keys() {
            if !allowed.contains(&key.as_str()) {
                errors.add(self.path_of(key), "is not a known field");
            }
        }
    }

    fn value(&self, key: &str, need: Presence, errors: &mut FieldErrors) -> Option<&'a Value> {
        let value = self.map.get(key);
        if value.is_none() && need == Presence::Required {
            errors.add(self.path_of(key), "is required");
        }
        value
    }

    pub fn string(&self, key: &str, need: Presence, errors: &mut FieldErrors) -> Option<&'a str> {
        match self.value(key, need, errors)? {
            Value::String(s) => Some(s),
            _ => {
                errors.add(self.path_of(key), "must be a string");
                None
            }
        }
    }

    /// A string of `min..=max` characters without control characters (newlines and tabs allowed
    /// only when `multiline`).
    pub fn text(
        &self,
        key: &str,
        need: Presence,
        (min, max): (usize, usize),
        multiline: bool,
        errors: &mut FieldErrors,
    ) -> Option<String> {
        let s = self.string(key, need, errors)?;
        let len = s.chars().count();
        let bad_char = s
            .chars()
            .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t')));
        let message = if len < min || len > max {
            Some(format!("must be {min} to {max} characters long"))
        } else if bad_char {
            Some("must not contain control characters".to_owned())
        } else {
            None
        };
        match message {
            Some(m) => {
                errors.add(self.path_of(key), m);
                None
            }
            None => Some(s.to_owned()),
        }
    }

    /// An integer in `min..=max`; floats such as `2.0` or `1e3` are refused.
    pub fn integer(
        &self,
        key: &str,
        need: Presence,
        (min, max): (i64, i64),
        errors: &mut FieldErrors,
    ) -> Option<i64> {
        let value = self.value(key, need, errors)?;
        match value.as_i64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            Some(_) => {
                errors.add(
                    self.path_of(key),
                    format!("must be between {min} and {max}"),
                );
                None
            }
            None if value.is_u64() => {
                errors.add(
                    self.path_of(key),
                    format!("must be between {min} and {max}"),
                );
                None
            }
            None => {
                errors.add(self.path_of(key), "must be an integer");
                None
            }
        }
    }

    pub fn boolean(&self, key: &str, need: Presence, errors: &mut FieldErrors) -> Option<bool> {
        match self.value(key, need, errors)? {
            Value::Bool(b) => Some(*b),
            _ => {
                errors.add(self.path_of(key), "must be true or false");
                None
            }
        }
    }

    pub fn array(
        &self,
        key: &str,
        need: Presence,
        errors: &mut FieldErrors,
    ) -> Option<&'a [Value]> {
        match self.value(key, need, errors)? {
            Value::Array(items) => Some(items),
            _ => {
                errors.add(self.path_of(key), "must be an array");
                None
            }
        }
    }

    pub fn object(
        &self,
        key: &str,
        need: Presence,
        errors: &mut FieldErrors,
    ) -> Option<JsonObject<'a>> {
        let value = self.value(key, need, errors)?;
        JsonObject::at(value, &self.path_of(key), errors)
    }

    /// A price in the wire form `{"amount": "12.50", "currency": "USD"}`, strictly positive.
    pub fn price(&self, key: &str, need: Presence, errors: &mut FieldErrors) -> Option<Money> {
        let money = self.object(key, need, errors)?;
        money.deny_unknown(&["amount", "currency"], errors);
        let amount = money.string("amount", Presence::Required, errors);
        let currency = money.string("currency", Presence::Required, errors);
        let (amount, currency) = (amount?, currency?);
        match Money::parse_price(amount, currency) {
            Ok(m) => Some(m),
            Err(MoneyError::UnknownCurrency) => {
                errors.add(
                    money.path_of("currency"),
                    MoneyError::UnknownCurrency.to_string(),
                );
                None
            }
            Err(e) => {
                errors.add(money.path_of("amount"), e.to_string());
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text_of(
        value: Value,
        (min, max): (usize, usize),
        multiline: bool,
    ) -> Result<String, String> {
        let body = json!({ "t": value });
        let mut errors = FieldErrors::default();
        let obj = JsonObject::root(&body, &mut errors).unwrap();
        let got = obj.text("t", Presence::Required, (min, max), multiline, &mut errors);
        assert_eq!(got.is_none(), !errors.is_empty());
        got.ok_or_else(|| errors.into_vec()[0].message.clone())
    }

    #[test]
    fn text_lengths_count_characters_at_and_around_the_limits() {
        assert_eq!(text_of(json!("ééé"), (1, 3), false).unwrap(), "ééé");
        assert!(text_of(json!("éééé"), (1, 3), false).is_err());
        assert!(text_of(json!(""), (1, 3), false).is_err());
        assert_eq!(text_of(json!("é"), (1, 3), false).unwrap(), "é");
    }

    #[test]
    fn control_characters_only_newlines_and_tabs_in_multiline_text() {
        for single in ["a\nb", "a\tb", "a\rb", "a\u{7}b"] {
            assert_eq!(
                text_of(json!(single), (1, 10), false).unwrap_err(),
                "must not contain control characters",
                "{single:?}"
            );
        }
        assert!(text_of(json!("a\nb\tc"), (1, 10), true).is_ok());
        for multi in ["a\rb", "a\u{7}b"] {
            assert!(text_of(json!(multi), (1, 10), true).is_err(), "{multi:?}");
        }
    }

    #[test]
    fn an_integer_past_i64_is_out_of_range_not_a_non_integer() {
        let message = |value: Value| {
            let body = json!({ "n": value });
            let mut errors = FieldErrors::default();
            let obj = JsonObject::root(&body, &mut errors).unwrap();
            assert!(
                obj.integer("n", Presence::Required, (0, 10), &mut errors)
                    .is_none()
            );
            errors.into_vec()[0].message.clone()
        };
        assert_eq!(message(json!(u64::MAX)), "must be between 0 and 10");
        assert_eq!(message(json!(11)), "must be between 0 and 10");
        assert_eq!(message(json!(2.5)), "must be an integer");
        assert_eq!(message(json!("3")), "must be an integer");
    }

    #[test]
    fn reports_every_error_with_its_path() {
        let body = json!({"name": 3, "price": {"amount": "1.5", "currency": "USD"}, "extra": 1});
        let mut errors = FieldErrors::default();
        let obj = JsonObject::root(&body, &mut errors).unwrap();
        obj.deny_unknown(&["name", "price", "stock"], &mut errors);
        obj.string("name", Presence::Required, &mut errors);
        obj.price("price", Presence::Required, &mut errors);
        obj.integer("stock", Presence::Required, (0, 10), &mut errors);
        let fields: Vec<_> = errors.into_vec().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["extra", "name", "price.amount", "stock"]);
    }

    #[test]
    fn integers_are_strict() {
        let body = json!({"a": 2.0, "b": 11, "c": 18446744073709551615u64, "d": "1"});
        let mut errors = FieldErrors::default();
        let obj = JsonObject::root(&body, &mut errors).unwrap();
        for key in ["a", "b", "c", "d"] {
            assert_eq!(
                obj.integer(key, Presence::Required, (0, 10), &mut errors),
                None
            );
        }
        assert_eq!(errors.into_vec().len(), 4);
    }

    #[test]
    fn non_object_body_is_named_body() {
        let mut errors = FieldErrors::default();
        assert!(JsonObject::root(&json!([1]), &mut errors).is_none());
        assert_eq!(errors.into_vec()[0].field, "body");
    }
}
