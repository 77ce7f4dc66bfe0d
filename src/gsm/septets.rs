//! Packing 7-bit values into octets, least significant bit first
//! (3GPP TS 23.038 §6.1.2.1), optionally after some fill bits.

/// Packs `septets` into octets, starting `fill_bits` bits into the first
/// octet (the fill bits are zero). Only the low 7 bits of each value count.
pub fn pack(septets: &[u8], fill_bits: usize) -> Vec<u8> {
    let total_bits = fill_bits + 7 * septets.len();
    let mut out = vec![0u8; total_bits.div_ceil(8)];
    for (i, &s) in septets.iter().enumerate() {
        let bit = fill_bits + 7 * i;
        let (byte, shift) = (bit / 8, bit % 8);
        let v = u16::from(s & 0x7F) << shift;
        out[byte] |= v as u8;
        if shift > 1 {
            out[byte + 1] |= (v >> 8) as u8;
        }
    }
    out
}

/// Unpacks `count` septets starting `fill_bits` bits into `data`; None when
/// `data` is too short to hold them.
pub fn unpack(data: &[u8], fill_bits: usize, count: usize) -> Option<Vec<u8>> {
    let needed_bits = count.checked_mul(7)?.checked_add(fill_bits)?;
    if needed_bits.div_ceil(8) > data.len() {
        return None;
    }
    let septets = (0..count)
        .map(|i| {
            let bit = fill_bits + 7 * i;
            let (byte, shift) = (bit / 8, bit % 8);
            let lo = u16::from(data[byte]);
            let hi = data.get(byte + 1).map_or(0, |&b| u16::from(b));
            ((((hi << 8) | lo) >> shift) & 0x7F) as u8
        })
        .collect();
    Some(septets)
}

/// Octets needed for `count` septets after `fill_bits` fill bits.
pub fn packed_len(count: usize, fill_bits: usize) -> usize {
    (fill_bits + 7 * count).div_ceil(8)
}

#[cfg(test)]
mod tests {
    use super::*;

    // "hellohello" from the worked example at
    // http://subnets.ru/saved/sms_pdu_format.html (a saved copy of the
    // dreamfabric.com "SMS and the PDU format" page).
    #[test]
    fn hellohello() {
        let septets = b"hellohello";
        let packed = pack(septets, 0);
        assert_eq!(
            packed,
            [0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37]
        );
        assert_eq!(unpack(&packed, 0, 10).unwrap(), septets);
    }

    #[test]
    fn eight_septets_fill_seven_octets() {
        let s = [0x7F; 8];
        assert_eq!(pack(&s, 0), [0xFF; 7]);
        assert_eq!(unpack(&[0xFF; 7], 0, 8).unwrap(), s);
    }

    #[test]
    fn fill_bits_shift_the_data() {
        // One fill bit: 'A' (0x41) lands at bits 1..8.
        assert_eq!(pack(&[0x41], 1), [0x82]);
        assert_eq!(unpack(&[0x82], 1, 1).unwrap(), [0x41]);
        for fill in 0..7 {
            let s: Vec<u8> = (0..50).map(|i| (i * 37 % 128) as u8).collect();
            let p = pack(&s, fill);
            assert_eq!(p.len(), packed_len(s.len(), fill));
            assert_eq!(unpack(&p, fill, s.len()).unwrap(), s, "fill {fill}");
        }
    }

    #[test]
    fn trailing_zero_septet_is_kept() {
        // "@" as the eighth septet occupies the top 7 bits of octet 7.
        let s = [0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x00];
        let p = pack(&s, 0);
        assert_eq!(p.len(), 7);
        assert_eq!(unpack(&p, 0, 8).unwrap(), s);
    }

    #[test]
    fn too_short_is_none() {
        assert_eq!(unpack(&[0xFF; 6], 0, 8), None);
        assert_eq!(unpack(&[], 0, 1), None);
        assert_eq!(unpack(&[], 0, 0), Some(vec![]));
        assert_eq!(unpack(&[0; 1], 0, usize::MAX), None);
    }
}
