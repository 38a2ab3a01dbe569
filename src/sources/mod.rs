//! Where events come from: the HTTP intake, the spool of an outage, archives, and dead letters
//! retried. None of them imports another; each hands what it reads to `store::write`.

pub mod archive;
pub mod dead_letters;
pub mod http;
pub mod spool;
