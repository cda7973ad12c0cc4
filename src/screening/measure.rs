//! What the screening quality measures share (the bench and the quality test): the deterministic split of a
//! labelled set into a tuning half and an evaluation half, and the reader of a people file
//! (`tests/screening/people.py`). Pure; must not screen, score or decide thresholds.

use std::path::Path;

/// Which half of a labelled set: weights are tuned on `Tune` only, and only `Eval` is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Tune,
    Eval,
}

impl Split {
    /// The half a case falls in, by a hash of its text: stable across runs, machines and set orderings.
    pub fn of(case: &str) -> Split {
        if blake3::hash(case.as_bytes()).as_bytes()[0] & 1 == 0 {
            Split::Tune
        } else {
            Split::Eval
        }
    }

    pub fn parse(s: &str) -> Option<Split> {
        match s {
            "tune" => Some(Split::Tune),
            "eval" => Some(Split::Eval),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Split::Tune => "tune",
            Split::Eval => "eval",
        }
    }
}

/// One person of a people file: the locale their name was drawn for, and the name in its own script.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub locale: String,
    pub name: String,
}

/// Reads a `locale<TAB>name` file with a header line.
pub fn read_people(path: &Path) -> std::io::Result<Vec<Person>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once('\t'))
        .filter(|(_, n)| !n.trim().is_empty())
        .map(|(l, n)| Person { locale: l.to_string(), name: n.trim().to_string() })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_stable_and_roughly_even() {
        assert_eq!(Split::of("Olaf Scholz"), Split::of("Olaf Scholz"));
        let eval = (0..1000).filter(|i| Split::of(&format!("case {i}")) == Split::Eval).count();
        assert!((400..600).contains(&eval), "{eval}");
    }
}
