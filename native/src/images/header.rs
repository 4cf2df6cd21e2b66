//! `image_info` from the headers alone: each format's size, Pillow's mode name, the EXIF
//! orientation and the frame count, read the way Pillow's plugins read them (JpegImagePlugin,
//! PngImagePlugin, GifImagePlugin, WebPImagePlugin, BmpImagePlugin, TiffImagePlugin,
//! PpmImagePlugin of Pillow 11-13), without decoding any pixel data.

use super::tiff::{exif_orientation, Ifd, Tiff};

/// What the header of one image says.
#[derive(Debug, Clone, PartialEq)]
pub struct Info {
    pub width: u64,
    pub height: u64,
    /// Pillow's `Image.format`: JPEG, PNG, GIF, WEBP, BMP, TIFF, PPM.
    pub format: &'static str,
    /// Pillow's `Image.mode` ("L", "RGB", "RGBA", "P", "CMYK", "I;16", ...); None for a
    /// layout Pillow has no mode for.
    pub mode: Option<&'static str>,
    /// The EXIF orientation tag (274) as stored, None when there is none.
    pub orientation: Option<u16>,
    /// Pillow's `n_frames`: animation frames (GIF, APNG, WebP) or IFDs (TIFF).
    pub frames: u64,
}

impl Info {
    /// Channels of the mode (bands in Pillow's terms): what an uncompressed copy stores.
    pub fn channels(&self) -> u64 {
        match self.mode {
            Some("LA" | "La" | "PA") => 2,
            Some("RGB" | "YCbCr" | "LAB") => 3,
            Some("RGBA" | "CMYK") => 4,
            _ => 1,
        }
    }
}

fn be16(b: &[u8], at: usize) -> Option<u64> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?) as u64)
}
fn le16(b: &[u8], at: usize) -> Option<u64> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?) as u64)
}
fn be32(b: &[u8], at: usize) -> Option<u64> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?) as u64)
}
fn le32(b: &[u8], at: usize) -> Option<u64> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?) as u64)
}
fn le24(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at + 3)?;
    Some(s[0] as u64 | (s[1] as u64) << 8 | (s[2] as u64) << 16)
}

fn truncated(what: &str) -> String {
    format!("truncated: {what}")
}

/// The header of encoded image bytes, format sniffed from the content (never the name).
pub fn probe(b: &[u8]) -> Result<Info, String> {
    if b.is_empty() {
        return Err("empty: zero bytes".into());
    }
    let info = if b.starts_with(b"\xff\xd8\xff") {
        jpeg(b)?
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        png(b)?
    } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        gif(b)?
    } else if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        webp(b)?
    } else if b.starts_with(b"BM") {
        bmp(b)?
    } else if b.starts_with(b"II*\0") || b.starts_with(b"MM\0*") || b.starts_with(b"II+\0")
        || b.starts_with(b"MM\0+")
    {
        tiff(b)?
    } else if b.len() >= 2 && b[0] == b'P' && b"123456f".contains(&b[1]) {
        pnm(b)?
    } else {
        return Err("unknown image format".into());
    };
    if info.width == 0 || info.height == 0 {
        return Err(format!("empty image: {}x{}", info.width, info.height));
    }
    Ok(info)
}

