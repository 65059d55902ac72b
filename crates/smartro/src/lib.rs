//! The Smartro WEBLink protocol, free of I/O except the small [`client`] module.
//!
//! Both the gateway and the sandbox build on this crate, so that the two sides of every message share one
//! definition of the wire format.
//!
//! Every parser in this crate takes untrusted bytes and answers with a typed error ([`ParseError`] or
//! [`RequestError`]) instead of panicking; the fuzz targets in `fuzz/` and the property tests hold it to that.

pub mod cancel;
#[cfg(feature = "client")]
pub mod client;
pub mod codes;
pub mod divide;
pub mod endpoints;
pub mod error;
pub mod form;
pub mod notification;
pub mod receipt;
pub mod request;
pub mod result;
pub mod sign;
pub mod types;

pub use error::{ParseError, RequestError, RequestErrorKind};
