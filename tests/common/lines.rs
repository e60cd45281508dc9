//! A child process's standard output as lines on a channel, read by a thread of its own (the
//! peers the interop tests drive print one event per line).

use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc::{Receiver, channel};

/// Every line `out` gives, until it ends or the receiver is dropped.
pub(crate) fn lines(out: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}
