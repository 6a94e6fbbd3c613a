//! The order store over the orders table, with stock reservation on the products table.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use chrono::{DateTime, Utc};
use domain::order::{CarrierRef, Delivery, Order, OrderLine, OrderStatus, RejectReason, timestamp};
use domain::ports::{Claim, OrderStore, Page, PageRequest, RecordOutcome};
use domain::product::MAX_STOCK_SHARDS;
use domain::{CarrierId, CustomerId, Money, OrderId, Phone, PortError, ProductId};
use rand::RngExt;

use crate::item::{Item, Reader, classify, is_conditional_failure, n, s};
use crate::schema::ORDERS_BY_CUSTOMER;
use crate::shards::{shard_key, stock_shards};
use crate::{DynamoStore, cursor};

fn status_from(s: &str) -> Result<OrderStatus, ()> {
    match s {
        "accepted" => Ok(OrderStatus::Accepted),
        "rejected" => Ok(OrderStatus::Rejected),
        "dispatched" => Ok(OrderStatus::Dispatched),
        _ => Err(()),
    }
}

fn reason_from(s: &str) -> Result<RejectReason, ()> {
    match s {
        "out_of_stock" => Ok(RejectReason::OutOfStock),
        "unavailable" => Ok(RejectReason::Unavailable),
        "unknown_product" => Ok(RejectReason::UnknownProduct),
        _ => Err(()),
    }
}

pub(crate) fn order_to_item(o: &Order) -> Result<Item, PortError> {
    let lines = serde_json::to_string(&o.lines).map_err(|e| PortError::Permanent(e.to_string()))?;
    let mut item = Item::from([
        ("id".to_owned(), s(o.id.to_string())),
        ("customer_id".to_owned(), s(o.customer_id.as_str())),
        ("created_at".to_owned(), s(timestamp(o.created_at))),
        ("status".to_owned(), s(o.status.as_str())),
        ("lines".to_owned(), s(lines)),
        ("address".to_owned(), s(&o.delivery.address)),
        ("phone".to_owned(), s(o.delivery.phone.as_str())),
    ]);
    if let Some(total) = o.total {
        item.insert("total_minor".to_owned(), n(total.minor()));
        item.insert("currency".to_owned(), s(total.currency().code()));
    }
    if let Some(reason) = o.reason {
        item.insert("reason".to_owned(), s(reason.as_str()));
    }
    if let Some(carrier) = &o.carrier {
        item.insert("carrier_id".to_owned(), s(carrier.id.as_str()));
        item.insert("carrier_name".to_owned(), s(&carrier.name));
    }
    if let Some(at) = o.dispatched_at {
        item.insert("dispatched_at".to_owned(), s(timestamp(at)));
    }
    Ok(item)
}

pub(crate) fn order_from_item(item: &Item) -> Result<Order, PortError> {
    let r = Reader {
        item,
        what: "order",
    };
    let lines: Vec<OrderLine> = r.parse("lines", |l| serde_json::from_str(l))?;
    let total = match r.opt_n::<i64>("total_minor")? {
        Some(minor) => Some(Money::from_minor(
            minor,
            r.parse("currency", domain::Currency::parse)?,
        )),
        None => None,
    };
    let carrier = match r.opt_s("carrier_id") {
        Some(_) => Some(CarrierRef {
            id: r.parse("carrier_id", CarrierId::parse)?,
            name: r.s("carrier_name")?.to_owned(),
        }),
        None => None,
    };
    Ok(Order {
        id: r.parse("id", OrderId::parse)?,
        customer_id: r.parse("customer_id", CustomerId::parse)?,
        lines,
        total,
        delivery: Delivery {
            address: r.s("address")?.to_owned(),
            phone: r.parse("phone", Phone::parse)?,
        },
        status: r.parse("status", status_from)?,
        reason: r
            .opt_s("reason")
            .map(|_| r.parse("reason", reason_from))
            .transpose()?,
        carrier,
        created_at: r.time("created_at")?,
        dispatched_at: r.opt_time("dispatched_at")?,
    })
}

