//! MRZ parsing and validation (ICAO 9303).
