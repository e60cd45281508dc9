//! Entry points for the fuzz targets in `fuzz/` and for replaying their inputs under
//! `cargo test`. None may panic, whatever the bytes.
