#![forbid(unsafe_code)]

pub mod backfill;
pub mod config;
pub mod db;
pub mod event;
pub mod intake;
pub mod payload;
pub mod progress;
pub mod projection;
pub mod reproject;
pub mod server;
pub mod signature;
pub mod store;
pub mod telemetry;
