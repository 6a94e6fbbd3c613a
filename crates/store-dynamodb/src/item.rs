//! Attribute-map helpers; SDK errors are classified by the shared `aws-errors` crate.

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use domain::PortError;

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) use aws_errors::{classify, is_conditional_failure};

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Reads typed attributes from a stored item; a missing or mistyped attribute is a permanent
/// error naming it (the data is corrupt, retrying will not help).
pub(crate) struct Reader<'a> {
    pub item: &'a Item,
    pub what: &'static str,
}

impl<'a> Reader<'a> {
    pub fn corrupt(&self, attribute: &str) -> PortError {
        PortError::Permanent(format!(
            "stored {} has a missing or invalid `{attribute}`",
            self.what
        ))
    }

    pub fn opt_s(&self, attribute: &str) -> Option<&'a str> {
        self.item
            .get(attribute)
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
    }

    pub fn s(&self, attribute: &str) -> Result<&'a str, PortError> {
        self.opt_s(attribute).ok_or_else(|| self.corrupt(attribute))
    }

    pub fn opt_n<T: FromStr>(&self, attribute: &str) -> Result<Option<T>, PortError> {
        match self.item.get(attribute) {
            None => Ok(None),
            Some(v) => v
                .as_n()
                .ok()
                .and_then(|n| n.parse().ok())
                .map(Some)
                .ok_or_else(|| self.corrupt(attribute)),
        }
    }

    pub fn n<T: FromStr>(&self, attribute: &str) -> Result<T, PortError> {
        self.opt_n(attribute)?
            .ok_or_else(|| self.corrupt(attribute))
    }

    pub fn bool(&self, attribute: &str) -> Result<bool, PortError> {
        self.item
            .get(attribute)
            .and_then(|v| v.as_bool().ok())
            .copied()
            .ok_or_else(|| self.corrupt(attribute))
    }

    /// Parses a string attribute with `parse`.
    pub fn parse<T, E>(
        &self,
        attribute: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, PortError> {
        parse(self.s(attribute)?).map_err(|_| self.corrupt(attribute))
    }

    pub fn time(&self, attribute: &str) -> Result<DateTime<Utc>, PortError> {
        self.parse(attribute, DateTime::parse_from_rfc3339)
            .map(|t| t.to_utc())
    }

    pub fn opt_time(&self, attribute: &str) -> Result<Option<DateTime<Utc>>, PortError> {
        match self.item.get(attribute) {
            None => Ok(None),
            Some(_) => self.time(attribute).map(Some),
        }
    }
}
