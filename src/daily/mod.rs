//! Daily's REST API: the client, webhooks, meetings, delivery gaps and the watchdog.

pub mod client;
pub mod gaps;
pub mod lists;
pub mod meetings;
pub mod timestamps;
pub mod watchdog;
pub mod webhooks;

pub use self::client::{Api, ApiKey};
