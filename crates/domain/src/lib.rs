//! The delivery domain: money, products, bills, orders, carriers, the authorization model and
//! the ports the handlers are written against. No AWS SDK, no Lambda runtime, no I/O.

pub mod auth;
pub mod bill;
pub mod carrier;
pub mod error;
pub mod history;
pub mod ids;
pub mod import;
pub mod money;
pub mod order;
pub mod ports;
pub mod product;
pub mod rate;
pub mod sms;
pub mod validation;

pub use error::{Error, PortError};
pub use ids::{CarrierId, CompanyId, CustomerId, IdempotencyKey, OrderId, Phone, ProductId};
pub use money::{Currency, Money};
