//! A TIFF IFD reader: enough of TIFF 6.0 (sections 2 and 8) for the tags `image_info` needs,
//! from TIFF files and from the TIFF structure inside EXIF blocks (JPEG APP1, PNG eXIf,
//! WebP EXIF). Values are read in place from the bytes; nothing is decoded.

/// One IFD's values of the tags `image_info` reads (absent tags as TIFF's defaults).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Ifd {
    pub width: Option<u64>,
    pub height: Option<u64>,
    pub bits: Vec<u16>,
    pub compression: u16,
    pub photometric: Option<u16>,
    pub orientation: Option<u16>,
    pub samples: Option<u16>,
    pub extra_samples: Vec<u16>,
    pub sample_format: u16,
}

/// A TIFF structure: its byte order and where each IFD starts.
pub struct Tiff<'a> {
    data: &'a [u8],
    little: bool,
}

/// IFDs followed at most (a chain that loops or is absurdly long stops here).
const MAX_IFDS: usize = 10_000;

impl<'a> Tiff<'a> {
    /// The TIFF header of `data` ("II*\0" or "MM\0*"); BigTIFF is not read.
    pub fn new(data: &'a [u8]) -> Result<Self, String> {
        let little = match data.get(..4) {
            Some(b"II*\0") => true,
            Some(b"MM\0*") => false,
            Some(b"II+\0") | Some(b"MM\0+") => return Err("unsupported: BigTIFF".into()),
            _ => return Err("undecodable: not a TIFF header".into()),
        };
        Ok(Tiff { data, little })
    }

    pub fn big_endian(&self) -> bool {
        !self.little
    }

    fn u16_at(&self, at: usize) -> Option<u16> {
        let b: [u8; 2] = self.data.get(at..at + 2)?.try_into().ok()?;
        Some(if self.little { u16::from_le_bytes(b) } else { u16::from_be_bytes(b) })
    }

    fn u32_at(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.data.get(at..at + 4)?.try_into().ok()?;
        Some(if self.little { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) })
    }

    /// The offset of the first IFD.
    pub fn first(&self) -> Option<usize> {
        self.u32_at(4).map(|o| o as usize)
    }

    /// The values of an entry of type SHORT (3) or LONG (4), at most `max` of them.
    fn values(&self, entry: usize, max: usize) -> Vec<u64> {
        let (Some(kind), Some(count)) = (self.u16_at(entry + 2), self.u32_at(entry + 4)) else {
            return Vec::new();
        };
        let size = match kind {
            3 => 2,
            4 => 4,
            1 => 1,
            _ => return Vec::new(),
        };
        let count = (count as usize).min(max);
        // values that fit in the entry's 4 bytes are stored there, else at an offset
        let start = if count * size <= 4 {
            entry + 8
        } else {
            match self.u32_at(entry + 8) {
                Some(o) => o as usize,
                None => return Vec::new(),
            }
        };
        (0..count)
            .map_while(|i| {
                let at = start + i * size;
                match size {
                    1 => self.data.get(at).map(|&b| b as u64),
                    2 => self.u16_at(at).map(u64::from),
                    _ => self.u32_at(at).map(u64::from),
                }
            })
            .collect()
    }

    /// The IFD at `offset` and the offset of the next one (None at the end of the chain).
    pub fn ifd(&self, offset: usize) -> Result<(Ifd, Option<usize>), String> {
        let n = self
            .u16_at(offset)
            .ok_or_else(|| "truncated: IFD past the end".to_string())? as usize;
        let mut ifd = Ifd {
            compression: 1,
            sample_format: 1,
            ..Ifd::default()
        };
        for i in 0..n {
            let entry = offset + 2 + 12 * i;
            let tag = self
                .u16_at(entry)
                .ok_or_else(|| "truncated: IFD entry past the end".to_string())?;
            let first = || self.values(entry, 1).first().copied();
            let short = || first().map(|v| v as u16);
            match tag {
                256 => ifd.width = first(),
                257 => ifd.height = first(),
                258 => ifd.bits = self.values(entry, 16).iter().map(|&v| v as u16).collect(),
                259 => ifd.compression = short().unwrap_or(1),
                262 => ifd.photometric = short(),
                274 => ifd.orientation = short(),
                277 => ifd.samples = short(),
                338 => {
                    ifd.extra_samples =
                        self.values(entry, 16).iter().map(|&v| v as u16).collect()
                }
                339 => ifd.sample_format = short().unwrap_or(1),
                _ => {}
            }
        }
        let next = self.u32_at(offset + 2 + 12 * n).unwrap_or(0) as usize;
        Ok((ifd, (next != 0).then_some(next)))
    }

    /// The first IFD and how many IFDs the chain holds (a loop or a broken link ends it).
    pub fn scan(&self) -> Result<(Ifd, u64), String> {
        let first = self.first().ok_or("truncated: no IFD offset")?;
        let (ifd, mut next) = self.ifd(first)?;
        let mut seen = vec![first];
        while let Some(at) = next {
            if seen.len() >= MAX_IFDS || seen.contains(&at) {
                break;
            }
            match self.ifd(at) {
                Ok((_, n)) => {
                    seen.push(at);
                    next = n;
                }
                Err(_) => break,
            }
        }
        Ok((ifd, seen.len() as u64))
    }
}

