//! The `KeyUses` port over the idempotency table: one item per key's order, written once
//! (conditional put) and kept a day (DynamoDB's TTL on `expires_at`, in epoch seconds).

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use chrono::Utc;
use domain::ports::{KeyUse, KeyUses, Remembered};
use domain::rate::OrderWindow;
use domain::{CustomerId, OrderId, PortError};

use crate::item::{Item, Reader, classify, is_conditional_failure, n, s};

/// How long a key's first use is remembered.
const KEPT_SECONDS: i64 = 24 * 3600;

/// The idempotency table (`IDEMPOTENCY_TABLE`).
#[derive(Clone, Debug)]
pub struct KeyUseTable {
    client: Client,
    table: String,
}

impl KeyUseTable {
    pub fn new(client: Client, table: String) -> KeyUseTable {
        KeyUseTable { client, table }
    }

    async fn earlier(&self, order_id: OrderId) -> Result<Option<KeyUse>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", s(order_id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let r = Reader {
            item: &item,
            what: "key use",
        };
        // A use past its day that TTL has not deleted yet is gone all the same.
        if r.n::<i64>("expires_at")? < Utc::now().timestamp() {
            return Ok(None);
        }
        Ok(Some(KeyUse {
            order_id,
            fingerprint: r.s("fingerprint")?.to_owned(),
            answer: serde_json::from_str(r.s("answer")?)
                .map_err(|e| PortError::Permanent(format!("a stored answer: {e}")))?,
            message: r.opt_s("message").map(str::to_owned),
        }))
    }
}

#[async_trait]
impl KeyUses for KeyUseTable {
    async fn remember(&self, key_use: &KeyUse) -> Result<Remembered, PortError> {
        let now = Utc::now().timestamp();
        let mut item = Item::from([
            ("id".to_owned(), s(key_use.order_id.to_string())),
            ("fingerprint".to_owned(), s(&key_use.fingerprint)),
            ("answer".to_owned(), s(key_use.answer.to_string())),
            ("expires_at".to_owned(), n(now + KEPT_SECONDS)),
        ]);
        if let Some(message) = &key_use.message {
            item.insert("message".to_owned(), s(message));
        }
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            // A use past its day (TTL deletes lazily) counts as gone.
            .condition_expression("attribute_not_exists(id) OR expires_at < :now")
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match put {
            Ok(_) => Ok(Remembered::First),
            Err(e) if is_conditional_failure(&e) => match self.earlier(key_use.order_id).await? {
                Some(earlier) => Ok(Remembered::Before(earlier)),
                None => Err(PortError::Transient(
                    "a key use vanished while being read; retry".to_owned(),
                )),
            },
            Err(e) => Err(classify("PutItem", e)),
        }
    }

    async fn recall(&self, order: OrderId) -> Result<Option<KeyUse>, PortError> {
        self.earlier(order).await
    }

    /// One item per principal and hour (`rate#<hour>#<sub>`), holding the set of order ids it
    /// counted: adding an id already there changes nothing, so a retried request is never
    /// counted twice, and the condition refuses a new id once the set is full.
    async fn count_order(
        &self,
        principal: &CustomerId,
        order: OrderId,
        window: &OrderWindow,
    ) -> Result<bool, PortError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(format!("rate#{}#{principal}", window.hour)))
            .update_expression("ADD orders :order SET expires_at = :expires")
            .condition_expression(
                "attribute_not_exists(orders) OR size(orders) < :limit OR contains(orders, :id)",
            )
            .expression_attribute_values(
                ":order",
                aws_sdk_dynamodb::types::AttributeValue::Ss(vec![order.to_string()]),
            )
            .expression_attribute_values(":id", s(order.to_string()))
            .expression_attribute_values(":limit", n(i64::from(window.limit)))
            // Kept past its hour by a day, like a key's use; TTL deletes it.
            .expression_attribute_values(":expires", n(window.hour + 3600 + KEPT_SECONDS))
            .send()
            .await;
        match update {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }
}
