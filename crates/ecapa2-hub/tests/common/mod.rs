//! A small threaded HTTP/1.1 server on 127.0.0.1 that plays the hub's resolve endpoint and,
//! on a second port (so another origin), the CDN it redirects LFS files to.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use ecapa2_hub::HubConfig;
use sha2::{Digest, Sha256};

pub const REPO: &str = "Jenthe/ECAPA2";
pub const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// Which listener got a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Hub,
    Cdn,
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub side: Side,
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// A file the hub serves.
#[derive(Clone)]
pub struct File {
    pub name: String,
    /// What the hub announces (size, sha256 etag).
    pub payload: Vec<u8>,
    /// What the CDN actually sends, when different (a corrupted transfer).
    pub served: Option<Vec<u8>>,
}

/// How the mock hub behaves.
#[derive(Clone, Default)]
pub struct Behaviour {
    pub files: Vec<File>,
    /// Answer 401 unless `Authorization: Bearer <token>` is sent to the hub.
    pub token: Option<String>,
    /// On the first CDN GET, send the headers and this many body bytes, then hang up.
    pub cut_first_get_at: Option<usize>,
    /// Ignore Range headers (always 200 with the whole body).
    pub ignore_range: bool,
    /// Answer resolve requests first with a 307 to the same host spelt out in full
    /// (`http://127.0.0.1:<hub port>/mirror/...`), as some mirrors do.
    pub absolute_self_redirect: bool,
}

/// The running server; requests are logged in order.
pub struct MockHub {
    pub hub_port: u16,
    pub cdn_port: u16,
    log: Arc<Mutex<Vec<Seen>>>,
}

impl MockHub {
    pub fn start(behaviour: Behaviour) -> MockHub {
        let hub = TcpListener::bind("127.0.0.1:0").expect("bind hub");
        let cdn = TcpListener::bind("127.0.0.1:0").expect("bind cdn");
        let hub_port = hub.local_addr().unwrap().port();
        let cdn_port = cdn.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(State {
            behaviour,
            hub_port,
            cdn_port,
            cdn_gets: AtomicUsize::new(0),
            log: log.clone(),
        });
        for (listener, side) in [(hub, Side::Hub), (cdn, Side::Cdn)] {
            let state = state.clone();
            thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let state = state.clone();
                    thread::spawn(move || state.serve(stream, side));
                }
            });
        }
        MockHub {
            hub_port,
            cdn_port,
            log,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.hub_port)
    }

    /// A config for this server with its cache in `cache`.
    pub fn config(&self, cache: &Path) -> HubConfig {
        HubConfig::new(cache).with_endpoint(self.endpoint())
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }

    pub fn gets(&self) -> Vec<Seen> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "GET")
            .collect()
    }
}

struct State {
    behaviour: Behaviour,
    hub_port: u16,
    cdn_port: u16,
    cdn_gets: AtomicUsize,
    log: Arc<Mutex<Vec<Seen>>>,
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Declared Content-Length (the full body) while only `cut` bytes are sent.
    cut: Option<usize>,
}

impl Reply {
    fn new(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            cut: None,
        }
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

impl State {
    fn serve(&self, stream: TcpStream, side: Side) {
        let Some(seen) = read_request(&stream, side) else {
            return;
        };
        self.log.lock().unwrap().push(seen.clone());
        let reply = match side {
            Side::Hub => self.hub(&seen),
            Side::Cdn => self.cdn(&seen),
        };
        write_reply(stream, &seen.method, reply);
    }

