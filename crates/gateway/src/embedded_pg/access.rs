//! Who can reach the server: the `pg_hba.conf` written before every start and the private Unix socket directory
//! that is the only way in.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

use super::cluster::{chown_to, private_dir, RunAs};
use super::{io_err, EmbeddedPgError, SUPERUSER};

/// Unix socket paths are limited to 108 bytes including `/.s.PGSQL.NNNNN` and the NUL.
pub(super) const MAX_SOCKET_DIR_LEN: usize = 80;

/// The whole `pg_hba.conf` of an embedded cluster, written before every start.
///
/// `trust` is safe here only because of where the socket is: the server listens on no TCP address
/// (`listen_addresses = ''`) and its socket lives in `<data_dir>/run`, mode 0700 and owned by the OS user the server
/// runs as. Only that user and root can enter the directory, and both can read the data files anyway, so `trust`
/// gives no one more than they already have. (`peer` would not do: the gateway may run as root while the server
/// runs as `postgres`, and both must connect as the `gateway` role.) No `host` line at all: a TCP connection, were
/// one ever possible, would find no entry and be rejected.
pub const PG_HBA_CONF: &str = "\
# Written by smartro-gateway before every start of its embedded PostgreSQL; changes here are overwritten.
# No TCP: the server listens only on a Unix socket in <data_dir>/run (mode 0700, owned by the server's OS user),
# which only that user and root can reach.
local all all trust
";

/// Creates the socket directory when missing; mode 0700 and the server's OS user as owner are set on every start.
pub(super) fn secure_socket_dir(
    socket_dir: &Path,
    run_as: Option<&RunAs>,
) -> Result<(), EmbeddedPgError> {
    if !socket_dir.exists() {
        private_dir(socket_dir, run_as)?;
    }
    // Enforced on every start, not only at creation: the directory's mode is what keeps other OS users away from a
    // socket that trusts whoever reaches it.
    chown_to(socket_dir, run_as)?;
    fs::set_permissions(socket_dir, fs::Permissions::from_mode(0o700))
        .map_err(io_err("restricting the permissions of", socket_dir))
}

/// Replaces the cluster's `pg_hba.conf` with [`PG_HBA_CONF`] (write, then rename: never half a file).
pub(super) fn write_pg_hba(
    cluster_dir: &Path,
    run_as: Option<&RunAs>,
) -> Result<(), EmbeddedPgError> {
    let path = cluster_dir.join("pg_hba.conf");
    let staging = cluster_dir.join("pg_hba.conf.smartro-gateway");
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&staging)
        .map_err(io_err("writing", &staging))?;
    file.write_all(PG_HBA_CONF.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_err("writing", &staging))?;
    drop(file);
    chown_to(&staging, run_as)?;
    fs::rename(&staging, &path).map_err(io_err("replacing", &path))
}

/// The number that names the server's socket file (`.s.PGSQL.<port>`); nothing listens on it over TCP. A fresh
/// one on every start, so that a socket lock file left by a killed server (whose pid may since belong to another
/// process) never blocks a start. Taken from the free TCP ports so that no local service answers on it either.
pub(super) fn free_port() -> Result<u16, EmbeddedPgError> {
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0);
    let listener = TcpListener::bind(addr).map_err(|source| EmbeddedPgError::Io {
        action: "finding a free port on",
        path: PathBuf::from("127.0.0.1"),
        source,
    })?;
    let port = listener
        .local_addr()
        .map_err(io_err("finding a free port on", Path::new("127.0.0.1")))?
        .port();
    Ok(port)
}

/// The URL of `database` as [`SUPERUSER`] through the socket `<socket_dir>/.s.PGSQL.<port>`: the directory goes
/// percent-encoded in the host part, where sqlx and libpq both read a leading `/` as a socket directory.
pub fn socket_url(socket_dir: &Path, port: u16, database: &str) -> String {
    let host = utf8_percent_encode(&socket_dir.to_string_lossy(), NON_ALPHANUMERIC).to_string();
    format!("postgres://{SUPERUSER}@{host}:{port}/{database}")
}
