//! Screening speed benchmark (p50/p99 per query over loaded watchlists); printed by `make bench`.

fn main() {
    println!("idv screening bench: watchlist matcher not built yet");
}
