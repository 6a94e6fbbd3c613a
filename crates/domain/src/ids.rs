//! Identifiers and small validated values. Each is parsed once at the edge and trusted after.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// Why an identifier was refused; the message is what a client reads in `errors[].message`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidId(pub &'static str);

fn is_slug(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $check:expr, $message:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> Result<$name, InvalidId> {
                let check: fn(&str) -> bool = $check;
                if check(s) {
                    Ok($name(s.to_owned()))
                } else {
                    Err(InvalidId($message))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                $name::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_id!(
    /// A product id: 1–64 of `[A-Za-z0-9_-]`.
    ProductId,
    |s| is_slug(s, 64),
    "must be 1 to 64 characters of A-Z, a-z, 0-9, '_' or '-'"
);

string_id!(
    /// A company id, from the company user's token: 1–64 of `[A-Za-z0-9_-]`.
    CompanyId,
    |s| is_slug(s, 64),
    "must be 1 to 64 characters of A-Z, a-z, 0-9, '_' or '-'"
);

string_id!(
    /// A carrier id: 1–64 of `[A-Za-z0-9_-]`.
    CarrierId,
    |s| is_slug(s, 64),
    "must be 1 to 64 characters of A-Z, a-z, 0-9, '_' or '-'"
);

string_id!(
    /// A customer: the token's `sub`, 1–128 visible ASCII characters.
    CustomerId,
    |s| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()),
    "must be 1 to 128 visible ASCII characters"
);

string_id!(
    /// The `Idempotency-Key` header: 1–128 visible ASCII characters.
    IdempotencyKey,
    |s| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()),
    "must be 1 to 128 visible ASCII characters"
);

/// The carrier-phone rule as a regular expression, for the places that validate phones without
/// this crate (Terraform's `carriers` variable; the wiring check keeps it equal to this).
/// [`Phone::parse`] applies exactly this rule.
pub const PHONE_PATTERN: &str = r"^\+[1-9][0-9]{7,14}$";

string_id!(
    /// A phone number in E.164: `+`, then 8 to 15 digits, the first not 0 ([`PHONE_PATTERN`]).
    Phone,
    |s| {
        let digits = s.strip_prefix('+').unwrap_or("");
        (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    },
    "must be an E.164 phone number such as +15551234567"
);

/// An order id: a UUID. Deterministic from the customer and the `Idempotency-Key` when one is
/// given (so a retried request names the same order), random otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrderId(Uuid);

/// Namespace of the v5 UUIDs derived from (customer, idempotency key).
const ORDER_NAMESPACE: Uuid = Uuid::from_u128(0x5b1f_0c8e_2d4a_4e57_9a3c_6f0e_8d21_b7c4);

impl OrderId {
    pub fn for_request(customer: &CustomerId, key: Option<&IdempotencyKey>) -> OrderId {
        match key {
            // The NUL separator cannot occur in either part, so distinct pairs never collide.
            Some(key) => {
                let name = format!("{}\0{}", customer.as_str(), key.as_str());
                OrderId(Uuid::new_v5(&ORDER_NAMESPACE, name.as_bytes()))
            }
            None => OrderId(Uuid::new_v4()),
        }
    }

    pub fn parse(s: &str) -> Result<OrderId, InvalidId> {
        // Only the canonical hyphenated lower-case form, so one order has one spelling.
        match Uuid::try_parse(s) {
            Ok(u) if u.hyphenated().to_string() == s => Ok(OrderId(u)),
            _ => Err(InvalidId("must be an order id (a lower-case UUID)")),
        }
    }

    pub fn as_u128(self) -> u128 {
        self.0.as_u128()
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.hyphenated())
    }
}

impl Serialize for OrderId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for OrderId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        OrderId::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_ids_follow_the_spec() {
        assert!(ProductId::parse("pizza-margherita_2").is_ok());
        assert!(ProductId::parse(&"a".repeat(64)).is_ok());
        for bad in ["", "a b", "é", "a/b", &"a".repeat(65)] {
            assert!(ProductId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn phones_are_e164() {
        assert!(Phone::parse("+15551234567").is_ok());
        for bad in [
            "15551234567",
            "+0555123456",
            "+1555",
            "+1555123456789012",
            "+1 555 123",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn order_ids_are_deterministic_per_customer_and_key() {
        let alice = CustomerId::parse("alice").unwrap();
        let bob = CustomerId::parse("bob").unwrap();
        let key = IdempotencyKey::parse("k-1").unwrap();
        let a1 = OrderId::for_request(&alice, Some(&key));
        assert_eq!(a1, OrderId::for_request(&alice, Some(&key)));
        assert_ne!(a1, OrderId::for_request(&bob, Some(&key)));
        assert_ne!(
            OrderId::for_request(&alice, None),
            OrderId::for_request(&alice, None)
        );
        assert_eq!(OrderId::parse(&a1.to_string()), Ok(a1));
        assert!(OrderId::parse(&a1.to_string().to_uppercase()).is_err());
        assert!(OrderId::parse("total").is_err());
    }
}
