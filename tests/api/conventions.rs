//! conventions endpoints and rules, end to end over HTTP.
