//! The demo page's files: built into the binary from `www/` (see `build.rs`), or read from a
//! directory given with `--www`.

use std::borrow::Cow;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

include!(concat!(env!("OUT_DIR"), "/www.rs"));

pub(crate) enum Assets {
    Embedded,
    /// A canonical directory.
    Dir(PathBuf),
}

/// A file to send: read as it is sent, so a large file costs a piece of it in memory, not
/// the whole (and a client that asks for it many times, many wholes).
pub(crate) struct Asset {
    pub(crate) body: Body,
    /// The body's length, for `Content-Length`: what the file held when it was opened, and
    /// exactly what is sent (past it a growing file is not read; a file that shrinks meanwhile
    /// fails the read, so the response ends short rather than cleanly, and the client sees it
    /// cut off).
    pub(crate) len: u64,
    pub(crate) content_type: &'static str,
}

/// The bytes of an [`Asset`].
pub(crate) enum Body {
    Embedded(&'static [u8]),
    File(tokio::io::Take<tokio::fs::File>),
}

impl AsyncRead for Body {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Body::Embedded(bytes) => Pin::new(bytes).poll_read(cx, buf),
            Body::File(file) => {
                let before = buf.filled().len();
                std::task::ready!(Pin::new(&mut *file).poll_read(cx, buf))?;
                if buf.filled().len() == before && file.limit() > 0 && buf.remaining() > 0 {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the file shrank while it was being sent",
                    )));
                }
                Poll::Ready(Ok(()))
            }
        }
    }
}

impl Assets {
    pub(crate) fn new(www: Option<&Path>) -> io::Result<Assets> {
        match www {
            None => Ok(Assets::Embedded),
            Some(dir) => {
                let dir = dir.canonicalize()?;
                if !dir.is_dir() {
                    return Err(io::Error::new(
                        io::ErrorKind::NotADirectory,
                        format!("{} is not a directory", dir.display()),
                    ));
                }
                Ok(Assets::Dir(dir))
            }
        }
    }

    /// How many files are built in (for the startup log).
    pub(crate) fn embedded_count() -> usize {
        EMBEDDED.len()
    }

    /// The file for a request path (query removed), if there is one. `/` and paths ending in
    /// `/` mean `index.html`. Paths with `.` or `..` segments, backslashes or NUL are refused,
    /// so nothing outside the directory is ever read.
    pub(crate) async fn get(&self, path: &str) -> Option<Asset> {
        let path = if path.ends_with('/') {
            Cow::Owned(format!("{path}index.html"))
        } else {
            Cow::Borrowed(path)
        };
        let relative = path.strip_prefix('/')?;
        let safe = relative
            .split('/')
            .all(|segment| !matches!(segment, "" | "." | "..") && !segment.contains(['\\', '\0']));
        if !safe {
            return None;
        }
        let content_type = content_type(relative);
        let (body, len) = match self {
            Assets::Embedded => EMBEDDED
                .iter()
                .find(|(url, _)| *url == path.as_ref())
                .map(|(_, bytes)| (Body::Embedded(bytes), bytes.len() as u64))?,
            Assets::Dir(root) => {
                let (file, len) = open_under(root, relative).await?;
                (Body::File(file.take(len)), len)
            }
        };
        Some(Asset {
            body,
            len,
            content_type,
        })
    }
}

/// Opens `root/relative` if it is a regular file that really lies under `root` (symbolic links
/// are resolved first); with its length.
async fn open_under(root: &Path, relative: &str) -> Option<(tokio::fs::File, u64)> {
    let path = tokio::fs::canonicalize(root.join(relative)).await.ok()?;
    if !path.starts_with(root) {
        return None;
    }
    // Checked before opening too: opening a FIFO would wait for a writer.
    if !tokio::fs::metadata(&path).await.ok()?.is_file() {
        return None;
    }
    let file = tokio::fs::File::open(&path).await.ok()?;
    // The metadata of what was opened: the path may have changed meanwhile.
    let meta = file.metadata().await.ok()?;
    meta.is_file().then_some((file, meta.len()))
}

fn content_type(path: &str) -> &'static str {
    let extension = path.rsplit_once('.').map_or("", |(_, ext)| ext);
    match extension.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" | "md" | "ts" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_by_extension() {
        assert_eq!(
            content_type("pkg/switchyard_wasm_bg.wasm"),
            "application/wasm"
        );
        assert_eq!(content_type("app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("index.HTML"), "text/html; charset=utf-8");
        assert_eq!(content_type("style.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("pkg/package.json"), "application/json");
        assert_eq!(content_type("LICENSE"), "application/octet-stream");
    }

    /// The length sent in Content-Length is what is sent: a file that grows is read only to
    /// it, one that shrinks fails the read rather than end the body early and cleanly.
    #[tokio::test]
    async fn a_file_is_sent_at_the_length_it_had_when_opened() {
        let dir = std::env::temp_dir().join(format!("switchyard-assets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let assets = Assets::new(Some(&dir)).unwrap();
        let path = dir.join("f.bin");
        for (change, whole) in [(150usize, true), (50, false)] {
            std::fs::write(&path, [7u8; 100]).unwrap();
            let mut asset = assets.get("/f.bin").await.unwrap();
            assert_eq!(asset.len, 100);
            std::fs::write(&path, vec![7u8; change]).unwrap();
            let mut sent = Vec::new();
            let read = asset.body.read_to_end(&mut sent).await;
            if whole {
                assert_eq!(
                    (read.unwrap(), sent.len()),
                    (100, 100),
                    "grown: cut at the length"
                );
            } else {
                assert_eq!(
                    read.unwrap_err().kind(),
                    io::ErrorKind::UnexpectedEof,
                    "shrunk"
                );
                assert_eq!(sent.len(), 50);
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn refuses_paths_that_leave_the_directory() {
        let assets = Assets::new(Some(Path::new(env!("CARGO_MANIFEST_DIR")))).unwrap();
        assert!(assets.get("/Cargo.toml").await.is_some());
        for path in [
            "/../Cargo.toml",
            "/src/../Cargo.toml",
            "//etc/passwd",
            "/./Cargo.toml",
            "/src\\lib.rs",
            "Cargo.toml",
        ] {
            assert!(assets.get(path).await.is_none(), "{path}");
        }
    }
}
