#![forbid(unsafe_code)]

pub mod admin;
pub mod bucket;
pub mod commands;
pub mod config;
pub mod daily;
pub mod db;
pub mod demo_data;
pub mod edge;
pub mod export;
pub mod metrics;
pub mod pipeline;
pub mod progress;
pub mod projection;
pub mod prune;
pub mod refused;
pub mod rollups;
pub mod shutdown;
pub mod signature;
pub mod sources;
pub mod store;
pub mod supervise;
pub mod telemetry;
pub mod triage;
