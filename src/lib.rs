#![forbid(unsafe_code)]

pub mod backfill;
pub mod config;
pub mod db;
pub mod drainer;
pub mod event;
pub mod intake;
pub mod metrics;
pub mod payload;
pub mod progress;
pub mod projection;
pub mod reproject;
pub mod server;
pub mod signature;
pub mod spool;
pub mod store;
pub mod telemetry;
pub mod writer;
