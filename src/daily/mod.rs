//! Daily's REST API: the client, webhooks, meetings, delivery gaps and the watchdog.

pub mod answer;
pub mod answer_shapes;
mod api_key;
pub mod client;
pub mod gaps;
pub mod meetings;
pub mod timestamps;
pub mod watchdog;
mod webhook_state;
pub mod webhooks;

pub use self::api_key::{Api, ApiKey};
