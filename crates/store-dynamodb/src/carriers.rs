//! The carriers port over the carriers table.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use domain::carrier::Carrier;
use domain::ports::Carriers;
use domain::{CarrierId, Phone, PortError};

use crate::DynamoStore;
use crate::item::{Item, Reader, classify, s};

fn carrier_to_item(c: &Carrier) -> Item {
    Item::from([
        ("id".to_owned(), s(c.id.as_str())),
        ("name".to_owned(), s(&c.name)),
        ("phone".to_owned(), s(c.phone.as_str())),
        ("active".to_owned(), AttributeValue::Bool(c.active)),
    ])
}

fn carrier_from_item(item: &Item) -> Result<Carrier, PortError> {
    let r = Reader {
        item,
        what: "carrier",
    };
    Ok(Carrier {
        id: r.parse("id", CarrierId::parse)?,
        name: r.s("name")?.to_owned(),
        phone: r.parse("phone", Phone::parse)?,
        active: r.bool("active")?,
    })
}

#[async_trait]
impl Carriers for DynamoStore {
    /// Every carrier that parses; one that does not is logged and skipped.
    async fn list(&self) -> Result<Vec<Carrier>, PortError> {
        // The carriers table is small: read all of it. A row that does not parse is one
        // carrier fewer, never every SMS stopped.
        let items = self.scan_all(&self.tables.carriers).await?;
        Ok(items
            .iter()
            .filter_map(|item| match carrier_from_item(item) {
                Ok(carrier) => Some(carrier),
                Err(e) => {
                    tracing::warn!(error = %e, "carrier row skipped");
                    None
                }
            })
            .collect())
    }

    async fn put(&self, carrier: &Carrier) -> Result<(), PortError> {
        self.client
            .put_item()
            .table_name(&self.tables.carriers)
            .set_item(Some(carrier_to_item(carrier)))
            .send()
            .await
            .map_err(|e| classify("PutItem", e))?;
        Ok(())
    }
}
