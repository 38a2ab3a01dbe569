mod daily;
mod docs;
mod drift;
mod health;
mod helpers;
mod intake;
mod knocks;
mod signature;