fn key(id: OrderId) -> Item {
    Item::from([("id".to_owned(), s(id.to_string()))])
}

fn build_err(e: impl std::fmt::Display) -> PortError {
    PortError::Permanent(e.to_string())
}

/// Where one line of an order takes its stock from: one of its product's shards, at random
/// among those not yet refused.
#[derive(Clone, Debug)]
struct Take {
    shards: u8,
    /// The shards that refused this order, one bit each.
    refused: u32,
    shard: u8,
    /// The shard was not there: the product's shards changed, so S must be read again.
    lost: bool,
}

impl Take {
    fn new(shards: u8) -> Take {
        let mut take = Take {
            shards: shards.max(1),
            refused: 0,
            shard: 0,
            lost: false,
        };
        take.next();
        take
    }

    /// Moves to a shard not yet refused; false when every one has been.
    fn next(&mut self) -> bool {
        let open: Vec<u8> = (0..self.shards)
            .filter(|k| self.refused & (1 << k) == 0)
            .collect();
        if open.is_empty() {
            return false;
        }
        self.shard = open[rand::rng().random_range(0..open.len())];
        true
    }

    /// The current shard refused, and the product now has `shards` of them.
    fn refused_by(&mut self, shards: u8) -> bool {
        self.refused |= 1 << self.shard;
        self.shards = shards.max(1);
        self.next()
    }
}

/// What a line's refusal says, from its shard as it was (`ALL_OLD`) when it refused.
fn refusal(reason: &CancellationReason, take: &Take) -> Result<RejectReason, Option<u8>> {
    let Some(item) = reason.item() else {
        return match take.shard {
            0 => Ok(RejectReason::UnknownProduct),
            // A shard past a lowered S: read S again.
            _ => Err(None),
        };
    };
    if item.get("available").and_then(|v| v.as_bool().ok()) != Some(&true) {
        return Ok(RejectReason::Unavailable);
    }
    let r = Reader {
        item,
        what: "stock shard",
    };
    // Too little stock in this shard: the others may have enough.
    Err(Some(stock_shards(&r).unwrap_or(take.shards)))
}

/// What a cancelled reservation transaction means.
#[derive(Debug, PartialEq)]
enum Cancelled {
    AlreadyRecorded,
    Rejected(RejectReason),
    /// Some lines move to other shards: try again.
    Moved,
    /// Not cancelled: the order is recorded.
    Accepted,
    Transient(String),
}

/// Reads the cancellation reasons: index `i < lines` is line `i`, index `lines` the order put.
/// A line refused for its shard's stock moves to another shard of its product.
fn read_cancellation(
    reasons: &[CancellationReason],
    lines: &[OrderLine],
    takes: &mut [Take],
) -> Cancelled {
    let code = |r: &CancellationReason| r.code().unwrap_or("None").to_owned();
    if reasons
        .get(lines.len())
        .is_some_and(|r| code(r) == "ConditionalCheckFailed")
    {
        return Cancelled::AlreadyRecorded;
    }
    let mut rejected = None;
    let mut moved = false;
    for (reason, take) in reasons.iter().zip(takes.iter_mut()) {
        if code(reason) != "ConditionalCheckFailed" {
            continue;
        }
        let outcome = match refusal(reason, take) {
            Ok(reason) => Some(reason),
            Err(None) => {
                take.lost = true;
                None
            }
            Err(Some(shards)) if take.refused_by(shards) => None,
            Err(Some(_)) => Some(RejectReason::OutOfStock),
        };
        match outcome {
            Some(reason) => {
                rejected = Some(rejected.map_or(reason, |r: RejectReason| r.min(reason)))
            }
            None => moved = true,
        }
    }
    if let Some(reason) = rejected {
        return Cancelled::Rejected(reason);
    }
    if moved {
        return Cancelled::Moved;
    }
    let codes: Vec<String> = reasons.iter().map(code).filter(|c| c != "None").collect();
    // A hot product's item past DynamoDB's per-item write limit: named, so that the logs say
    // which product a sale is throttling (a retry may find it cooler, or take another shard).
    let hot: Vec<&str> = reasons
        .iter()
        .zip(lines)
        .filter(|(r, _)| code(r) == "ThrottlingError")
        .map(|(_, line)| line.product_id.as_str())
        .collect();
    let mut detail = format!("transaction cancelled: {}", codes.join(", "));
    if !hot.is_empty() {
        detail.push_str(&format!(" (throttled products: {})", hot.join(", ")));
    }
    Cancelled::Transient(detail)
}

