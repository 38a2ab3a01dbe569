//! Where events come from: the HTTP intake, the spool of an outage, and archives. None of them
//! imports another; each hands what it reads to `store::write`.

pub mod archive;
pub mod http;
pub mod spool;
