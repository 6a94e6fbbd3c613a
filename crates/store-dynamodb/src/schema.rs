//! Table definitions: the single source of the key schemas and indexes. [`create_tables`]
//! builds them for local runs and tests; Terraform's `tables` module mirrors them.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType,
};
use domain::PortError;

use crate::Tables;
use crate::item::classify;

/// A global secondary index: hash key, range key, all attributes projected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexSpec {
    pub name: &'static str,
    pub hash_key: &'static str,
    pub range_key: &'static str,
}

/// A table: string hash key `id`, a range key where it has one, and its indexes. Every key
/// attribute is a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableSpec {
    pub hash_key: &'static str,
    pub range_key: Option<&'static str>,
    pub indexes: &'static [IndexSpec],
}

pub const PRODUCTS_BY_COMPANY: IndexSpec = IndexSpec {
    name: "by_company",
    hash_key: "company_id",
    range_key: "id",
};

pub const ORDERS_BY_CUSTOMER: IndexSpec = IndexSpec {
    name: "by_customer",
    hash_key: "customer_id",
    range_key: "created_at",
};

/// Accepted orders not yet dispatched: a sparse index, since `awaiting` is written with an
/// accepted order and removed when it is dispatched. Its key is one of
/// [`AWAITING_PARTITIONS`] labels, so that a sale's orders spread over as many index
/// partitions instead of meeting one partition's write limit.
pub const ORDERS_AWAITING_DISPATCH: IndexSpec = IndexSpec {
    name: "awaiting_dispatch",
    hash_key: "awaiting",
    range_key: "recorded_at",
};

/// The partitions of [`ORDERS_AWAITING_DISPATCH`]: every write of an accepted order goes to
/// one of them (by its id), and the reconciler reads them all.
pub const AWAITING_PARTITIONS: u8 = 16;

pub const PRODUCTS: TableSpec = TableSpec {
    hash_key: "id",
    range_key: None,
    indexes: &[PRODUCTS_BY_COMPANY],
};

pub const ORDERS: TableSpec = TableSpec {
    hash_key: "id",
    range_key: None,
    indexes: &[ORDERS_BY_CUSTOMER, ORDERS_AWAITING_DISPATCH],
};

pub const CARRIERS: TableSpec = TableSpec {
    hash_key: "id",
    range_key: None,
    indexes: &[],
};

/// The uses of `Idempotency-Key`s (TTL on `expires_at`).
pub const IDEMPOTENCY: TableSpec = TableSpec {
    hash_key: "id",
    range_key: None,
    indexes: &[],
};

/// A company's open imports (pending or running): a sparse index, since `open_company` is
/// written with the import and removed when it ends.
pub const OPEN_IMPORTS_BY_COMPANY: IndexSpec = IndexSpec {
    name: "open_by_company",
    hash_key: "open_company",
    range_key: "created_at",
};

/// Running imports by their last progress: a sparse index, since `running` is written when an
/// import starts and removed when it ends. Imports are few, so one partition serves them.
pub const RUNNING_IMPORTS: IndexSpec = IndexSpec {
    name: "running_by_update",
    hash_key: "running",
    range_key: "updated_at",
};

/// Imports and their progress (TTL on `expires_at`).
pub const IMPORTS: TableSpec = TableSpec {
    hash_key: "id",
    range_key: None,
    indexes: &[OPEN_IMPORTS_BY_COMPANY, RUNNING_IMPORTS],
};

/// Products' history (TTL on `expires_at`): a product's changes under its id, by the
/// version each made (zero-padded, so that the string sorts as the number).
pub const HISTORY: TableSpec = TableSpec {
    hash_key: "id",
    range_key: Some("version"),
    indexes: &[],
};

/// The tables with their specs.
pub fn specs(tables: &Tables) -> [(&str, TableSpec); 3] {
    [
        (&tables.products, PRODUCTS),
        (&tables.orders, ORDERS),
        (&tables.carriers, CARRIERS),
    ]
}

fn key(name: &str, key_type: KeyType) -> Result<KeySchemaElement, PortError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(|e| PortError::Permanent(e.to_string()))
}

fn string_attribute(name: &str) -> Result<AttributeDefinition, PortError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| PortError::Permanent(e.to_string()))
}

/// Creates the tables that do not exist yet (on-demand billing). Idempotent.
pub async fn create_tables(client: &Client, tables: &Tables) -> Result<(), PortError> {
    for (name, spec) in specs(tables) {
        create_table(client, name, spec).await?;
    }
    Ok(())
}

/// Creates one table unless it exists (on-demand billing). Idempotent.
pub async fn create_table(client: &Client, name: &str, spec: TableSpec) -> Result<(), PortError> {
    let mut attributes = vec![spec.hash_key];
    attributes.extend(spec.range_key);
    for index in spec.indexes {
        attributes.extend([index.hash_key, index.range_key]);
    }
    attributes.sort_unstable();
    attributes.dedup();
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(spec.hash_key, KeyType::Hash)?);
    if let Some(range_key) = spec.range_key {
        request = request.key_schema(key(range_key, KeyType::Range)?);
    }
    for attribute in attributes {
        request = request.attribute_definitions(string_attribute(attribute)?);
    }
    for index in spec.indexes {
        request = request.global_secondary_indexes(gsi(index)?);
    }
    match request.send().await {
        Ok(_) => tracing::info!(table = name, "created table"),
        Err(e) if e.code() == Some("ResourceInUseException") => {
            add_missing_indexes(client, name, spec).await?
        }
        Err(e) => return Err(classify("CreateTable", e)),
    }
    Ok(())
}

fn gsi(index: &IndexSpec) -> Result<GlobalSecondaryIndex, PortError> {
    GlobalSecondaryIndex::builder()
        .index_name(index.name)
        .key_schema(key(index.hash_key, KeyType::Hash)?)
        .key_schema(key(index.range_key, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(|e| PortError::Permanent(e.to_string()))
}

/// A table made by an earlier version (a local data dir kept across upgrades) gets the indexes
/// added since, as Terraform adds them in AWS.
async fn add_missing_indexes(
    client: &Client,
    name: &str,
    spec: TableSpec,
) -> Result<(), PortError> {
    let described = client
        .describe_table()
        .table_name(name)
        .send()
        .await
        .map_err(|e| classify("DescribeTable", e))?;
    let existing: Vec<&str> = described
        .table()
        .map(|t| t.global_secondary_indexes())
        .unwrap_or_default()
        .iter()
        .filter_map(|i| i.index_name())
        .collect();
    for index in spec.indexes.iter().filter(|i| !existing.contains(&i.name)) {
        let create = CreateGlobalSecondaryIndexAction::builder()
            .index_name(index.name)
            .key_schema(key(index.hash_key, KeyType::Hash)?)
            .key_schema(key(index.range_key, KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(|e| PortError::Permanent(e.to_string()))?;
        client
            .update_table()
            .table_name(name)
            .attribute_definitions(string_attribute(index.hash_key)?)
            .attribute_definitions(string_attribute(index.range_key)?)
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder().create(create).build(),
            )
            .send()
            .await
            .map_err(|e| classify("UpdateTable", e))?;
        tracing::info!(table = name, index = index.name, "added index");
    }
    Ok(())
}
