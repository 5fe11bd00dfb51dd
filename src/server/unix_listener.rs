//! `echo-server --listen unix:PATH`: the socket file, bound and removed when dropped (on a
//! stop, a second Ctrl-C, or a failed start alike). A stale file left by a killed server (one
//! nobody answers on) is replaced; a live one, or any other file, is an error.

use crate::error::{Error, ErrorKind};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use tokio::net::{UnixListener, UnixStream};

pub struct UnixSocketFile {
    listener: UnixListener,
    path: PathBuf,
}

impl UnixSocketFile {
    pub fn bind(path: &Path) -> Result<Self, Error> {
        let cannot = |e: std::io::Error| {
            Error::new(
                ErrorKind::Usage,
                format!("cannot listen on Unix socket {}: {e}", path.display()),
            )
        };
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            let live = meta.file_type().is_socket()
                && std::os::unix::net::UnixStream::connect(path).is_ok();
            if !meta.file_type().is_socket() || live {
                return Err(Error::usage(format!(
                    "cannot listen on Unix socket {}: {} is there already",
                    path.display(),
                    if live {
                        "a server listening"
                    } else {
                        "a file that is not a socket"
                    }
                )));
            }
            std::fs::remove_file(path).map_err(cannot)?;
        }
        let listener = UnixListener::bind(path).map_err(cannot)?;
        Ok(UnixSocketFile {
            listener,
            path: path.to_path_buf(),
        })
    }

    pub async fn accept(&self) -> std::io::Result<UnixStream> {
        self.listener.accept().await.map(|(s, _)| s)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn mode(&self) -> Option<u32> {
        std::fs::metadata(&self.path)
            .ok()
            .map(|m| m.permissions().mode() & 0o777)
    }
}

impl Drop for UnixSocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
