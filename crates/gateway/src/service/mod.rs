//! The flows of the gateway, between the edges (HTTP handlers, workers) and the store: each edge calls these,
//! so that the same rules hold whichever way a message or a request comes in.

pub mod confirmation;
pub mod results;
