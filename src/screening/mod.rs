//! AML screening: watchlist importers, name normalisation, candidate index and explainable scoring.
