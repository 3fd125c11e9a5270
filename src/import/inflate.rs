//! The start of a deflate stream (RFC 1951), unpacked up to a stated number of bytes: enough
//! for the workbook reader to look at the head of a part before calamine reads it (the shared
//! strings' `uniqueCount`, which calamine reserves memory for as the file claims). flate2 is
//! the decoder the zip reader itself uses; reading stops at the limit, so a bomb costs at
//! most `limit` bytes, and a malformed stream gives `None`.

use std::io::Read;

/// The first `limit` bytes the stream unpacks to (fewer if it ends first); `None` if the
/// stream is malformed before that.
pub fn inflate_head(data: &[u8], limit: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(data)
        .take(u64::try_from(limit).unwrap_or(u64::MAX))
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = flate2::Crc::new();
        crc.update(bytes);
        crc.sum()
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
        // 64 MiB of zeros deflate to a few KiB; only the first 100 bytes are unpacked.
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut z, &vec![0u8; 64 << 20]).unwrap();
        let packed = z.finish().unwrap();
        assert!(packed.len() < 100_000);
        assert_eq!(inflate_head(&packed, 100), Some(vec![0u8; 100]));
    }
}
