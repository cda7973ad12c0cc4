//! api_keys endpoints and rules, end to end over HTTP.
