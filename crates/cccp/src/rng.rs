//! Randomness as the caller gives it: one trait, `rand_core`'s [`CryptoRng`], for everything
//! this crate makes up that others must not guess.

use rand_core::CryptoRng;

/// The caller's generator, kept by a state machine.
pub(crate) struct Keys(Box<dyn CryptoRng + Send>);

impl Keys {
    pub(crate) fn new(rng: impl CryptoRng + Send + 'static) -> Keys {
        Keys(Box::new(rng))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    pub(crate) fn fill(&mut self, out: &mut [u8]) {
        self.0.fill_bytes(out);
    }
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

/// A generator that is *not* random: a counter through SplitMix64, for the fuzz oracles and
/// doc examples that must run without one. Never use it for real keys.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct NotRandom(pub u64);

impl rand_core::TryRng for NotRandom {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Ok(z ^ (z >> 31))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for c in dst.chunks_mut(8) {
            let v = self.try_next_u64()?.to_le_bytes();
            c.copy_from_slice(&v[..c.len()]);
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for NotRandom {}
