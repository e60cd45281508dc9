//! The reference server, as `ocs serve` starts it: with no argument on loopback with the demo
//! users, or with a TOML configuration file.
//!
//! `cargo run --release --example reference_server [CONFIG.toml]`; Ctrl-C stops it.

fn main() -> std::io::Result<()> {
    let config = match std::env::args().nth(1) {
        Some(path) => {
            ocs_stack::server::Config::from_file(path.as_ref()).map_err(std::io::Error::other)?
        }
        None => ocs_stack::server::Config::default(),
    };
    tokio::runtime::Runtime::new()?.block_on(ocs_stack::server::run(
        config,
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
        |bound| println!("listening: {bound:?}"),
    ))
}
