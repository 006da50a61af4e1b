//! The `ecdsa-der-accepted` defect's input: an ECDSA signature in ASN.1 DER, as X.509 and
//! most crypto libraries write it, instead of JOSE's raw `r || s`.

use der::asn1::UintRef;
use der::{Decode, Reader, SliceReader};

/// Decodes an ASN.1 DER ECDSA signature (`SEQUENCE { r INTEGER, s INTEGER }`) into raw
/// `r || s` of `width` bytes each; `None` for anything else.
pub(crate) fn der_to_raw(der: &[u8], width: usize) -> Option<Vec<u8>> {
    let mut reader = SliceReader::new(der).ok()?;
    let (r, s) = reader
        .sequence(|seq| Ok((UintRef::decode(seq)?, UintRef::decode(seq)?)))
        .ok()?;
    reader.finish(()).ok()?;
    let mut out = Vec::with_capacity(2 * width);
    for int in [r, s] {
        let int = int.as_bytes();
        out.extend(std::iter::repeat_n(0u8, width.checked_sub(int.len())?));
        out.extend_from_slice(int);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_signatures_become_raw_r_and_s() {
        // r with its high bit set (a leading zero in DER), s short (padded back to width).
        let mut der = vec![0x30, 0x26, 0x02, 0x21, 0x00];
        der.extend([0x80; 32]);
        der.extend([0x02, 0x01, 0x05]);
        let mut raw = vec![0x80; 32];
        raw.extend([0; 31]);
        raw.push(0x05);
        assert_eq!(der_to_raw(&der, 32), Some(raw));
        // ES384 widths, both integers at full width.
        let mut der = vec![0x30, 0x64, 0x02, 0x30];
        der.extend([0x11; 48]);
        der.extend([0x02, 0x30]);
        der.extend([0x22; 48]);
        let mut raw = vec![0x11; 48];
        raw.extend([0x22; 48]);
        assert_eq!(der_to_raw(&der, 48), Some(raw));
        // Zero is one zero byte.
        let der = [0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00];
        assert_eq!(der_to_raw(&der, 32), Some(vec![0; 64]));
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            &[][..],
            &[0x30, 0x00],
            // Not a SEQUENCE, a length past the end, a missing `s`, an OCTET STRING for `r`.
            &[0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01],
            &[0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01],
            &[0x30, 0x03, 0x02, 0x01, 0x01],
            &[0x30, 0x06, 0x04, 0x01, 0x01, 0x02, 0x01, 0x01],
        ] {
            assert_eq!(der_to_raw(bad, 32), None, "{bad:02x?}");
        }
    }
}
