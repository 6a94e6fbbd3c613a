//! Opaque pagination cursors: base64url (no padding) of a small JSON document holding the
//! listing it belongs to and DynamoDB's `LastEvaluatedKey` (string attributes only). Decoding
//! checks the listing and the exact key attributes, so a forged or foreign cursor is
//! [`PortError::InvalidCursor`], never a DynamoDB validation error.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::PortError;
use domain::ports::{Cursor, Page};
use serde::{Deserialize, Serialize};

use crate::item::Item;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    /// The listing, e.g. `products`, `products@acme`, `orders@alice`.
    l: String,
    /// The last evaluated key.
    k: BTreeMap<String, String>,
}

const MAX_VALUE_LEN: usize = 1024;

/// A page of a Query's or Scan's `items`, each read by `read`, its cursor from the last
/// evaluated key (none on the last page).
pub(crate) fn page<T>(
    items: &[Item],
    last_key: Option<&Item>,
    listing: &str,
    read: impl Fn(&Item) -> Result<T, PortError>,
) -> Result<Page<T>, PortError> {
    Ok(Page {
        items: items.iter().map(read).collect::<Result<_, _>>()?,
        next_cursor: last_key.map(|k| encode(listing, k)).transpose()?,
    })
}

pub(crate) fn encode(listing: &str, key: &Item) -> Result<Cursor, PortError> {
    let k = key
        .iter()
        .map(|(name, value)| match value {
            AttributeValue::S(s) => Ok((name.clone(), s.clone())),
            _ => Err(PortError::Permanent(format!(
                "key attribute {name} is not a string"
            ))),
        })
        .collect::<Result<_, _>>()?;
    let doc = Doc {
        l: listing.to_owned(),
        k,
    };
    let json = serde_json::to_vec(&doc).map_err(|e| PortError::Permanent(e.to_string()))?;
    Ok(Cursor(URL_SAFE_NO_PAD.encode(json)))
}

/// Decodes a cursor of `listing` whose key has exactly the attributes `expected`; where an
/// expected attribute has a value, the cursor's must equal it.
pub(crate) fn decode(
    cursor: &Cursor,
    listing: &str,
    expected: &[(&str, Option<&str>)],
) -> Result<Item, PortError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(&cursor.0)
        .map_err(|_| PortError::InvalidCursor)?;
    let doc: Doc = serde_json::from_slice(&bytes).map_err(|_| PortError::InvalidCursor)?;
    let valid = doc.l == listing
        && doc.k.len() == expected.len()
        && expected.iter().all(|(name, want)| match doc.k.get(*name) {
            Some(v) => !v.is_empty() && v.len() <= MAX_VALUE_LEN && want.is_none_or(|w| w == v),
            None => false,
        });
    if !valid {
        return Err(PortError::InvalidCursor);
    }
    Ok(doc
        .k
        .into_iter()
        .map(|(k, v)| (k, AttributeValue::S(v)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Item {
        Item::from([("id".to_owned(), AttributeValue::S("p1".into()))])
    }

    #[test]
    fn round_trips_within_its_listing() {
        let c = encode("products", &key()).unwrap();
        assert!(
            c.0.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(decode(&c, "products", &[("id", None)]).unwrap(), key());
    }

    #[test]
    fn refuses_forged_and_foreign_cursors() {
        let c = encode("orders@alice", &key()).unwrap();
        assert_eq!(
            decode(&c, "orders@bob", &[("id", None)]),
            Err(PortError::InvalidCursor)
        );
        assert_eq!(
            decode(&c, "orders@alice", &[("id", None), ("x", None)]),
            Err(PortError::InvalidCursor)
        );
        assert_eq!(
            decode(&c, "orders@alice", &[("id", Some("p2"))]),
            Err(PortError::InvalidCursor)
        );
        for forged in ["", "AAAA", "e30", "bm90IGpzb24"] {
            assert_eq!(
                decode(&Cursor(forged.into()), "products", &[("id", None)]),
                Err(PortError::InvalidCursor)
            );
        }
    }
}