    fn hub(&self, req: &Seen) -> Reply {
        if let Some(token) = &self.behaviour.token {
            if req.header("authorization") != Some(&format!("Bearer {token}")) {
                return Reply::new(401).header("X-Error-Code", "GatedRepo");
            }
        }
        let prefix = format!("/{REPO}/resolve/");
        let path = match req.path.strip_prefix("/mirror") {
            Some(p) => p.to_string(),
            None if self.behaviour.absolute_self_redirect && req.path.starts_with(&prefix) => {
                let to = format!("http://127.0.0.1:{}/mirror{}", self.hub_port, req.path);
                return Reply::new(307).header("Location", to);
            }
            None => req.path.clone(),
        };
        let Some(rest) = path.strip_prefix(&prefix) else {
            return Reply::new(404).header("X-Error-Code", "RepoNotFound");
        };
        let Some((_revision, name)) = rest.split_once('/') else {
            return Reply::new(404);
        };
        let Some(file) = self.behaviour.files.iter().find(|f| f.name == name) else {
            return Reply::new(404).header("X-Error-Code", "EntryNotFound");
        };
        let etag = sha256_hex(&file.payload);
        Reply::new(302)
            .header(
                "Location",
                format!("http://127.0.0.1:{}/cdn/{etag}?sig=1", self.cdn_port),
            )
            .header("X-Repo-Commit", COMMIT)
            .header("X-Linked-Etag", format!("\"{etag}\""))
            .header("X-Linked-Size", file.payload.len().to_string())
            .header("ETag", "W/\"0000git0000\"")
    }

    fn cdn(&self, req: &Seen) -> Reply {
        let etag = req
            .path
            .strip_prefix("/cdn/")
            .and_then(|p| p.split('?').next())
            .unwrap_or_default();
        let Some(file) = self
            .behaviour
            .files
            .iter()
            .find(|f| sha256_hex(&f.payload) == etag)
        else {
            return Reply::new(404);
        };
        let body = file.served.clone().unwrap_or_else(|| file.payload.clone());
        let first = req.method == "GET" && self.cdn_gets.fetch_add(1, Ordering::SeqCst) == 0;
        let start = req
            .header("range")
            .filter(|_| !self.behaviour.ignore_range)
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.trim_end_matches('-').parse::<usize>().ok());
        let mut reply = match start {
            Some(start) if start >= body.len() => {
                return Reply::new(416).header("Content-Range", format!("bytes */{}", body.len()))
            }
            Some(start) => Reply {
                body: body[start..].to_vec(),
                ..Reply::new(206)
            }
            .header(
                "Content-Range",
                format!("bytes {start}-{}/{}", body.len() - 1, body.len()),
            ),
            None => Reply {
                body,
                ..Reply::new(200)
            },
        };
        if first {
            reply.cut = self.behaviour.cut_first_get_at;
        }
        reply.header("Accept-Ranges", "bytes")
    }
}

fn read_request(stream: &TcpStream, side: Side) -> Option<Seen> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            break;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    Some(Seen {
        side,
        method,
        path,
        headers,
    })
}

fn write_reply(mut stream: TcpStream, method: &str, reply: Reply) {
    let mut head = format!("HTTP/1.1 {} X\r\n", reply.status);
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        reply.body.len()
    ));
    let _ = stream.write_all(head.as_bytes());
    if method != "HEAD" {
        let n = reply.cut.unwrap_or(reply.body.len()).min(reply.body.len());
        let _ = stream.write_all(&reply.body[..n]);
    }
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Both);
}

/// Deterministic bytes that do not compress or repeat.
pub fn payload(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn file(name: &str, payload: &[u8]) -> File {
    File {
        name: name.to_string(),
        payload: payload.to_vec(),
        served: None,
    }
}

/// `<cache>/models--Jenthe--ECAPA2`.
pub fn repo_dir(cache: &Path) -> PathBuf {
    cache.join("models--Jenthe--ECAPA2")
}

/// Lays out a cache exactly as Python's `hf_hub_download` leaves it.
pub fn python_cache(
    cache: &Path,
    revision: &str,
    commit: &str,
    filename: &str,
    bytes: &[u8],
) -> PathBuf {
    let repo = repo_dir(cache);
    let etag = sha256_hex(bytes);
    std::fs::create_dir_all(repo.join("blobs")).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::create_dir_all(repo.join("snapshots").join(commit)).unwrap();
    std::fs::write(repo.join("blobs").join(&etag), bytes).unwrap();
    std::fs::write(repo.join("refs").join(revision), commit).unwrap();
    let link = repo.join("snapshots").join(commit).join(filename);
    #[cfg(unix)]
    std::os::unix::fs::symlink(format!("../../blobs/{etag}"), &link).unwrap();
    #[cfg(not(unix))]
    std::fs::copy(repo.join("blobs").join(&etag), &link).unwrap();
    link
}

/// A port nothing listens on (bound, then released).
pub fn dead_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}