impl DynamoStore {
    /// Puts a rejected order only if it does not exist yet (an accepted one is recorded with
    /// its reservation, in [`DynamoStore::reserve_and_record`]).
    async fn put_rejected(&self, order: &Order) -> Result<RecordOutcome, PortError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.orders)
            .set_item(Some(order_to_item(order)?))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(RecordOutcome::Rejected(order.clone())),
            Err(e) if is_conditional_failure(&e) => self.already_recorded(order.id).await,
            Err(e) => Err(classify("PutItem", e)),
        }
    }

    async fn already_recorded(&self, id: OrderId) -> Result<RecordOutcome, PortError> {
        let stored = self.get(id).await?.ok_or_else(|| {
            PortError::Transient(format!(
                "order {id} reported as existing but not readable yet"
            ))
        })?;
        Ok(RecordOutcome::AlreadyRecorded(stored))
    }

    fn reservation(&self, line: &OrderLine, take: &Take) -> Result<TransactWriteItem, PortError> {
        let update = Update::builder()
            .table_name(&self.tables.products)
            .key("id", s(shard_key(line.product_id.as_str(), take.shard)))
            .update_expression("SET stock = stock - :q, version = version + :one")
            .condition_expression("attribute_exists(id) AND available = :true AND stock >= :q")
            .expression_attribute_values(":q", n(line.quantity))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// How many shards hold a product's stock: as last read, or read now (`fresh`: always
    /// read, consistently). An unknown product has 1 (its reservation then finds no item).
    async fn shard_count(&self, id: &ProductId, fresh: bool) -> Result<u8, PortError> {
        if !fresh && let Some(shards) = self.remembered_shards(id) {
            return Ok(shards);
        }
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.products)
            .key("id", s(id.as_str()))
            .projection_expression("stock_shards")
            .consistent_read(fresh)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        let shards = match &out.item {
            Some(item) => stock_shards(&Reader {
                item,
                what: "product",
            })?,
            None => 1,
        };
        self.remember_shards(id, shards);
        Ok(shards)
    }

    /// One attempt: every line's take and the order's put, in one transaction.
    async fn try_reserve(&self, order: &Order, takes: &mut [Take]) -> Result<Cancelled, PortError> {
        let mut items = order
            .lines
            .iter()
            .zip(takes.iter())
            .map(|(line, take)| self.reservation(line, take))
            .collect::<Result<Vec<_>, _>>()?;
        let put = Put::builder()
            .table_name(&self.tables.orders)
            .set_item(Some(order_to_item(order)?))
            .condition_expression("attribute_not_exists(id)")
            .build()
            .map_err(build_err)?;
        items.push(TransactWriteItem::builder().put(put).build());
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(Cancelled::Accepted),
            Err(e) => e,
        };
        match err.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(c)) => Ok(
                read_cancellation(c.cancellation_reasons(), &order.lines, takes),
            ),
            _ => Err(classify("TransactWriteItems", err)),
        }
    }

    /// Reserves every line's stock and records the order accepted, in one transaction; a line
    /// refused by one shard of its product tries the others before the order is rejected.
    async fn reserve_and_record(&self, order: &Order) -> Result<RecordOutcome, PortError> {
        let mut takes = Vec::with_capacity(order.lines.len());
        for line in &order.lines {
            takes.push(Take::new(self.shard_count(&line.product_id, false).await?));
        }
        // Each attempt but the last moves at least one line off a shard that refused it.
        for _ in 0..=MAX_STOCK_SHARDS + 1 {
            for (line, take) in order.lines.iter().zip(takes.iter_mut()) {
                if take.lost {
                    *take = Take::new(self.shard_count(&line.product_id, true).await?);
                } else {
                    self.remember_shards(&line.product_id, take.shards);
                }
            }
            match self.try_reserve(order, &mut takes).await? {
                Cancelled::Accepted => return Ok(RecordOutcome::Accepted(order.clone())),
                Cancelled::AlreadyRecorded => return self.already_recorded(order.id).await,
                Cancelled::Rejected(reason) => {
                    tracing::info!(order_id = %order.id, reason = reason.as_str(), "reservation refused");
                    return self.put_rejected(&order.rejected(reason)).await;
                }
                Cancelled::Moved => {}
                Cancelled::Transient(detail) => return Err(PortError::Transient(detail)),
            }
        }
        Err(PortError::Transient(
            "the order's stock shards kept changing under it".to_owned(),
        ))
    }
}

