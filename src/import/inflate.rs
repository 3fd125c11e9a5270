//! The start of a deflate stream (RFC 1951), unpacked up to a stated number of bytes: enough
//! for the workbook reader to look at the head of a part before calamine reads it (the shared
//! strings' `uniqueCount`, which calamine reserves memory for as the file claims). Written
//! after zlib's `puff`; any malformed stream gives `None`, never a panic.

const MAX_BITS: usize = 15;

struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u32,
    n: u32,
}

impl Bits<'_> {
    fn get(&mut self, need: u32) -> Option<u32> {
        while self.n < need {
            let b = *self.data.get(self.pos)?;
            self.pos += 1;
            self.acc |= u32::from(b) << self.n;
            self.n += 8;
        }
        let v = self.acc & ((1u32 << need) - 1);
        self.acc = if need >= 32 { 0 } else { self.acc >> need };
        self.n -= need;
        Some(v)
    }
}

/// A canonical Huffman code: how many codes of each length, and the symbols in code order.
struct Huffman {
    count: [u16; MAX_BITS + 1],
    symbol: Vec<u16>,
}

impl Huffman {
    /// `None` when the lengths over-subscribe the code (an incomplete code is allowed, as
    /// deflate allows it for a single distance code).
    fn new(lengths: &[u8]) -> Option<Huffman> {
        let mut count = [0u16; MAX_BITS + 1];
        for &l in lengths {
            *count.get_mut(usize::from(l))? += 1;
        }
        let mut left: i32 = 1;
        for c in &count[1..] {
            left = (left << 1) - i32::from(*c);
            if left < 0 {
                return None;
            }
        }
        let mut offs = [0u16; MAX_BITS + 2];
        for len in 1..=MAX_BITS {
            offs[len + 1] = offs[len] + count[len];
        }
        let mut symbol = vec![0u16; lengths.len()];
        for (s, &l) in lengths.iter().enumerate() {
            if l != 0 {
                let o = &mut offs[usize::from(l)];
                *symbol.get_mut(usize::from(*o))? = s as u16;
                *o += 1;
            }
        }
        Some(Huffman { count, symbol })
    }