/// JPEG: the first SOFn marker's size and components (Pillow: 1 L, 3 RGB, 4 CMYK), the
/// orientation from the first APP1 "Exif" segment before it.
fn jpeg(b: &[u8]) -> Result<Info, String> {
    let mut at = 2;
    let mut orientation = None;
    let mut exif_seen = false;
    loop {
        // markers may be preceded by any number of 0xFF fill bytes
        while b.get(at) == Some(&0xff) && b.get(at + 1) == Some(&0xff) {
            at += 1;
        }
        if b.get(at) != Some(&0xff) {
            return Err(match b.get(at) {
                None => truncated("JPEG ends before its frame header"),
                Some(_) => "undecodable: JPEG marker expected".into(),
            });
        }
        let marker = *b.get(at + 1).ok_or_else(|| truncated("JPEG marker"))?;
        if matches!(marker, 0x01 | 0xd0..=0xd8) {
            at += 2; // standalone markers have no length
            continue;
        }
        let len = be16(b, at + 2).ok_or_else(|| truncated("JPEG segment length"))? as usize;
        let seg = b.get(at + 4..at + 2 + len).unwrap_or(&b[(at + 4).min(b.len())..]);
        match marker {
            0xe1 if !exif_seen && seg.starts_with(b"Exif\0\0") => {
                exif_seen = true;
                orientation = exif_orientation(seg);
            }
            0xc0..=0xcf if !matches!(marker, 0xc4 | 0xc8 | 0xcc) => {
                let (height, width) = (
                    be16(b, at + 5).ok_or_else(|| truncated("JPEG frame header"))?,
                    be16(b, at + 7).ok_or_else(|| truncated("JPEG frame header"))?,
                );
                let comps = *b.get(at + 9).ok_or_else(|| truncated("JPEG frame header"))?;
                let mode = match comps {
                    1 => Some("L"),
                    3 => Some("RGB"),
                    4 => Some("CMYK"),
                    _ => None,
                };
                return Ok(Info {
                    width,
                    height,
                    format: "JPEG",
                    mode,
                    orientation,
                    frames: 1,
                });
            }
            0xda | 0xd9 => return Err("undecodable: JPEG without a frame header".into()),
            _ => {}
        }
        if len < 2 {
            return Err("undecodable: bad JPEG segment length".into());
        }
        at += 2 + len;
    }
}

/// PNG: IHDR's size, depth and colour type (Pillow's `_MODES`), acTL's frame count (APNG),
/// the orientation of an eXIf chunk anywhere before IEND. Chunks are walked, not inflated.
fn png(b: &[u8]) -> Result<Info, String> {
    if b.get(12..16) != Some(b"IHDR") {
        return Err(if b.len() < 16 { truncated("PNG header") } else {
            "undecodable: PNG without IHDR".into()
        });
    }
    let (width, height) = (
        be32(b, 16).ok_or_else(|| truncated("PNG header"))?,
        be32(b, 20).ok_or_else(|| truncated("PNG header"))?,
    );
    let (depth, colour) = (
        *b.get(24).ok_or_else(|| truncated("PNG header"))?,
        *b.get(25).ok_or_else(|| truncated("PNG header"))?,
    );
    let mode = match (depth, colour) {
        (1, 0) => Some("1"),
        (2 | 4 | 8, 0) => Some("L"),
        (16, 0) => Some("I;16"),
        (8 | 16, 2) => Some("RGB"),
        (1 | 2 | 4 | 8, 3) => Some("P"),
        (8, 4) => Some("LA"),
        (16, 4) | (8 | 16, 6) => Some("RGBA"),
        _ => None,
    };
    let (mut frames, mut orientation) = (1, None);
    let mut at = 8;
    while let (Some(len), Some(kind)) = (be32(b, at), b.get(at + 4..at + 8)) {
        let data = b.get(at + 8..at + 8 + len as usize);
        match kind {
            b"acTL" => frames = data.and_then(|d| be32(d, 0)).unwrap_or(1).max(1),
            b"eXIf" if orientation.is_none() => orientation = data.and_then(exif_orientation),
            b"IEND" => break,
            _ => {}
        }
        at += 12 + len as usize;
    }
    Ok(Info {
        width,
        height,
        format: "PNG",
        mode,
        orientation,
        frames,
    })
}

/// Pillow's `_is_palette_needed` negated: a palette that is the grey ramp 0, 1, 2, ... is
/// dropped and the image read as L.
fn is_grey_ramp(palette: &[u8]) -> bool {
    palette
        .chunks_exact(3)
        .enumerate()
        .all(|(i, p)| p.iter().all(|&v| v as usize == i))
}

/// Skip GIF data sub-blocks from `at`; the offset after the terminator.
fn skip_sub_blocks(b: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let n = *b.get(at)? as usize;
        at += 1 + n;
        if n == 0 {
            return (at <= b.len()).then_some(at);
        }
    }
}

