//! Which quarter turn of a binarised image holds a PDF417 symbol, found with word-level rotations of the
//! bit matrix, so that rxing's full reader runs only on images that hold one, and on them upright. Owns the
//! rotations and the search order; must not decode a symbol (that stays rxing's, in `checks::barcode`) and
//! must not look at anything but the bits it is given.
//!
//! rxing's PDF417 reader looks for the start and stop patterns in the image as it is, then turned 180, 270
//! and 90 degrees counter-clockwise, and stops at the first turn where it finds them. Each turn is a copy of
//! the bit matrix rotated bit by bit (`BitMatrix::rotate90` reads and sets every pixel, and a 270-degree
//! turn is a 90 then a 180), which on a 3000×2000 photo of a document with no barcode took a fifth of its
//! upload's processing, twice over (the light-on-dark retry turns the inverted matrix too). Here the same
//! turns are built from one transposition in 64×64 blocks and rxing's own detector
//! (`pdf_417_detector::detect`, which checks one orientation) looks at each, in rxing's order and with its
//! rule that a detector giving up (`None`) ends the search.

use std::borrow::Cow;

use rxing::common::{BitArray, BitMatrix};
use rxing::pdf417::detector::pdf_417_detector;

/// The turns rxing's PDF417 detector tries, in its order: degrees counter-clockwise.
const TURNS: [u32; 4] = [0, 180, 270, 90];

const WORD_BITS: usize = u64::BITS as usize;

/// The first turn (degrees counter-clockwise, as `BitMatrix::rotate` counts them) at which rxing's detector
/// finds a PDF417 symbol's start and stop patterns, or `None` when it finds them at none.
pub fn pdf417_turn(matrix: &BitMatrix) -> Option<u32> {
    let rows = matrix_rows(matrix);
    let (width, height) = (matrix.getWidth() as usize, matrix.getHeight() as usize);
    let mut columns: Option<Vec<Vec<u64>>> = None;
    for turn in TURNS {
        let turned;
        let view = match turn {
            0 => matrix,
            _ => {
                let columns = columns.get_or_insert_with(|| transpose(&rows, width, height));
                turned = turned_matrix(&rows, columns, width, height, turn)?;
                &turned
            }
        };
        match pdf_417_detector::detect(false, view) {
            // The detector gave up on this image: rxing's reader then tries no other turn either.
            None => return None,
            Some(found) if !found.is_empty() => return Some(turn),
            Some(_) => {}
        }
    }
    None
}

/// Each row's words, with the bits past the width cleared (an inverted matrix has them set).
fn matrix_rows(matrix: &BitMatrix) -> Vec<Vec<u64>> {
    let width = matrix.getWidth() as usize;
    (0..matrix.getHeight())
        .map(|y| {
            let mut words: Vec<u64> = matrix.getRow(y).getBitArray().iter().map(|w| *w as u64).collect();
            words.truncate(width.div_ceil(WORD_BITS));
            clear_past(&mut words, width);
            words
        })
        .collect()
}

fn clear_past(words: &mut [u64], bits: usize) {
    let used = bits % WORD_BITS;
    if used != 0 {
        if let Some(last) = words.last_mut() {
            *last &= (1u64 << used) - 1;
        }
    }
}

/// The matrix's columns as rows: entry `x` holds column `x`, bit `y` being row `y`'s pixel.
fn transpose(rows: &[Vec<u64>], width: usize, height: usize) -> Vec<Vec<u64>> {
    let column_words = height.div_ceil(WORD_BITS);
    let mut columns = vec![vec![0u64; column_words]; width];
    let mut block = [0u64; 64];
    for block_row in 0..column_words {
        for word in 0..width.div_ceil(WORD_BITS) {
            for (i, slot) in block.iter_mut().enumerate() {
                *slot = rows.get(block_row * WORD_BITS + i).map_or(0, |row| row[word]);
            }
            transpose_block(&mut block);
            for (j, bits) in block.iter().enumerate() {
                if let Some(column) = columns.get_mut(word * WORD_BITS + j) {
                    column[block_row] = *bits;
                }
            }
        }
    }
    columns
}

/// Transposes a 64×64 block of bits in place: afterwards bit `j` of word `i` is what bit `i` of word `j`
/// was. Six rounds, each swapping the off-diagonal quarters of every square of twice its width.
fn transpose_block(block: &mut [u64; 64]) {
    let mut width = 32;
    let mut mask: u64 = 0x0000_0000_FFFF_FFFF;
    while width != 0 {
        let mut start = 0;
        while start < 64 {
            for i in start..start + width {
                let swapped = ((block[i] >> width) ^ block[i + width]) & mask;
                block[i] ^= swapped << width;
                block[i + width] ^= swapped;
            }
            start += 2 * width;
        }
        width >>= 1;
        mask ^= mask << width;
    }
}

