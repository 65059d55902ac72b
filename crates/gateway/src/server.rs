//! The HTTP server loop: hyper's HTTP/1 connection driver with the limits that keep clients who connect and then
//! stall from exhausting the process, and graceful shutdown.
//!
//! - Request headers must arrive within `server.header_timeout_secs` (hyper's header-read timeout). hyper starts
//!   that timer again whenever a keep-alive connection waits for its next request, so an idle keep-alive
//!   connection is closed after `header_timeout_secs` too, which with the defaults (10 s) comes before
//!   `idle_timeout_secs` (60 s).
//! - A connection on which no byte moves in either direction for `server.idle_timeout_secs` is closed
//!   ([`IdleTimeout`]): this covers what the header timer does not, a request body or a response that stalls.
//! - At most `server.max_connections` connections are served at once. The permit is taken before `accept`, so at
//!   the cap new connections wait in the kernel's accept queue and cost neither a file descriptor nor a task.
//! - Shutdown stops accepting, lets every connection finish its in-flight request (keep-alive is turned off), and
//!   returns once all are closed.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

use crate::config::ServerSettings;

/// The connection limits of `[server]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    /// At most `u32::MAX`: the semaphore hands out (and shutdown takes back) permits in `u32` batches.
    pub max_connections: u32,
}

impl ConnectionLimits {
    pub fn from_settings(server: &ServerSettings) -> ConnectionLimits {
        ConnectionLimits {
            header_timeout: Duration::from_secs(server.header_timeout_secs),
            idle_timeout: Duration::from_secs(server.idle_timeout_secs),
            max_connections: u32::try_from(server.max_connections).unwrap_or(u32::MAX),
        }
    }
}

/// Serves `app` on `listener` until `stop` turns true (or its sender is dropped), then drains.
///
/// Handlers see the peer address as `ConnectInfo<SocketAddr>` in the request extensions, as with axum's
/// `into_make_service_with_connect_info`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections as usize));
    // HTTP/1 only, as axum served before: with automatic version detection hyper would first wait for enough bytes
    // to tell an HTTP/2 preface apart, and no header timer runs during that wait.
    let mut builder = Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let builder = Arc::new(builder);

    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                // The semaphore is never closed; if it were, no connection could be served anyway.
                Err(_) => break,
            },
            _ = stopped(&mut stop) => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            _ = stopped(&mut stop) => break,
        };
        tokio::spawn(serve_connection(
            builder.clone(),
            stream,
            peer,
            app.clone(),
            limits.idle_timeout,
            stop.clone(),
            permit,
        ));
    }

    drop(listener);
    // Each connection task holds a permit until its connection is closed: holding them all means none is left.
    let _all = permits.acquire_many(limits.max_connections).await;
    Ok(())
}

/// Resolves once `stop` is true, or once its sender is gone (the gateway handle was dropped without a shutdown).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

async fn serve_connection(
    builder: Arc<Builder<TokioExecutor>>,
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    idle_timeout: Duration,
    mut stop: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let io = TokioIo::new(IdleTimeout::new(stream, idle_timeout));
    let service = TowerToHyperService::new(app.map_request(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        req
    }));
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        _ = stopped(&mut stop) => {
            // Finish the request in flight (if any), answer it without keep-alive, then close.
            conn.as_mut().graceful_shutdown();
            conn.as_mut().await
        }
    };
    if let Err(e) = result {
        // Timeouts, resets and clients that hang up mid-request are routine on the open internet.
        tracing::debug!(%peer, error = %e, "connection closed with an error");
    }
}

/// As axum does: a failed `accept` that concerns only that connection is ignored; anything else (typically
/// EMFILE, out of file descriptors) is logged and accepting pauses for a second so the process can recover.
async fn accept_failed(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed; pausing for a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// A stream that fails with `TimedOut` once no byte has moved in either direction for `timeout`.
///
/// The deadline is only looked at while a read or write is waiting, and the timer is moved lazily: progress just
/// records the time, and an expired timer is re-armed from the last progress instead of failing.
pub struct IdleTimeout<S> {
    inner: S,
    timeout: Duration,
    last_progress: Instant,
    deadline: Pin<Box<Sleep>>,
}

impl<S> IdleTimeout<S> {
    pub fn new(inner: S, timeout: Duration) -> IdleTimeout<S> {
        let now = Instant::now();
        IdleTimeout {
            inner,
            timeout,
            last_progress: now,
            deadline: Box::pin(tokio::time::sleep_until(now + timeout)),
        }
    }

    fn progressed(&mut self) {
        self.last_progress = Instant::now();
    }

    /// Called when the inner stream is not ready: pending until the idle deadline, then the error.
    fn poll_idle<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        loop {
            ready!(self.deadline.as_mut().poll(cx));
            let due = self.last_progress + self.timeout;
            if Instant::now() >= due {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection idle for too long",
                )));
            }
            self.deadline.as_mut().reset(due);
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleTimeout<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.progressed();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.poll_idle(cx),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(result) => {
                if matches!(result, Ok(n) if n > 0) {
                    this.progressed();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.poll_idle(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(result) => {
                if matches!(result, Ok(n) if n > 0) {
                    this.progressed();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.poll_idle(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Ready(result) => Poll::Ready(result),
            Poll::Pending => this.poll_idle(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_shutdown(cx) {
            Poll::Ready(result) => Poll::Ready(result),
            Poll::Pending => this.poll_idle(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const IDLE: Duration = Duration::from_millis(300);

    #[tokio::test]
    async fn a_read_that_sees_no_byte_times_out() {
        let (client, _peer) = tokio::io::duplex(64);
        let mut stream = IdleTimeout::new(client, IDLE);
        let started = std::time::Instant::now();
        let mut buf = [0u8; 8];
        let err = stream.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        let waited = started.elapsed();
        assert!(
            waited >= IDLE && waited < IDLE * 3,
            "timed out after {waited:?}"
        );
    }

    #[tokio::test]
    async fn bytes_that_keep_moving_keep_the_stream_open() {
        let (client, mut peer) = tokio::io::duplex(64);
        let mut stream = IdleTimeout::new(client, IDLE);
        let trickle = tokio::spawn(async move {
            for _ in 0..8 {
                tokio::time::sleep(IDLE / 3).await;
                peer.write_all(b"x").await.unwrap();
            }
            peer
        });
        let mut got = 0;
        let mut buf = [0u8; 8];
        while got < 8 {
            got += stream.read(&mut buf).await.expect("still open");
        }
        // 8 × IDLE/3 is well past IDLE: only the trickle kept it open. Once it stops, the deadline comes.
        let _peer = trickle.await.unwrap();
        let err = stream.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn a_write_the_peer_never_reads_times_out() {
        let (client, _peer) = tokio::io::duplex(16);
        let mut stream = IdleTimeout::new(client, IDLE);
        let started = std::time::Instant::now();
        let err = stream.write_all(&[0u8; 1024]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= IDLE);
    }
}
