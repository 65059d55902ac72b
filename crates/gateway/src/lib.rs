//! smartro-gateway: a self-hosted payment gateway for Smartro (WEBLink).

pub mod addr;
pub mod app;
pub mod clock;
pub mod config;
pub mod console;
#[cfg(feature = "demo")]
pub mod demo;
pub mod domain;
pub mod embedded_pg;
pub mod http;
pub mod metrics;
pub mod providers;
pub mod server;
pub mod service;
pub mod store;
pub mod telemetry;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod views;
pub mod workers;