/// GIF: the logical screen size (Pillow widens it to a first frame that reaches past it), mode
/// P unless the first frame's palette is a grey ramp or absent (L), and the frames counted by
/// walking the blocks (no LZW decoding), as Pillow's `n_frames` seeks through them.
fn gif(b: &[u8]) -> Result<Info, String> {
    let (mut width, mut height) = (
        le16(b, 6).ok_or_else(|| truncated("GIF header"))?,
        le16(b, 8).ok_or_else(|| truncated("GIF header"))?,
    );
    let flags = *b.get(10).ok_or_else(|| truncated("GIF header"))?;
    let mut at = 13;
    let mut palette_needed = false;
    if flags & 0x80 != 0 {
        let n = 3 << ((flags & 7) + 1);
        let p = b.get(at..at + n).ok_or_else(|| truncated("GIF palette"))?;
        palette_needed = !is_grey_ramp(p);
        at += n;
    }
    let mut frames = 0u64;
    let mut mode = None;
    while let Some(&block) = b.get(at) {
        match block {
            0x2c => {
                let Some(d) = b.get(at + 1..at + 10) else { break };
                let mut next = at + 10;
                let mut frame_palette = None;
                if d[8] & 0x80 != 0 {
                    let n = 3 << ((d[8] & 7) + 1);
                    frame_palette = b.get(next..next + n).map(|p| !is_grey_ramp(p));
                    next += n;
                }
                if frames == 0 {
                    let (x1, y1) = (le16(d, 0).unwrap_or(0) + le16(d, 4).unwrap_or(0),
                                    le16(d, 2).unwrap_or(0) + le16(d, 6).unwrap_or(0));
                    (width, height) = (width.max(x1), height.max(y1));
                    mode = Some(if frame_palette.unwrap_or(palette_needed) { "P" } else { "L" });
                }
                frames += 1;
                // LZW minimum code size, then the image data's sub-blocks
                match skip_sub_blocks(b, next + 1) {
                    Some(n) => at = n,
                    None => break,
                }
            }
            0x21 => match skip_sub_blocks(b, at + 2) {
                Some(n) => at = n,
                None => break,
            },
            _ => break, // 0x3b trailer, or garbage after the last frame
        }
    }
    if frames == 0 {
        return Err(truncated("GIF without an image"));
    }
    Ok(Info {
        width,
        height,
        format: "GIF",
        mode,
        orientation: None,
        frames,
    })
}

