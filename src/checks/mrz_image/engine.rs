//! The Tesseract engine behind the MRZ reader: one initialised handle, a grey image in, lines of symbols with
//! the engine's own alternatives out. Owns every unsafe call into libtesseract; must not interpret the text.

// Unsafe calls into libtesseract's C API, each with its SAFETY argument (the other unsafe module is
// store/wal_coalesce.rs, the SQLite VFS).
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::os::raw::c_int;
use std::path::PathBuf;
use std::ptr;

use tesseract_sys as ts;

use super::{Symbol, MRZ_ALPHABET};

/// Why the engine could not be started.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("Tesseract's English language data (eng.traineddata) is not installed")]
    LanguageDataMissing,
    #[error("Tesseract could not be initialised")]
    Init,
}

pub struct Engine {
    api: *mut ts::TessBaseAPI,
}

// A TessBaseAPI may move between threads; it is never shared (every use takes `&mut self`).
unsafe impl Send for Engine {}

/// Where Tesseract's language data lives: `TESSDATA_PREFIX` if set, else Debian's directories.
fn tessdata_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("TESSDATA_PREFIX") {
        dirs.push(PathBuf::from(p));
    }
    for v in ["5", "4.00", "4"] {
        dirs.push(PathBuf::from(format!("/usr/share/tesseract-ocr/{v}/tessdata")));
    }
    dirs.push(PathBuf::from("/usr/share/tessdata"));
    dirs.into_iter().find(|d| d.join("eng.traineddata").is_file())
}

impl Engine {
    /// Starts the LSTM engine with the English model, limited to the MRZ alphabet. An explicit error when
    /// the language data is missing: the caller must then report that nothing could be read.
    pub fn new() -> Result<Self, EngineError> {
        let dir = tessdata_dir().ok_or(EngineError::LanguageDataMissing)?;
        let dir = CString::new(dir.to_string_lossy().into_owned()).map_err(|_| EngineError::Init)?;
        let lang = CString::new("eng").map_err(|_| EngineError::Init)?;
        // SAFETY: the handle is checked for null, and deleted on every failure path.
        unsafe {
            let api = ts::TessBaseAPICreate();
            if api.is_null() {
                return Err(EngineError::Init);
            }
            if ts::TessBaseAPIInit3(api, dir.as_ptr(), lang.as_ptr()) != 0 {
                ts::TessBaseAPIDelete(api);
                return Err(EngineError::LanguageDataMissing);
            }
            let engine = Self { api };
            // Dictionaries would pull fillers towards words; the choice mode makes the LSTM report its
            // per-character alternatives through the choice iterator.
            for (k, v) in [
                ("tessedit_char_whitelist", MRZ_ALPHABET),
                ("load_system_dawg", "0"),
                ("load_freq_dawg", "0"),
                ("lstm_choice_mode", "2"),
                ("debug_file", "/dev/null"),
            ] {
                engine.set_variable(k, v);
            }
            Ok(engine)
        }
    }

    fn set_variable(&self, name: &str, value: &str) {
        let (Ok(n), Ok(v)) = (CString::new(name), CString::new(value)) else { return };
        // SAFETY: api is a live handle; both strings outlive the call.
        unsafe {
            ts::TessBaseAPISetVariable(self.api, n.as_ptr(), v.as_ptr());
        }
    }

    /// Recognises a grey image (one byte a pixel, row-major) as a single block of text; returns its lines.
    pub fn recognise(&mut self, pixels: &[u8], width: u32, height: u32, single_line: bool) -> Vec<Vec<Symbol>> {
        let (Ok(w), Ok(h)) = (c_int::try_from(width), c_int::try_from(height)) else { return Vec::new() };
        if pixels.len() != width as usize * height as usize || width == 0 || height == 0 {
            return Vec::new();
        }
        let mut lines: Vec<Vec<Symbol>> = Vec::new();
        // SAFETY: the buffer holds width*height bytes and outlives Recognize; every iterator and text is
        // deleted before returning, and Clear drops the image before the buffer goes away.
        unsafe {
            let psm =
                if single_line { ts::TessPageSegMode_PSM_SINGLE_LINE } else { ts::TessPageSegMode_PSM_SINGLE_BLOCK };
            ts::TessBaseAPISetPageSegMode(self.api, psm);
            ts::TessBaseAPISetImage(self.api, pixels.as_ptr(), w, h, 1, w);
            ts::TessBaseAPISetSourceResolution(self.api, 300);
            if ts::TessBaseAPIRecognize(self.api, ptr::null_mut()) != 0 {
                ts::TessBaseAPIClear(self.api);
                return lines;
            }
            let ri = ts::TessBaseAPIGetIterator(self.api);
            if !ri.is_null() {
                let pi = ts::TessResultIteratorGetPageIterator(ri);
                loop {
                    if ts::TessPageIteratorIsAtBeginningOf(pi, ts::TessPageIteratorLevel_RIL_TEXTLINE) != 0
                        || lines.is_empty()
                    {
                        lines.push(Vec::new());
                    }
                    if let Some(sym) = symbol_at(ri) {
                        if let Some(line) = lines.last_mut() {
                            line.push(sym);
                        }
                    }
                    if ts::TessResultIteratorNext(ri, ts::TessPageIteratorLevel_RIL_SYMBOL) == 0 {
                        break;
                    }
                }
                ts::TessResultIteratorDelete(ri);
            }
            ts::TessBaseAPIClear(self.api);
        }
        lines.retain(|l| !l.is_empty());
        lines
    }
}

/// The symbol under the iterator with its alternatives (only characters of the MRZ alphabet).
unsafe fn symbol_at(ri: *mut ts::TessResultIterator) -> Option<Symbol> {
    let text = ts::TessResultIteratorGetUTF8Text(ri, ts::TessPageIteratorLevel_RIL_SYMBOL);
    if text.is_null() {
        return None;
    }
    let top = CStr::from_ptr(text).to_str().ok().and_then(single_mrz_char);
    ts::TessDeleteText(text);
    let top = top?;
    let conf = ts::TessResultIteratorConfidence(ri, ts::TessPageIteratorLevel_RIL_SYMBOL);
    let mut choices = vec![(top, conf)];
    let ci = ts::TessResultIteratorGetChoiceIterator(ri);
    if !ci.is_null() {
        loop {
            let t = ts::TessChoiceIteratorGetUTF8Text(ci);
            if !t.is_null() {
                if let Some(c) = CStr::from_ptr(t).to_str().ok().and_then(single_mrz_char) {
                    let cc = ts::TessChoiceIteratorConfidence(ci);
                    match choices.iter_mut().find(|(x, _)| *x == c) {
                        Some(e) => e.1 = e.1.max(cc),
                        None => choices.push((c, cc)),
                    }
                }
            }
            if ts::TessChoiceIteratorNext(ci) == 0 {
                break;
            }
        }
        ts::TessChoiceIteratorDelete(ci);
    }
    let first = choices[0];
    choices[1..].sort_by(|a, b| b.1.total_cmp(&a.1));
    choices[0] = first;
    Some(Symbol { choices, fallback: Vec::new() })
}

fn single_mrz_char(s: &str) -> Option<char> {
    let mut it = s.chars();
    let c = it.next()?;
    (it.next().is_none() && MRZ_ALPHABET.contains(c)).then_some(c)
}

impl Drop for Engine {
    fn drop(&mut self) {
        // SAFETY: api came from TessBaseAPICreate and is dropped once.
        unsafe {
            ts::TessBaseAPIEnd(self.api);
            ts::TessBaseAPIDelete(self.api);
        }
    }
}