/// The first `bits` bits of `words` in reverse order (bit `i` of the answer is bit `bits - 1 - i`).
fn reversed(words: &[u64], bits: usize) -> Vec<u64> {
    let len = words.len();
    let full: Vec<u64> = words.iter().rev().map(|w| w.reverse_bits()).collect();
    let pad = len * WORD_BITS - bits;
    if pad == 0 {
        return full;
    }
    (0..len)
        .map(|k| {
            let high = full.get(k + 1).map_or(0, |next| next << (WORD_BITS - pad));
            (full[k] >> pad) | high
        })
        .collect()
}

/// The matrix of `rows` (`width` × `height`) turned `degrees` counter-clockwise (0, 90, 180 or 270): the
/// same bits `BitMatrix::rotate` gives. `columns` is its transposition, needed for 90 and 270 only.
fn turned_matrix(
    rows: &[Vec<u64>],
    columns: &[Vec<u64>],
    width: usize,
    height: usize,
    degrees: u32,
) -> Option<BitMatrix> {
    let (new_width, new_height) = match degrees {
        0 | 180 => (width, height),
        90 | 270 => (height, width),
        _ => return None,
    };
    let mut out = BitMatrix::new(u32::try_from(new_width).ok()?, u32::try_from(new_height).ok()?).ok()?;
    let mut row_bits = BitArray::with_size(new_width);
    for y in 0..new_height {
        let words: Cow<[u64]> = match degrees {
            0 => Cow::Borrowed(&rows[y]),
            // Row y of the turned image is row (height - 1 - y) read backwards.
            180 => Cow::Owned(reversed(&rows[height - 1 - y], width)),
            // Row y is column (width - 1 - y), top to bottom.
            90 => Cow::Borrowed(&columns[width - 1 - y]),
            // Row y is column y, bottom to top.
            _ => Cow::Owned(reversed(&columns[y], height)),
        };
        for (k, word) in words.iter().enumerate() {
            row_bits.setBulk(k * WORD_BITS, *word as usize);
        }
        out.setRow(u32::try_from(y).ok()?, &row_bits);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(width: u32, height: u32, seed: u64) -> BitMatrix {
        let mut m = BitMatrix::new(width, height).unwrap();
        let mut state = seed | 1;
        for y in 0..height {
            for x in 0..width {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                if state & 3 == 0 {
                    m.set(x, y);
                }
            }
        }
        m
    }

    /// `matrix` turned `degrees` counter-clockwise by this module's rotations.
    fn turned(matrix: &BitMatrix, degrees: u32) -> Option<BitMatrix> {
        let rows = matrix_rows(matrix);
        let (width, height) = (matrix.getWidth() as usize, matrix.getHeight() as usize);
        turned_matrix(&rows, &transpose(&rows, width, height), width, height, degrees)
    }

    fn same_pixels(a: &BitMatrix, b: &BitMatrix) -> bool {
        a.getWidth() == b.getWidth()
            && a.getHeight() == b.getHeight()
            && (0..a.getHeight()).all(|y| (0..a.getWidth()).all(|x| a.get(x, y) == b.get(x, y)))
    }

    #[test]
    fn every_turn_matches_rxings_own_rotation() {
        for (width, height) in [(1, 1), (3, 70), (64, 64), (65, 129), (200, 37), (130, 300)] {
            for inverted in [false, true] {
                let mut m = noise(width, height, u64::from(width * 7919 + height));
                if inverted {
                    // rxing's inversion also sets the bits past the width, which must not leak in.
                    m.flip_self();
                }
                for degrees in [0, 90, 180, 270] {
                    let mut expected = m.clone();
                    expected.rotate(degrees).unwrap();
                    let ours = turned(&m, degrees).unwrap();
                    assert!(same_pixels(&ours, &expected), "{width}x{height} inverted={inverted} turned {degrees}");
                }
            }
        }
    }

    #[test]
    fn a_block_transposes_onto_itself_twice() {
        let mut block = [0u64; 64];
        for (i, w) in block.iter_mut().enumerate() {
            *w = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (1 << i);
        }
        let original = block;
        transpose_block(&mut block);
        for (i, word) in block.iter().enumerate() {
            for (j, source) in original.iter().enumerate() {
                assert_eq!((word >> j) & 1, (source >> i) & 1, "bit {j} of word {i}");
            }
        }
        transpose_block(&mut block);
        assert_eq!(block, original);
    }

    #[test]
    fn an_image_without_a_symbol_has_no_turn() {
        assert_eq!(pdf417_turn(&noise(300, 200, 42)), None);
        assert_eq!(pdf417_turn(&BitMatrix::new(64, 64).unwrap()), None);
    }
}