    fn decode(&self, bits: &mut Bits) -> Option<u16> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..=MAX_BITS {
            code |= bits.get(1)? as i32;
            let count = i32::from(self.count[len]);
            if code - count < first {
                return self.symbol.get((index + code - first) as usize).copied();
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        None
    }
}

const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

/// Unpacks `data` until the stream ends or `limit` bytes are out (the output may run a
/// little past `limit`). `None`: not a deflate stream.
pub fn inflate_head(data: &[u8], limit: usize) -> Option<Vec<u8>> {
    let mut bits = Bits {
        data,
        pos: 0,
        acc: 0,
        n: 0,
    };
    let mut out = Vec::new();
    loop {
        let last = bits.get(1)? == 1;
        match bits.get(2)? {
            0 => stored(&mut bits, &mut out, limit)?,
            1 => {
                let (lit, dist) = fixed();
                codes(&mut bits, &mut out, &lit, &dist, limit)?
            }
            2 => {
                let (lit, dist) = dynamic(&mut bits)?;
                codes(&mut bits, &mut out, &lit, &dist, limit)?
            }
            _ => return None,
        }
        if last || out.len() >= limit {
            return Some(out);
        }
    }
}

fn stored(bits: &mut Bits, out: &mut Vec<u8>, limit: usize) -> Option<()> {
    // A stored block starts on a byte: the bits left of the current byte are dropped.
    bits.acc = 0;
    bits.n = 0;
    let len = bits.get(16)?;
    let nlen = bits.get(16)?;
    if len != !nlen & 0xFFFF {
        return None;
    }
    let take = (len as usize).min(limit.saturating_sub(out.len()));
    let end = bits.pos.checked_add(take)?;
    out.extend_from_slice(bits.data.get(bits.pos..end)?);
    bits.pos = end;
    Some(())
}

fn fixed() -> (Huffman, Huffman) {
    let mut lengths = [0u8; 288];
    for (s, l) in lengths.iter_mut().enumerate() {
        *l = match s {
            0..=143 => 8,
            144..=255 => 9,
            256..=279 => 7,
            _ => 8,
        };
    }
    let lit = Huffman::new(&lengths).expect("the fixed code is complete");
    let dist = Huffman::new(&[5u8; 30]).expect("the fixed code is complete");
    (lit, dist)
}

fn dynamic(bits: &mut Bits) -> Option<(Huffman, Huffman)> {
    const ORDER: [usize; 19] = [
        16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
    ];
    let nlen = bits.get(5)? as usize + 257;
    let ndist = bits.get(5)? as usize + 1;
    let ncode = bits.get(4)? as usize + 4;
    if nlen > 286 || ndist > 30 {
        return None;
    }
    let mut code_lengths = [0u8; 19];
    for &i in &ORDER[..ncode] {
        code_lengths[i] = bits.get(3)? as u8;
    }
    let lencode = Huffman::new(&code_lengths)?;
    let mut lengths = vec![0u8; nlen + ndist];
    let mut i = 0;
    while i < nlen + ndist {
        let sym = lencode.decode(bits)?;
        let (value, repeat) = match sym {
            0..=15 => (sym as u8, 1),
            16 => (*lengths.get(i.checked_sub(1)?)?, 3 + bits.get(2)? as usize),
            17 => (0, 3 + bits.get(3)? as usize),
            18 => (0, 11 + bits.get(7)? as usize),
            _ => return None,
        };
        if i + repeat > nlen + ndist {
            return None;
        }
        lengths[i..i + repeat].fill(value);
        i += repeat;
    }
    // The end-of-block code must exist.
    if lengths[256] == 0 {
        return None;
    }
    Some((
        Huffman::new(&lengths[..nlen])?,
        Huffman::new(&lengths[nlen..])?,
    ))
}

fn codes(
    bits: &mut Bits,
    out: &mut Vec<u8>,
    lit: &Huffman,
    dist: &Huffman,
    limit: usize,
) -> Option<()> {
    while out.len() < limit {
        let sym = usize::from(lit.decode(bits)?);
        match sym {
            0..=255 => out.push(sym as u8),
            256 => return Some(()),
            _ => {
                let s = sym - 257;
                let len = usize::from(*LEN_BASE.get(s)?)
                    + bits.get(u32::from(*LEN_EXTRA.get(s)?))? as usize;
                let d = usize::from(dist.decode(bits)?);
                let back = usize::from(*DIST_BASE.get(d)?)
                    + bits.get(u32::from(*DIST_EXTRA.get(d)?))? as usize;
                let from = out.len().checked_sub(back)?;
                for k in 0..len {
                    out.push(out[from + k]);
                }
            }
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for b in bytes {
            crc ^= u32::from(*b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    /// Every deflated part of real workbooks (Excel's, LIIA's, rust_xlsxwriter's) unpacks
    /// to the bytes its CRC names.
    #[test]
    fn real_workbooks_unpack_to_their_crc() {
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        for r in 0..300u32 {
            ws.write_string(r, 0, format!("child {r} of the list, repeated"))
                .unwrap();
            ws.write_number(r, 1, f64::from(r) * 1.5).unwrap();
        }
        let made = wb.save_to_buffer().unwrap();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/annex_a/");
        let mut parts = 0;
        for bytes in [
            made,
            std::fs::read(format!("{dir}annex_a_liia_sample.xlsx")).unwrap(),
            std::fs::read(format!("{dir}annex_a_ofsted_template.xlsx")).unwrap(),
        ] {
            let mut at = 0;
            while let Some(i) = bytes[at..].windows(4).position(|w| w == b"PK\x03\x04") {
                let h = &bytes[at + i..];
                at += i + 4;
                let u16_at = |o: usize| usize::from(u16::from_le_bytes([h[o], h[o + 1]]));
                let u32_at = |o: usize| u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
                if u16_at(8) != 8 || h[6] & 8 != 0 {
                    continue; // stored, or sizes in a data descriptor
                }
                let start = 30 + u16_at(26) + u16_at(28);
                let data = &h[start..start + u32_at(18) as usize];
                let out = inflate_head(data, usize::MAX).expect("a deflate stream");
                assert_eq!(out.len(), u32_at(22) as usize);
                assert_eq!(crc32(&out), u32_at(14));
                parts += 1;
            }
        }
        assert!(parts > 10, "{parts}");
    }

    #[test]
    fn garbage_and_truncated_streams_give_none_or_stop_at_the_limit() {
        for data in [&b""[..], b"\xff\xff\xff", b"\x07", b"\x04\x00\x00\x00"] {
            let _ = inflate_head(data, 1 << 20);
        }
        // A fixed block of one literal and 258-byte copies, stopped at the limit.
        let bomb = [0x4b, 0x04, 0x00, 0x00];
        let _ = inflate_head(&bomb, 100);
    }
}
