//! The HTTP edge, done one way for every HTTP function: [`Endpoint`] admits a request by the
//! route table (method, scope), owns CORS and hands the handler an [`ApiRequest`] (route,
//! principal, parameters, JSON body); the handler answers a [`Reply`] or a `domain::Error`,
//! which [`problem`] alone maps to an HTTP status and problem+json.

mod cors;
mod endpoint;
pub mod events;
mod problem;
mod request;
mod response;

pub use cors::Cors;
pub use endpoint::{Endpoint, HttpFunction};
pub use problem::{Problem, is_server_fault, problem, status};
pub use request::{ApiRequest, is_json};
pub use response::{Reply, json_response, problem_response};

/// Largest accepted request body: larger is 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
