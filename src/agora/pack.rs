//! The byte packing of AccessToken2: little-endian `u16`/`u32`, strings as a
//! `u16` length then the bytes, maps as a `u16` count then `u16` keys each
//! followed by its value.

use std::collections::BTreeMap;

use super::AgoraError;

/// Appends packed values to a buffer.
#[derive(Default)]
pub(super) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub(super) fn u16(&mut self, value: u16) {
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    pub(super) fn u32(&mut self, value: u32) {
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    /// A length-prefixed byte string; `field` names it in the error when it
    /// is longer than a `u16` can count.
    pub(super) fn bytes(&mut self, field: &'static str, value: &[u8]) -> Result<(), AgoraError> {
        let len = u16::try_from(value.len()).map_err(|_| AgoraError::TooLong { field })?;
        self.u16(len);
        self.buf.extend_from_slice(value);
        Ok(())
    }

    /// A map from `u16` keys to `u32` values, in ascending key order.
    pub(super) fn map_u32(
        &mut self,
        field: &'static str,
        map: &BTreeMap<u16, u32>,
    ) -> Result<(), AgoraError> {
        let len = u16::try_from(map.len()).map_err(|_| AgoraError::TooLong { field })?;
        self.u16(len);
        for (key, value) in map {
            self.u16(*key);
            self.u32(*value);
        }
        Ok(())
    }

    /// Bytes packed elsewhere, appended as they are.
    pub(super) fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    pub(super) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads packed values from the front of a slice; running out of bytes is a
/// malformed token, never a panic.
pub(super) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// What has not been read yet.
    pub(super) fn rest(&self) -> &'a [u8] {
        self.rest
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], AgoraError> {
        let (head, tail) = self.rest.split_first_chunk::<N>().ok_or_else(truncated)?;
        self.rest = tail;
        Ok(*head)
    }

    pub(super) fn u16(&mut self) -> Result<u16, AgoraError> {
        self.take().map(u16::from_le_bytes)
    }

    pub(super) fn u32(&mut self) -> Result<u32, AgoraError> {
        self.take().map(u32::from_le_bytes)
    }

    pub(super) fn bytes(&mut self) -> Result<&'a [u8], AgoraError> {
        let len = usize::from(self.u16()?);
        if self.rest.len() < len {
            return Err(truncated());
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        Ok(head)
    }

    pub(super) fn string(&mut self) -> Result<String, AgoraError> {
        let bytes = self.bytes()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| AgoraError::MalformedToken {
            reason: "a string is not UTF-8",
        })
    }

    pub(super) fn map_u32(&mut self) -> Result<BTreeMap<u16, u32>, AgoraError> {
        let len = self.u16()?;
        let mut map = BTreeMap::new();
        for _ in 0..len {
            let key = self.u16()?;
            let value = self.u32()?;
            if map.insert(key, value).is_some() {
                return Err(AgoraError::MalformedToken {
                    reason: "a privilege appears twice",
                });
            }
        }
        Ok(map)
    }
}

fn truncated() -> AgoraError {
    AgoraError::MalformedToken {
        reason: "the token ends early",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_packed_little_endian_with_u16_length_prefixes() {
        let mut w = Writer::default();
        w.u16(0x0102);
        w.u32(0x0304_0506);
        w.bytes("s", b"ab").unwrap();
        w.map_u32("m", &BTreeMap::from([(2, 7), (1, 600)])).unwrap();
        assert_eq!(
            w.into_bytes(),
            [
                0x02, 0x01, // u16
                0x06, 0x05, 0x04, 0x03, // u32
                2, 0, b'a', b'b', // string
                2, 0, 1, 0, 0x58, 0x02, 0, 0, 2, 0, 7, 0, 0, 0, // map, keys sorted
            ]
        );
    }

    #[test]
    fn what_is_written_reads_back() {
        let mut w = Writer::default();
        w.u16(9);
        w.u32(u32::MAX);
        w.bytes("s", "चैनल".as_bytes()).unwrap();
        w.map_u32("m", &BTreeMap::from([(1, 1), (4, 4)])).unwrap();
        let bytes = w.into_bytes();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.u16().unwrap(), 9);
        assert_eq!(r.u32().unwrap(), u32::MAX);
        assert_eq!(r.string().unwrap(), "चैनल");
        assert_eq!(r.map_u32().unwrap(), BTreeMap::from([(1, 1), (4, 4)]));
        assert!(r.rest().is_empty());
    }

    #[test]
    fn a_string_longer_than_a_u16_counts_is_refused() {
        let mut w = Writer::default();
        let err = w.bytes("channel name", &vec![b'x'; 65_536]).unwrap_err();
        assert!(matches!(
            err,
            AgoraError::TooLong {
                field: "channel name"
            }
        ));
        assert!(w.bytes("channel name", &vec![b'x'; 65_535]).is_ok());
    }

    #[test]
    fn short_or_inconsistent_input_is_an_error_not_a_panic() {
        assert!(Reader::new(&[1]).u16().is_err());
        assert!(Reader::new(&[1, 2, 3]).u32().is_err());
        assert!(Reader::new(&[5, 0, b'a']).bytes().is_err());
        assert!(Reader::new(&[1, 0, 0xff]).string().is_err());
        assert!(Reader::new(&[1, 0, 1, 0, 9]).map_u32().is_err());
        assert!(
            Reader::new(&[2, 0, 1, 0, 1, 0, 0, 0, 1, 0, 2, 0, 0, 0])
                .map_u32()
                .is_err()
        );
    }
}