/// WebP: the RIFF chunks. VP8 (lossy, RGB), VP8L (lossless, RGBA when its alpha bit is
/// set) or VP8X (extended: canvas size, alpha flag, ANMF frames, EXIF), as libwebp's
/// `WebPGetFeatures` / `WebPAnimDecoder` report them to Pillow.
fn webp(b: &[u8]) -> Result<Info, String> {
    let chunk = b.get(12..16).ok_or_else(|| truncated("WebP header"))?;
    let head = |n: usize| b.get(20..20 + n).ok_or_else(|| truncated("WebP header"));
    let (width, height, alpha) = match chunk {
        b"VP8 " => {
            let h = head(10)?;
            if h[3..6] != [0x9d, 0x01, 0x2a] {
                return Err("undecodable: bad VP8 start code".into());
            }
            (le16(h, 6).unwrap() & 0x3fff, le16(h, 8).unwrap() & 0x3fff, false)
        }
        b"VP8L" => {
            let h = head(5)?;
            if h[0] != 0x2f {
                return Err("undecodable: bad VP8L signature".into());
            }
            let bits = le32(h, 1).unwrap();
            ((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1, bits >> 28 & 1 == 1)
        }
        b"VP8X" => {
            let h = head(10)?;
            (le24(h, 4).unwrap() + 1, le24(h, 7).unwrap() + 1, h[0] & 0x10 != 0)
        }
        _ => return Err("undecodable: unknown WebP chunk".into()),
    };
    let (mut frames, mut orientation) = (0u64, None);
    let mut at = 12;
    while let (Some(kind), Some(len)) = (b.get(at..at + 4), le32(b, at + 4)) {
        match kind {
            b"ANMF" => frames += 1,
            b"EXIF" => orientation = b.get(at + 8..at + 8 + len as usize).and_then(exif_orientation),
            _ => {}
        }
        at += 8 + len as usize + (len as usize & 1); // chunks are padded to even sizes
    }
    Ok(Info {
        width,
        height,
        format: "WEBP",
        mode: Some(if alpha { "RGBA" } else { "RGB" }),
        orientation,
        frames: frames.max(1),
    })
}

/// BMP: BmpImagePlugin's reading of the DIB header: palette images whose palette is the
/// grey ramp are L (1 with 2 colours), other palettes P; 16/24 bits RGB; 32 bits RGB, or
/// RGBA with a bitfield layout that has alpha.
fn bmp(b: &[u8]) -> Result<Info, String> {
    let header = le32(b, 14).ok_or_else(|| truncated("BMP header"))? as usize;
    let h = b.get(18..14 + header.max(4)).ok_or_else(|| truncated("BMP header"))?;
    let (width, height, bits, compression, colors, padding) = match header {
        12 => (le16(h, 0).unwrap(), le16(h, 2).unwrap(), le16(h, 6).unwrap(), 0, 0, 3),
        40 | 52 | 56 | 64 | 108 | 124 => {
            let raw_h = le32(h, 4).unwrap();
            let height = if h[7] == 0xff { (1u64 << 32) - raw_h } else { raw_h }; // top-down
            (le32(h, 0).unwrap(), height, le16(h, 10).unwrap(), le32(h, 12).unwrap(),
             le32(h, 28).unwrap(), 4)
        }
        n => return Err(format!("unsupported: BMP header size {n}")),
    };
    let colors = if colors == 0 && bits < 32 { 1u64 << bits } else { colors };
    let mut mode = match bits {
        1 | 4 | 8 => "P",
        16 | 24 => "RGB",
        32 => "RGB",
        n => return Err(format!("unsupported: {n}-bit BMP")),
    };
    if bits == 32 && compression == 3 {
        // masks follow a 40-byte header or sit inside a longer one: at 54 either way; alpha
        // only in a header of 56 bytes or more
        let mask = |i: usize| le32(b, 54 + 4 * i);
        let rgba = (mask(0), mask(1), mask(2), if header >= 56 { mask(3) } else { Some(0) });
        let with_alpha = [
            (0xff, 0xff00, 0xff0000, 0xff000000),
            (0xff0000, 0xff00, 0xff, 0xff000000),
            (0xff000000, 0xff0000, 0xff00, 0xff),
            (0xff000000, 0xff00, 0xff, 0xff0000),
            (0, 0, 0, 0),
        ];
        if let (Some(r), Some(g), Some(bl), Some(a)) = rgba {
            if with_alpha.contains(&(r, g, bl, a)) {
                mode = "RGBA";
            }
        }
    }
    if mode == "P" {
        if !(1..=65536).contains(&colors) {
            return Err(format!("unsupported: BMP palette of {colors} colours"));
        }
        let start = 14 + header;
        let grey = |i: usize, v: u64| {
            b.get(start + i * padding..start + i * padding + 3)
                .is_some_and(|p| p.iter().all(|&c| c as u64 == v))
        };
        let is_grey = if colors == 2 {
            grey(0, 0) && grey(1, 255)
        } else {
            (0..colors as usize).all(|i| grey(i, i as u64))
        };
        if is_grey {
            mode = if colors <= 2 { "1" } else { "L" };
        }
    }
    Ok(Info {
        width,
        height,
        format: "BMP",
        mode: Some(mode),
        orientation: None,
        frames: 1,
    })
}

/// TiffImagePlugin's mode of an IFD's layout (photometric, sample format, bits per sample,
/// extra samples); None where Pillow has none.
fn tiff_mode(ifd: &Ifd, big_endian: bool) -> Option<&'static str> {
    let bits = if ifd.bits.is_empty() { vec![1] } else { ifd.bits.clone() };
    let extra = ifd.extra_samples.first().copied();
    let depth = bits[0];
    if bits.iter().any(|&b| b != depth) {
        return None;
    }
    match (ifd.photometric?, bits.len()) {
        (0 | 1, 1) => match (depth, ifd.sample_format) {
            (1, _) => Some("1"),
            (2 | 4 | 8, _) => Some("L"),
            (12 | 16, 1) => Some(if big_endian { "I;16B" } else { "I;16" }),
            (16, 2) => Some(if big_endian { "I;16BS" } else { "I;16S" }),
            (32, 3) => Some("F"),
            (32, _) => Some("I"),
            _ => None,
        },
        (0 | 1, 2) if depth == 8 => match extra {
            Some(1) => Some("La"),
            Some(2) => Some("LA"),
            _ => Some("L"),
        },
        (2, 3) if depth == 8 || depth == 16 => Some("RGB"),
        (2, n) if n >= 4 && (depth == 8 || depth == 16) => match extra {
            Some(0) => Some("RGB"),
            _ => Some("RGBA"),
        },
        (3, 1) if depth <= 8 => Some("P"),
        (3, 2) if depth == 8 => Some(if extra == Some(2) { "PA" } else { "P" }),
        (5, n) if n >= 4 => Some("CMYK"),
        (6, 1) => Some("L"),
        (6, 3) if ifd.compression == 7 => Some("RGB"), // JPEG-compressed: libjpeg converts
        (6, 3) => Some("YCbCr"),
        (8, 3) => Some("LAB"),
        _ => None,
    }
}

