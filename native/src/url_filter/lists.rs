//! Reading list files: plain text (optionally gzip) or members of a tar archive (optionally
//! gzip), line by line, without extracting anything to disk or holding a whole file in memory.
//!
//! UT1 files are mostly ASCII with a few Latin-1 strays: an undecodable byte spoils only its
//! own line (replaced by U+FFFD), as in Python's `errors="replace"`.

use std::collections::HashSet;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

/// Where one list comes from: a file, or the member of a tar archive (`.tar`, `.tar.gz`,
/// `.tgz`) with that path inside it (a leading `./` is ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub path: PathBuf,
    pub member: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum LoadError {
    /// A file or archive member that does not exist.
    NotFound(String),
    /// An unreadable file or archive (I/O error, corrupt gzip or tar).
    Io(String),
    /// An entry the lists cannot take (e.g. a domain set past its size limit).
    Invalid(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::NotFound(m) | LoadError::Io(m) | LoadError::Invalid(m) => f.write_str(m),
        }
    }
}

fn io_error(path: &Path, e: io::Error) -> LoadError {
    let shown = path.display();
    match e.kind() {
        io::ErrorKind::NotFound => LoadError::NotFound(format!("URL list not found: {shown}")),
        _ => LoadError::Io(format!("cannot read URL list {shown}: {e}")),
    }
}

fn name_ends_with(path: &Path, suffixes: &[&str]) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase());
    name.is_some_and(|n| suffixes.iter().any(|s| n.ends_with(s)))
}

fn is_archive(path: &Path) -> bool {
    name_ends_with(path, &[".tar", ".tar.gz", ".tgz"])
}

/// The file's bytes, gunzipped when its name says gzip.
fn open(path: &Path) -> Result<Box<dyn Read>, LoadError> {
    let file = File::open(path).map_err(|e| io_error(path, e))?;
    if name_ends_with(path, &[".gz", ".tgz"]) {
        Ok(Box::new(MultiGzDecoder::new(file)))
    } else {
        Ok(Box::new(file))
    }
}

/// Call `each` with every line of `reader` (without its line ending).
fn for_each_line(
    reader: impl Read,
    shown: &dyn fmt::Display,
    each: &mut dyn FnMut(&str) -> Result<(), String>,
) -> Result<(), LoadError> {
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| LoadError::Io(format!("cannot read URL list {shown}: {e}")))?;
        if n == 0 {
            return Ok(());
        }
        let line = String::from_utf8_lossy(&buf);
        each(line.trim_end_matches(['\n', '\r'])).map_err(LoadError::Invalid)?;
    }
}

/// Call `sink(key, line)` for every line of every source. Each archive is read once however
/// many of its members are asked for; a missing file or member is an error.
pub fn read_sources<K: Copy>(
    sources: &[(K, Source)],
    mut sink: impl FnMut(K, &str) -> Result<(), String>,
) -> Result<(), LoadError> {
    let mut archives: Vec<&Path> = Vec::new();
    for (key, source) in sources {
        match (&source.member, is_archive(&source.path)) {
            (None, false) => {
                let shown = source.path.display();
                for_each_line(open(&source.path)?, &shown, &mut |l| sink(*key, l))?;
            }
            (None, true) => {
                return Err(LoadError::Invalid(format!(
                    "{} is an archive: name the member to read",
                    source.path.display()
                )))
            }
            (Some(_), _) if !archives.contains(&source.path.as_path()) => {
                archives.push(&source.path)
            }
            (Some(_), _) => {}
        }
    }
    for archive in archives {
        let wanted: Vec<(K, &str)> = sources
            .iter()
            .filter(|(_, s)| s.path == archive)
            .filter_map(|(k, s)| Some((*k, s.member.as_deref()?)))
            .collect();
        read_archive(archive, &wanted, &mut sink)?;
    }
    Ok(())
}

