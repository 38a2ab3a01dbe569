//! `refinery::embed_migrations!` reads `migrations/` while lobbylog compiles, which cargo does not
//! track: without this, a migration added or edited alone would not reach the next build.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
