#![forbid(unsafe_code)]

pub mod config;
pub mod daily;
pub mod dashboard;
pub mod db;
pub mod event;
pub mod metrics;
pub mod progress;
pub mod projection;
pub mod prune;
pub mod reproject;
pub mod serve;
pub mod shutdown;
pub mod signature;
pub mod sources;
pub mod store;
pub mod supervise;
pub mod telemetry;