/// TIFF: the first IFD's size, mode and orientation; frames are the IFDs of the chain.
fn tiff(b: &[u8]) -> Result<Info, String> {
    let t = Tiff::new(b)?;
    let (ifd, frames) = t.scan()?;
    let (Some(width), Some(height)) = (ifd.width, ifd.height) else {
        return Err("undecodable: TIFF without ImageWidth/ImageLength".into());
    };
    // Pillow reports (and loads) a TIFF transposed by its orientation: 5-8 swap the sides
    let (width, height) = match ifd.orientation {
        Some(5..=8) => (height, width),
        _ => (width, height),
    };
    Ok(Info {
        width,
        height,
        format: "TIFF",
        mode: tiff_mode(&ifd, t.big_endian()),
        orientation: ifd.orientation,
        frames,
    })
}

/// PPM/PGM/PBM and PFM: whitespace-separated header tokens, `#` comments skipped. Pillow:
/// P1/P4 "1", P2/P5 "L" (maxval < 256) or "I", P3/P6 "RGB", Pf "F".
fn pnm(b: &[u8]) -> Result<Info, String> {
    let kind = b[1];
    let wanted = if matches!(kind, b'1' | b'4') { 2 } else { 3 };
    let mut tokens = Vec::with_capacity(3);
    let mut at = 2;
    while tokens.len() < wanted {
        match b.get(at) {
            None => return Err(truncated("PNM header")),
            Some(b'#') => {
                while b.get(at).is_some_and(|&c| c != b'\n' && c != b'\r') {
                    at += 1;
                }
            }
            Some(c) if c.is_ascii_whitespace() => at += 1,
            Some(_) => {
                let start = at;
                while b.get(at).is_some_and(|c| !c.is_ascii_whitespace() && *c != b'#') {
                    at += 1;
                }
                tokens.push(&b[start..at]);
            }
        }
    }
    let parse = |t: &[u8]| -> Result<u64, String> {
        std::str::from_utf8(t)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| "undecodable: bad PNM header".to_string())
    };
    let (width, height) = (parse(tokens[0])?, parse(tokens[1])?);
    let mode = match kind {
        b'1' | b'4' => "1",
        b'2' | b'5' => if parse(tokens[2])? < 256 { "L" } else { "I" },
        b'3' | b'6' => "RGB",
        _ => "F",
    };
    Ok(Info {
        width,
        height,
        format: "PPM",
        mode: Some(mode),
        orientation: None,
        frames: 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn encoded(img: image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        img.write_to(&mut buf, format).unwrap();
        buf.into_inner()
    }

    #[test]
    fn sizes_and_modes_of_encoded_images() {
        use image::ImageFormat::*;
        let rgb = image::DynamicImage::new_rgb8(37, 21);
        for (format, name, mode) in [(Png, "PNG", "RGB"), (Jpeg, "JPEG", "RGB"),
                                     (Bmp, "BMP", "RGB"), (Tiff, "TIFF", "RGB"),
                                     (Gif, "GIF", "P")] {
            let info = probe(&encoded(rgb.clone(), format)).unwrap();
            assert_eq!((info.width, info.height, info.format), (37, 21, name), "{format:?}");
            assert_eq!((info.mode, info.frames), (Some(mode), 1), "{format:?}");
        }
        let grey = image::DynamicImage::new_luma8(5, 9);
        assert_eq!(probe(&encoded(grey.clone(), Png)).unwrap().mode, Some("L"));
        assert_eq!(probe(&encoded(grey, Jpeg)).unwrap().mode, Some("L"));
        let la16 = image::DynamicImage::new_luma_a16(5, 9);
        assert_eq!(probe(&encoded(la16, Png)).unwrap().mode, Some("RGBA")); // Pillow's LA;16B
    }

    #[test]
    fn webp_chunks_give_size_alpha_and_frames() {
        let riff = |chunks: &[u8]| {
            let mut b = b"RIFF".to_vec();
            b.extend((4 + chunks.len() as u32).to_le_bytes());
            b.extend(b"WEBP");
            b.extend(chunks);
            b
        };
        // VP8X: alpha + animation flags, canvas 300 x 200, then two ANMF frames
        let mut x = b"VP8X".to_vec();
        x.extend(10u32.to_le_bytes());
        x.extend([0x12, 0, 0, 0]);
        x.extend(&299u32.to_le_bytes()[..3]);
        x.extend(&199u32.to_le_bytes()[..3]);
        for _ in 0..2 {
            x.extend(b"ANMF");
            x.extend(3u32.to_le_bytes());
            x.extend([0, 0, 0, 0]); // 3 bytes + 1 padding
        }
        let info = probe(&riff(&x)).unwrap();
        assert_eq!((info.width, info.height, info.mode, info.frames), (300, 200, Some("RGBA"), 2));
        // VP8L: 14-bit sizes minus one, alpha bit 28
        let mut l = b"VP8L".to_vec();
        l.extend(5u32.to_le_bytes());
        l.push(0x2f);
        l.extend((99u32 | 49 << 14).to_le_bytes());
        let info = probe(&riff(&l)).unwrap();
        assert_eq!((info.width, info.height, info.mode), (100, 50, Some("RGB")));
    }

    #[test]
    fn gif_frames_are_counted_by_walking_blocks() {
        let frame = |b: &mut Vec<u8>| {
            b.extend([0x2c, 0, 0, 0, 0, 4, 0, 2, 0, 0]); // 4 x 2 at 0,0, no local palette
            b.extend([2, 3, 1, 2, 3, 0]); // min code size, one 3-byte sub-block, terminator
        };
        let mut b = b"GIF89a".to_vec();
        b.extend([4, 0, 2, 0, 0x80, 0, 0]); // global palette of 2 colours
        b.extend([0, 0, 0, 9, 9, 9]); // not a grey ramp: P
        for _ in 0..3 {
            b.extend([0x21, 0xf9, 4, 0, 0, 0, 0, 0]); // graphic control extension
            frame(&mut b);
        }
        b.push(0x3b);
        let info = probe(&b).unwrap();
        assert_eq!((info.width, info.height, info.mode, info.frames), (4, 2, Some("P"), 3));
        b.truncate(b.len() - 10); // the last frame cut: two complete ones counted
        assert_eq!(probe(&b).unwrap().frames, 2);
    }

    #[test]
    fn pnm_headers_with_comments() {
        let info = probe(b"P5 # a comment\n 640\t480\n65535\n").unwrap();
        assert_eq!((info.width, info.height, info.mode), (640, 480, Some("I")));
        assert_eq!(probe(b"P4\n3 2\n\x00\x00").unwrap().mode, Some("1"));
        assert!(probe(b"P6\n3").unwrap_err().starts_with("truncated"));
    }

    #[test]
    fn jpeg_markers_with_fill_bytes_and_exif_before_the_frame() {
        let exif = super::super::tiff::tests::tiff_with(true, &[(274, 3, 1, 8)]);
        let mut b = vec![0xff, 0xd8, 0xff, 0xe1];
        b.extend(((exif.len() + 8) as u16).to_be_bytes());
        b.extend(b"Exif\0\0");
        b.extend(&exif);
        b.extend([0xff, 0xff, 0xff, 0xc2, 0, 11, 8, 0, 7, 1, 0, 1, 1, 0x11, 0]); // progressive SOF
        let info = probe(&b).unwrap();
        assert_eq!((info.width, info.height, info.mode, info.orientation), (256, 7, Some("L"), Some(8)));
        assert!(probe(&b[..20]).unwrap_err().starts_with("truncated"));
    }

    #[test]
    fn bad_bytes_are_errors() {
        assert_eq!(probe(b"").unwrap_err(), "empty: zero bytes");
        assert_eq!(probe(b"hello world").unwrap_err(), "unknown image format");
        assert!(probe(b"\x89PNG\r\n\x1a\n\0\0").unwrap_err().starts_with("truncated"));
        assert!(probe(b"GIF89a\0\0\0\0\0\0\0").unwrap_err().starts_with("truncated"));
        assert_eq!(probe(b"P5 0 5 255 ").unwrap_err(), "empty image: 0x5");
        assert!(probe(b"BM\0\0\0\0\0\0\0\0\0\0\0\0\x07\0\0\0").is_err());
    }
}
