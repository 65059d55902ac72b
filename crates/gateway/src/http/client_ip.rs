//! The [`ClientIp`] extractor: the request's sender as [`crate::addr::client_ip`] resolves it.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use super::AppState;
use crate::addr::client_ip;

/// The client's address as [`client_ip`] decides it; `None` when the server was not started with peer
/// addresses (only in-process tests that call the router directly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientIp(peer.map(|peer| {
            client_ip(
                peer,
                &parts.headers,
                &state.services.settings.server.trusted_proxies,
            )
        })))
    }
}
