mod docs;
mod health;
mod helpers;
mod intake;
mod signature;