impl DynamoStore {
    /// Every order, page by page (a consistent Scan): for an operator's audit of a rehearsal
    /// (`delivery-local`), never on a request's path.
    pub async fn all_orders(&self) -> Result<Vec<Order>, PortError> {
        self.scan_all(&self.tables.orders)
            .await?
            .iter()
            .map(order_from_item)
            .collect()
    }
}

#[async_trait]
impl OrderStore for DynamoStore {
    async fn record(&self, order: &Order) -> Result<RecordOutcome, PortError> {
        match order.status {
            OrderStatus::Accepted => self.reserve_and_record(order).await,
            OrderStatus::Rejected => self.put_rejected(order).await,
            OrderStatus::Dispatched => Err(PortError::Permanent(
                "an order is recorded accepted or rejected, never dispatched".to_owned(),
            )),
        }
    }

    async fn get(&self, id: OrderId) -> Result<Option<Order>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.orders)
            .set_key(Some(key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        out.item.as_ref().map(order_from_item).transpose()
    }

    async fn list_for_customer(
        &self,
        customer: &CustomerId,
        request: &PageRequest,
    ) -> Result<Page<Order>, PortError> {
        let listing = format!("orders@{customer}");
        let expected = [
            ("id", None),
            ("created_at", None),
            ("customer_id", Some(customer.as_str())),
        ];
        let start = request
            .cursor
            .as_ref()
            .map(|c| cursor::decode(c, &listing, &expected))
            .transpose()?;
        let out = self
            .client
            .query()
            .table_name(&self.tables.orders)
            .index_name(ORDERS_BY_CUSTOMER.name)
            .key_condition_expression("customer_id = :c")
            .expression_attribute_values(":c", s(customer.as_str()))
            .scan_index_forward(false)
            .limit(i32::try_from(request.limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| classify("Query", e))?;
        Ok(Page {
            items: out
                .items()
                .iter()
                .map(order_from_item)
                .collect::<Result<_, _>>()?,
            next_cursor: out
                .last_evaluated_key()
                .map(|k| cursor::encode(&listing, k))
                .transpose()?,
        })
    }

    async fn claim_dispatch(
        &self,
        id: OrderId,
        claimant: &str,
        at: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Claim, PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.orders)
            .set_key(Some(key(id)))
            // The holder sets its claim's expiry, so a claim it extends holds against every
            // later claimant, whatever their own lease. An order texted by a delivery that
            // could not record it is never claimed again: it is to be recorded, not texted.
            .update_expression("SET dispatch_claim = :claimant, dispatch_claim_expires = :until")
            .condition_expression(
                "#status = :accepted AND attribute_not_exists(texted_carrier_id) AND (attribute_not_exists(dispatch_claim) OR dispatch_claim = :claimant OR dispatch_claim_expires < :now)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":accepted", s(OrderStatus::Accepted.as_str()))
            .expression_attribute_values(":claimant", s(claimant))
            .expression_attribute_values(":now", n(at.timestamp_millis()))
            .expression_attribute_values(":until", n((at + lease).timestamp_millis()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::Taken),
            Err(e) if is_conditional_failure(&e) => Ok(Claim::Held),
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }

    async fn hold_texted(
        &self,
        id: OrderId,
        claimant: &str,
        carrier: &CarrierRef,
        at: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Claim, PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.orders)
            .set_key(Some(key(id)))
            .update_expression(
                "SET dispatch_claim_expires = :until, texted_carrier_id = :cid, texted_carrier_name = :cname",
            )
            .condition_expression("#status = :accepted AND dispatch_claim = :claimant")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":accepted", s(OrderStatus::Accepted.as_str()))
            .expression_attribute_values(":claimant", s(claimant))
            .expression_attribute_values(":until", n((at + lease).timestamp_millis()))
            .expression_attribute_values(":cid", s(carrier.id.as_str()))
            .expression_attribute_values(":cname", s(&carrier.name))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::Taken),
            Err(e) if is_conditional_failure(&e) => Ok(Claim::Held),
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }

    async fn texted(&self, id: OrderId) -> Result<Option<CarrierRef>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.orders)
            .set_key(Some(key(id)))
            .consistent_read(true)
            .projection_expression("#status, texted_carrier_id, texted_carrier_name")
            .expression_attribute_names("#status", "status")
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let text = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
        };
        if text("status") != Some(OrderStatus::Accepted.as_str()) {
            return Ok(None);
        }
        match (text("texted_carrier_id"), text("texted_carrier_name")) {
            (Some(carrier), Some(name)) => Ok(Some(CarrierRef {
                id: CarrierId::parse(carrier).map_err(|e| {
                    PortError::Permanent(format!("order {id}: texted_carrier_id: {e}"))
                })?,
                name: name.to_owned(),
            })),
            _ => Ok(None),
        }
    }

    async fn release_dispatch_claim(&self, id: OrderId, claimant: &str) -> Result<(), PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.orders)
            .set_key(Some(key(id)))
            .update_expression("REMOVE dispatch_claim, dispatch_claim_expires")
            .condition_expression("dispatch_claim = :claimant")
            .expression_attribute_values(":claimant", s(claimant))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Ok(()),
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }

    async fn mark_dispatched(
        &self,
        id: OrderId,
        carrier: &CarrierRef,
        at: DateTime<Utc>,
    ) -> Result<Order, PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.orders)
            .set_key(Some(key(id)))
            .update_expression(
                "SET #status = :dispatched, carrier_id = :cid, carrier_name = :cname, dispatched_at = :at REMOVE dispatch_claim, dispatch_claim_expires, texted_carrier_id, texted_carrier_name",
            )
            .condition_expression("#status = :accepted")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":dispatched", s(OrderStatus::Dispatched.as_str()))
            .expression_attribute_values(":accepted", s(OrderStatus::Accepted.as_str()))
            .expression_attribute_values(":cid", s(carrier.id.as_str()))
            .expression_attribute_values(":cname", s(&carrier.name))
            .expression_attribute_values(":at", s(timestamp(at)))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => out
                .attributes
                .as_ref()
                .map(order_from_item)
                .unwrap_or_else(|| {
                    Err(PortError::Permanent(
                        "UpdateItem returned no attributes".to_owned(),
                    ))
                }),
            Err(e) if is_conditional_failure(&e) => match self.get(id).await? {
                None => Err(PortError::NotFound),
                Some(order) if order.status == OrderStatus::Dispatched => Ok(order),
                Some(order) => Err(PortError::Permanent(format!(
                    "order {id} is {} and cannot be dispatched",
                    order.status.as_str()
                ))),
            },
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }
}
