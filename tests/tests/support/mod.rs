//! Headless Chromium for the browser tests: installed on first use when missing (CI runs on a clean machine as
//! root), driven through chromedriver on a free port. Also the apt-get installation other tests share.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// chromium and its driver, plus a Korean font so that screenshots show Hangul rather than empty boxes.
const PACKAGES: &[&str] = &["chromium", "chromium-driver", "fonts-nanum"];

/// Installs Chromium with apt-get once per process when chromedriver is missing and we are root; otherwise says
/// what to do. Returns a reason when the browser cannot be had.
pub fn ensure_chromium() -> Result<(), String> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED.get_or_init(install_if_missing).clone()
}

fn browser_present() -> bool {
    Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists()
}

fn install_if_missing() -> Result<(), String> {
    if browser_present() {
        return Ok(());
    }
    apt_install(PACKAGES, browser_present)?;
    if !Path::new(CHROMEDRIVER).exists() {
        return Err(format!(
            "apt-get finished but {CHROMEDRIVER} is still missing"
        ));
    }
    Ok(())
}

/// Installs Debian `packages` with apt-get, as root, unless `present` says they are there. nextest runs every
/// test in a process of its own: two tests installing at once would both run apt-get, and the second would fail
/// on apt's lock. A lock file makes the later one wait, and `present`, asked again under the lock, lets it find
/// what the other installed.
pub fn apt_install(packages: &[&str], present: impl Fn() -> bool) -> Result<(), String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        return Err(format!(
            "this test needs {} and is not running as root, so it cannot install them: run \
             `sudo apt-get update && sudo apt-get install -y {}` first",
            packages.join(" "),
            packages.join(" ")
        ));
    }
    let lock = std::fs::File::create("/tmp/smartro-gateway-apt.lock")
        .map_err(|e| format!("cannot create the install lock file: {e}"))?;
    // SAFETY: flock on a file descriptor this function owns; the lock is released when `lock` is dropped.
    if unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) } != 0 {
        return Err(format!(
            "cannot lock the install lock file: {}",
            std::io::Error::last_os_error()
        ));
    }
    if present() {
        return Ok(());
    }
    eprintln!("installing {} with apt-get", packages.join(" "));
    run_apt(&["update"])?;
    let mut install = vec!["install", "-y", "--no-install-recommends"];
    install.extend_from_slice(packages);
    run_apt(&install)
}

fn run_apt(args: &[&str]) -> Result<(), String> {
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run apt-get {}: {e}", args.join(" ")))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("apt-get {} failed with {status}", args.join(" ")))
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1");
    listener.local_addr().expect("bound address").port()
}

/// A chromedriver process and a fresh Chromium profile, both removed on drop.
pub struct Browser {
    pub client: Client,
    driver: Child,
    profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Browser {
        if let Err(reason) = ensure_chromium() {
            panic!("headless Chromium is not available: {reason}");
        }
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        let mut browser_driver = DriverGuard(Some(driver));
        let url = format!("http://127.0.0.1:{port}");
        wait_for_driver(&url).await;
        let profile = tempfile::tempdir().expect("a temporary profile directory");
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-quic",
                    "--disable-dev-shm-usage",
                    "--window-size=1100,1300",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal");
        };
        // chromedriver listens on loopback only, so plain HTTP: no TLS stack (and no second crypto provider).
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&url)
            .await
            .unwrap_or_else(|e| panic!("cannot open a Chromium session through chromedriver: {e}"));
        Browser {
            client,
            driver: browser_driver.0.take().expect("driver process"),
            profile,
        }
    }

    /// Saves a PNG of the current page as `target/e2e-screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot directory");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("screenshot written");
        path
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = &self.profile;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Kills chromedriver if starting the session fails half-way.
struct DriverGuard(Option<Child>);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn wait_for_driver(url: &str) {
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("HTTP client");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(response) = http.get(format!("{url}/status")).send().await {
            if response.status().is_success() {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "chromedriver did not answer on {url} within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