/// The orientation tag (274) of an EXIF block: the TIFF structure, after an optional
/// "Exif\0\0" prefix (JPEG's APP1 has it, PNG's eXIf and WebP's EXIF usually not).
pub fn exif_orientation(block: &[u8]) -> Option<u16> {
    let tiff = block.strip_prefix(b"Exif\0\0").unwrap_or(block);
    let t = Tiff::new(tiff).ok()?;
    t.ifd(t.first()?).ok()?.0.orientation
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A one-IFD TIFF structure with the given (tag, type, count, value) entries.
    pub(crate) fn tiff_with(little: bool, entries: &[(u16, u16, u32, u32)]) -> Vec<u8> {
        let u16b = |v: u16| if little { v.to_le_bytes() } else { v.to_be_bytes() };
        let u32b = |v: u32| if little { v.to_le_bytes() } else { v.to_be_bytes() };
        let mut b: Vec<u8> = if little { b"II*\0".to_vec() } else { b"MM\0*".to_vec() };
        b.extend(u32b(8));
        b.extend(u16b(entries.len() as u16));
        for &(tag, kind, count, value) in entries {
            b.extend(u16b(tag));
            b.extend(u16b(kind));
            b.extend(u32b(count));
            if kind == 3 && count == 1 {
                b.extend(u16b(value as u16));
                b.extend([0, 0]);
            } else {
                b.extend(u32b(value));
            }
        }
        b.extend(u32b(0));
        b
    }

    #[test]
    fn reads_tags_in_both_byte_orders() {
        for little in [true, false] {
            let t = tiff_with(little, &[(256, 4, 1, 640), (257, 3, 1, 480), (274, 3, 1, 6)]);
            let tiff = Tiff::new(&t).unwrap();
            let (ifd, frames) = tiff.scan().unwrap();
            assert_eq!((ifd.width, ifd.height, ifd.orientation), (Some(640), Some(480), Some(6)));
            assert_eq!(frames, 1);
            assert_eq!(tiff.big_endian(), !little);
        }
    }

    #[test]
    fn exif_blocks_with_and_without_prefix() {
        let t = tiff_with(false, &[(274, 3, 1, 3)]);
        assert_eq!(exif_orientation(&t), Some(3));
        assert_eq!(exif_orientation(&[b"Exif\0\0".as_slice(), &t].concat()), Some(3));
        assert_eq!(exif_orientation(b"Exif\0\0garbage"), None);
        assert_eq!(exif_orientation(&t[..12]), None); // truncated inside the IFD
    }

    #[test]
    fn a_looping_ifd_chain_ends() {
        let mut t = tiff_with(true, &[(256, 4, 1, 1)]);
        let n = t.len();
        t[n - 4..].copy_from_slice(&8u32.to_le_bytes()); // next IFD: itself
        assert_eq!(Tiff::new(&t).unwrap().scan().unwrap().1, 1);
    }
}
