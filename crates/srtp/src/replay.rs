//! The replay window of RFC 3711 §3.3.2: a bitmap of the indices accepted below the highest.

use crate::error::{Error, ReplayKind};

/// Largest window, in packets.
pub const MAX_WINDOW: usize = 32_768;

/// A sliding replay window over 64-bit packet indices. The bitmap is a ring: index `i` is bit
/// `i % size`. It is allocated once, when the stream is created.
#[derive(Debug, Clone)]
pub struct ReplayWindow {
    size: u64,
    top: Option<u64>,
    bits: Vec<u64>,
}

impl ReplayWindow {
    /// A window of `size` packets (64 to 32,768, a multiple of 64).
    pub fn new(size: usize) -> Result<Self, Error> {
        if !(64..=MAX_WINDOW).contains(&size) || !size.is_multiple_of(64) {
            return Err(Error::InvalidPolicy(
                "replay window must be 64..=32768, a multiple of 64",
            ));
        }
        Ok(ReplayWindow {
            size: size as u64,
            top: None,
            bits: vec![0; size / 64],
        })
    }

    /// The highest index accepted so far.
    #[must_use]
    pub fn top(&self) -> Option<u64> {
        self.top
    }

    fn bit(&self, i: u64) -> (usize, u64) {
        let b = i % self.size;
        ((b / 64) as usize, 1u64 << (b % 64))
    }

    /// Whether `index` may be accepted; changes nothing.
    pub fn check(&self, index: u64) -> Result<(), Error> {
        let Some(top) = self.top else { return Ok(()) };
        if index > top {
            return Ok(());
        }
        if top - index >= self.size {
            return Err(Error::Replay(ReplayKind::TooOld, index));
        }
        let (w, m) = self.bit(index);
        if self.bits[w] & m != 0 {
            return Err(Error::Replay(ReplayKind::Duplicate, index));
        }
        Ok(())
    }

    /// Records `index` as accepted (after it authenticated).
    pub fn accept(&mut self, index: u64) {
        match self.top {
            Some(top) if index <= top => {
                if top - index < self.size {
                    let (w, m) = self.bit(index);
                    self.bits[w] |= m;
                }
            }
            Some(top) => {
                let advance = index - top;
                if advance >= self.size {
                    self.bits.fill(0);
                } else {
                    for i in top + 1..index {
                        let (w, m) = self.bit(i);
                        self.bits[w] &= !m;
                    }
                }
                let (w, m) = self.bit(index);
                self.bits[w] |= m;
                self.top = Some(index);
            }
            None => {
                let (w, m) = self.bit(index);
                self.bits[w] |= m;
                self.top = Some(index);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_and_old_packets() {
        let mut w = ReplayWindow::new(128).unwrap();
        for i in [10, 12, 11, 200] {
            w.check(i).unwrap();
            w.accept(i);
        }
        assert_eq!(w.check(200), Err(Error::Replay(ReplayKind::Duplicate, 200)));
        assert_eq!(w.check(72), Err(Error::Replay(ReplayKind::TooOld, 72)));
        w.check(73).unwrap();
        w.check(199).unwrap();
        w.accept(199);
        assert!(w.check(199).is_err());
        // a jump larger than the window clears it
        w.accept(10_000);
        w.check(9_999).unwrap();
        assert!(w.check(9_872).is_err());
        w.check(9_873).unwrap();
    }

    #[test]
    fn sizes() {
        assert!(ReplayWindow::new(32).is_err());
        assert!(ReplayWindow::new(100).is_err());
        assert!(ReplayWindow::new(65_536).is_err());
        let mut w = ReplayWindow::new(32_768).unwrap();
        w.accept(40_000);
        w.check(40_000 - 32_767).unwrap();
        assert!(w.check(40_000 - 32_768).is_err());
    }
}
