//! Reading a published list into the library's `Import`: which importer a watchlist id uses, OFAC's
//! companion files (`add.csv`, `alt.csv`, `sdn_comments.csv`), the EU list's two formats (XML or CSV, told
//! apart by the first byte) and byte counting for progress bars. Must not touch the database.

use super::list_source;
use crate::error::AppError;
use crate::screening::import::{eu, ofac, opensanctions, uk, un};
use crate::screening::{Import, ListSource};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A named input stream.
pub struct Input {
    pub name: String,
    pub reader: Box<dyn Read + Send>,
}

impl Input {
    pub fn bytes(name: impl Into<String>, bytes: Vec<u8>) -> Input {
        Input { name: name.into(), reader: Box::new(io::Cursor::new(bytes)) }
    }
}

/// The files of one list: the main file and, for OFAC only, the optional companions.
pub struct ListFiles {
    pub main: Input,
    pub add: Option<Input>,
    pub alt: Option<Input>,
    pub comments: Option<Input>,
}

impl ListFiles {
    pub fn names(&self) -> Vec<String> {
        [Some(&self.main), self.add.as_ref(), self.alt.as_ref(), self.comments.as_ref()]
            .into_iter()
            .flatten()
            .map(|i| i.name.clone())
            .collect()
    }
}

/// Parses a list with its importer. Importer errors (they name the file and line) become a 422.
pub fn parse(watchlist_id: &str, files: ListFiles) -> Result<Import, AppError> {
    let source = list_source(watchlist_id)
        .ok_or_else(|| AppError::validation("source", "must be one of ofac, un, eu, uk, opensanctions"))?;
    let ListFiles { main, add, alt, comments } = files;
    let result = match source {
        ListSource::OfacSdn => {
            let mut sdn = main.reader;
            let mut add = add.map(|i| i.reader);
            let mut alt = alt.map(|i| i.reader);
            let mut comments = comments.map(|i| i.reader);
            ofac::import(
                &mut sdn,
                alt.as_mut().map(|r| r as &mut dyn Read),
                add.as_mut().map(|r| r as &mut dyn Read),
                comments.as_mut().map(|r| r as &mut dyn Read),
            )
        }
        ListSource::UnConsolidated => un::import(main.reader),
        ListSource::UkConsolidated => uk::import(main.reader),
        ListSource::OpenSanctions => opensanctions::import(main.reader),
        ListSource::EuConsolidated => {
            let mut reader = BufReader::new(main.reader);
            if starts_with_markup(&mut reader)
                .map_err(|e| AppError::validation("file", format!("cannot read the EU list: {e}")))?
            {
                eu::import_xml(reader)
            } else {
                eu::import_csv(reader)
            }
        }
    };
    result.map_err(|e| AppError::validation("file", e.to_string()))
}

/// True when the first byte after a BOM and whitespace is `<` (the EU list's XML form).
fn starts_with_markup<R: Read>(reader: &mut BufReader<R>) -> io::Result<bool> {
    let buf = reader.fill_buf()?;
    let text = buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(buf);
    Ok(text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<'))
}

/// Counts bytes as they are read (for a progress bar).
pub type OnRead = Arc<dyn Fn(u64) + Send + Sync>;

struct Counting<R> {
    inner: R,
    on_read: OnRead,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.on_read)(n as u64);
        Ok(n)
    }
}

/// `inner`, calling `on_read` with the size of every read.
pub fn counting<R: Read + Send + 'static>(inner: R, on_read: OnRead) -> impl Read + Send {
    Counting { inner, on_read }
}

fn open(path: &Path, on_read: &OnRead) -> Result<(Input, u64), String> {
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let reader = Counting { inner: BufReader::with_capacity(256 * 1024, file), on_read: on_read.clone() };
    Ok((Input { name, reader: Box::new(reader) }, len))
}

/// Opens a list's files for the CLI. For OFAC, `main` is `sdn.csv`; `add.csv`, `alt.csv` and
/// `sdn_comments.csv` are taken from the explicit paths when given, else from beside `main` when present.
/// Returns the files and their total size in bytes.
pub fn open_files(
    watchlist_id: &str,
    main: &Path,
    add: Option<&Path>,
    alt: Option<&Path>,
    comments: Option<&Path>,
    on_read: OnRead,
) -> Result<(ListFiles, u64), String> {
    let (main_input, mut total) = open(main, &on_read)?;
    let mut files = ListFiles { main: main_input, add: None, alt: None, comments: None };
    if watchlist_id == "ofac" {
        let dir = main.parent().map(Path::to_path_buf).unwrap_or_default();
        let pick = |explicit: Option<&Path>, beside: &str| -> Option<PathBuf> {
            match explicit {
                Some(p) => Some(p.to_path_buf()),
                None => Some(dir.join(beside)).filter(|p| p.is_file()),
            }
        };
        let mut take = |path: Option<PathBuf>| -> Result<Option<Input>, String> {
            match path {
                Some(p) => {
                    let (input, len) = open(&p, &on_read)?;
                    total += len;
                    Ok(Some(input))
                }
                None => Ok(None),
            }
        };
        files.add = take(pick(add, "add.csv"))?;
        files.alt = take(pick(alt, "alt.csv"))?;
        files.comments = take(pick(comments, "sdn_comments.csv"))?;
    } else if add.is_some() || alt.is_some() || comments.is_some() {
        return Err("--add, --alt and --comments are for --source ofac only".into());
    }
    Ok((files, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eu_format_is_told_by_its_first_byte() {
        let mut xml = BufReader::new(io::Cursor::new(b"\xEF\xBB\xBF  <export/>".to_vec()));
        assert!(starts_with_markup(&mut xml).unwrap());
        let mut csv = BufReader::new(io::Cursor::new(b"Entity_LogicalId;x".to_vec()));
        assert!(!starts_with_markup(&mut csv).unwrap());
    }

    #[test]
    fn an_unknown_source_is_refused() {
        let files = ListFiles { main: Input::bytes("x", Vec::new()), add: None, alt: None, comments: None };
        assert!(parse("nope", files).is_err());
    }
}