fn read_archive<K: Copy>(
    path: &Path,
    wanted: &[(K, &str)],
    sink: &mut impl FnMut(K, &str) -> Result<(), String>,
) -> Result<(), LoadError> {
    let corrupt =
        |e: io::Error| LoadError::Io(format!("cannot read archive {}: {e}", path.display()));
    let mut archive = tar::Archive::new(open(path)?);
    let all: HashSet<&str> = wanted.iter().map(|(_, m)| *m).collect();
    let mut found: HashSet<&str> = HashSet::new();
    for entry in archive.entries().map_err(corrupt)? {
        if found.len() == all.len() {
            break; // the rest of the archive need not be inflated
        }
        let entry = entry.map_err(corrupt)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry
            .path()
            .map_err(corrupt)?
            .to_string_lossy()
            .into_owned();
        let name = name.trim_start_matches("./");
        let keys: Vec<K> = wanted
            .iter()
            .filter(|(_, m)| *m == name)
            .map(|(k, _)| *k)
            .collect();
        if keys.is_empty() {
            continue;
        }
        found.extend(wanted.iter().map(|(_, m)| *m).filter(|m| *m == name));
        let shown = format!("{}:{name}", path.display());
        for_each_line(entry, &shown, &mut |line| {
            keys.iter().try_for_each(|k| sink(*k, line))
        })?;
    }
    match wanted.iter().find(|(_, m)| !found.contains(m)) {
        Some((_, m)) => Err(LoadError::NotFound(format!(
            "URL list {m:?} not found in archive {}",
            path.display()
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use std::io::Write;

    fn tar_gz(dir: &Path, members: &[(&str, &[u8])]) -> PathBuf {
        let path = dir.join("lists.tar.gz");
        let gz = GzEncoder::new(File::create(&path).unwrap(), Compression::fast());
        let mut builder = tar::Builder::new(gz);
        for (name, data) in members {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, name, *data).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap();
        path
    }

    fn collect(sources: &[(u8, Source)]) -> Result<Vec<(u8, String)>, LoadError> {
        let mut out = Vec::new();
        read_sources(sources, |k, l| {
            out.push((k, l.to_string()));
            Ok(())
        })?;
        Ok(out)
    }

    fn src(path: &Path, member: Option<&str>) -> Source {
        Source {
            path: path.to_path_buf(),
            member: member.map(str::to_string),
        }
    }

    #[test]
    fn plain_gzip_and_archive_members() {
        let dir = std::env::temp_dir().join(format!("mdfql-lists-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let plain = dir.join("words.txt");
        std::fs::write(&plain, b"one\r\ntw\xe9o\n\nthree").unwrap();
        let gz = dir.join("more.txt.gz");
        let mut enc = GzEncoder::new(File::create(&gz).unwrap(), Compression::fast());
        enc.write_all(b"four\n").unwrap();
        enc.finish().unwrap();
        let archive = tar_gz(
            &dir,
            &[("./domains", b"a.example\nb.example\n"), ("urls", b"u/1\n")],
        );
        let got = collect(&[
            (0, src(&plain, None)),
            (1, src(&archive, Some("domains"))),
            (2, src(&archive, Some("urls"))),
            (3, src(&gz, None)),
        ])
        .unwrap();
        let want = [
            (0, "one"),
            (0, "tw\u{fffd}o"),
            (0, ""),
            (0, "three"),
            (3, "four"),
            (1, "a.example"),
            (1, "b.example"),
            (2, "u/1"),
        ];
        let want: Vec<(u8, String)> = want.iter().map(|(k, l)| (*k, l.to_string())).collect();
        assert_eq!(got, want);

        let missing = collect(&[(0, src(&archive, Some("nope")))]).unwrap_err();
        assert!(matches!(missing, LoadError::NotFound(m) if m.contains("\"nope\"")));
        let absent = collect(&[(0, src(&dir.join("absent.txt"), None))]).unwrap_err();
        assert!(matches!(absent, LoadError::NotFound(m) if m.contains("absent.txt")));
        std::fs::write(dir.join("bad.tar.gz"), b"not gzip at all").unwrap();
        let bad = collect(&[(0, src(&dir.join("bad.tar.gz"), Some("domains")))]).unwrap_err();
        assert!(matches!(bad, LoadError::Io(_)), "{bad:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sink_errors_stop_reading() {
        let dir = std::env::temp_dir().join(format!("mdfql-lists-sink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let plain = dir.join("w.txt");
        std::fs::write(&plain, "x\ny\n").unwrap();
        let err = read_sources(&[((), src(&plain, None))], |_, _| Err("full".into())).unwrap_err();
        assert_eq!(err, LoadError::Invalid("full".into()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
