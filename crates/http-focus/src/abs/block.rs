//! The block container with CRC-32 ([MS-ABS] 5.1).
//!
//! [MS-ABS] 5.1 gives the CRC (the IEEE CRC-32: reflected polynomial 0xEDB88320, seed and final
//! XOR 0xFFFFFFFF; computed here by `crc32fast`) stored in the CRC field of a
//! `COMPRESSED_BLOCK_HEADER`. The header's layout and the compression algorithm are not public
//! where we looked, so this container is **our choice**: a sequence of blocks, each
//! `u32 UncompressedSize, u32 CompressedSize, u32 CRC` (little-endian) followed by
//! CompressedSize bytes, the CRC taken over those bytes. This crate writes stored blocks
//! (both sizes equal) and refuses compressed ones by name ([`AbsError::CompressedBlock`]).

use super::AbsError;

/// The CRC-32 of [MS-ABS] 5.1.
///
/// ```
/// // The standard check value of the algorithm.
/// assert_eq!(ocs_http_focus::abs::block::crc32(b"123456789"), 0xCBF4_3926);
/// ```
#[must_use]
pub fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

/// Largest block this crate writes, and accepts.
pub const MAX_BLOCK: usize = 1 << 20;

/// Wraps `data` in stored blocks of at most `block_size` bytes (clamped to 1..=[`MAX_BLOCK`]).
#[must_use]
pub fn wrap(data: &[u8], block_size: usize) -> Vec<u8> {
    let size = block_size.clamp(1, MAX_BLOCK);
    let mut out = Vec::with_capacity(data.len() + 12 * (data.len() / size + 1));
    for block in data.chunks(size) {
        let len = (block.len() as u32).to_le_bytes();
        out.extend_from_slice(&len);
        out.extend_from_slice(&len);
        out.extend_from_slice(&crc32(block).to_le_bytes());
        out.extend_from_slice(block);
    }
    out
}

/// Checks every block's CRC and returns the data.
///
/// # Errors
/// A truncated or oversized block, a CRC mismatch, or a compressed block, with the offset of
/// the block header.
pub fn unwrap(container: &[u8]) -> Result<Vec<u8>, AbsError> {
    let mut out = Vec::with_capacity(container.len());
    let mut at = 0;
    while at < container.len() {
        let header = container.get(at..at + 12).ok_or(AbsError::Truncated {
            what: "COMPRESSED_BLOCK_HEADER",
            offset: at,
        })?;
        let word = |i: usize| {
            u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]) as usize
        };
        let (plain, stored, crc) = (word(0), word(4), word(8) as u32);
        if stored > MAX_BLOCK || plain > MAX_BLOCK {
            return Err(AbsError::TooLarge {
                what: "block",
                limit: MAX_BLOCK,
                offset: at,
            });
        }
        let data = container
            .get(at + 12..at + 12 + stored)
            .ok_or(AbsError::Truncated {
                what: "block",
                offset: at,
            })?;
        if crc32(data) != crc {
            return Err(AbsError::Crc { offset: at });
        }
        if plain != stored {
            return Err(AbsError::CompressedBlock { offset: at });
        }
        out.extend_from_slice(data);
        at += 12 + stored;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [MS-ABS] 5.1: the table starts 0x00000000, 0x77073096, 0xEE0E612C: the CRC of the
    /// single bytes 0x00, 0x01, 0x02 after the seed and final XOR cancel out as below.
    #[test]
    fn crc_known_answers() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
    }

    #[test]
    fn blocks() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let wrapped = wrap(&data, 300);
        assert_eq!(wrapped.len(), data.len() + 4 * 12);
        assert_eq!(unwrap(&wrapped).unwrap(), data);
        let mut bad = wrapped.clone();
        bad[12 + 300 + 12 + 5] ^= 1;
        assert_eq!(unwrap(&bad), Err(AbsError::Crc { offset: 312 }));
        let mut comp = wrapped.clone();
        comp[0] = 0x2D;
        assert_eq!(unwrap(&comp), Err(AbsError::CompressedBlock { offset: 0 }));
        assert_eq!(
            unwrap(&wrapped[..20]),
            Err(AbsError::Truncated {
                what: "block",
                offset: 0
            })
        );
        assert_eq!(unwrap(&[]).unwrap(), Vec::<u8>::new());
    }
}
