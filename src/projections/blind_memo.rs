//! The blind-index sets this process sealed a moment ago, by their sealed text: projecting the event that
//! carries one then writes its keys without unwrapping the identity's data key and opening what was just
//! sealed (that opening was a tenth of the writer's time for an identity creation). A cache only: any miss
//! (a replay, a restart, another process's event, an entry pushed out) opens the sealed set as before.
//! Holds index keys only (what `identities.blind_keys` lists anyway), never a value; must stay bounded.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, OnceLock};

/// Sets kept at most: more than a writer batch holds, a few hundred kilobytes.
const CAPACITY: usize = 4096;

/// An identity's blind-index rows: (kind, index key).
pub type IndexKeys = Vec<(String, Vec<u8>)>;

#[derive(Default)]
struct Memo {
    by_sealed: HashMap<String, IndexKeys>,
    order: VecDeque<String>,
}

fn memo() -> &'static Mutex<Memo> {
    static MEMO: OnceLock<Mutex<Memo>> = OnceLock::new();
    MEMO.get_or_init(Mutex::default)
}

/// Remembers the keys of a set just sealed as `sealed`; the oldest entry goes when the memo is full (its
/// command failed, or its event was never projected here).
pub fn remember(sealed: &str, keys: IndexKeys) {
    let mut memo = memo().lock().unwrap_or_else(|e| e.into_inner());
    if memo.by_sealed.insert(sealed.to_string(), keys).is_none() {
        memo.order.push_back(sealed.to_string());
    }
    while memo.order.len() > CAPACITY {
        if let Some(oldest) = memo.order.pop_front() {
            memo.by_sealed.remove(&oldest);
        }
    }
}

/// The keys of `sealed` when this process sealed it recently; each set is handed out once.
pub fn take(sealed: &str) -> Option<IndexKeys> {
    let mut memo = memo().lock().unwrap_or_else(|e| e.into_inner());
    let keys = memo.by_sealed.remove(sealed)?;
    if let Some(at) = memo.order.iter().position(|s| s == sealed) {
        memo.order.remove(at);
    }
    Some(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_is_handed_out_once_and_the_memo_stays_bounded() {
        let sealed = format!("sealed-{}", ulid::Ulid::new());
        remember(&sealed, vec![("email".into(), vec![1, 2, 3])]);
        assert_eq!(take(&sealed), Some(vec![("email".to_string(), vec![1, 2, 3])]));
        assert_eq!(take(&sealed), None);
        let first = format!("first-{}", ulid::Ulid::new());
        remember(&first, Vec::new());
        for n in 0..CAPACITY {
            remember(&format!("filler-{n}-{first}"), Vec::new());
        }
        assert_eq!(take(&first), None, "the oldest entry went when the memo was full");
        assert!(memo().lock().unwrap().order.len() <= CAPACITY);
    }
}
