//! AML screening, offline: watchlist importers (OFAC SDN, UN, EU, UK, OpenSanctions), name normalisation,
//! an in-memory candidate index and explainable scoring. A pure library: no HTTP, no database, no network.

pub mod countries;
pub mod import;
pub mod index;
pub mod measure;
pub mod model;
pub mod normalize;
pub mod records;
pub mod score;

pub use import::{Import, ImportError};
pub use index::{Features, Hit, Index, Query, DEFAULT_THRESHOLD};
pub use model::{
    BirthDate, EntityType, EntryName, Identifier, ListSource, ListVersion, NameKind, PartialDate, WatchlistEntry,
};
pub use normalize::{normalize, prepare, PreparedName};
pub use score::{compare, ofac_name_score, score_names, NameMatch, OfacScore};

/// Match decision threshold for `score_names` on a labelled pair benchmark (the quality test): above the
/// screening default because a benchmark decision weighs precision and recall equally, while screening
/// favours recall and leaves the rest to a reviewer.
pub const PAIR_MATCH_THRESHOLD: f64 = 0.7;
