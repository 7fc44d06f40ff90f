//! A scripted HTTP/1.1 server on 127.0.0.1 for the runtime tests.
//!
//! Tests queue canned replies per path (`server.reply("/card/code/get", Reply::json(...))`),
//! optionally a default reply used when a path's queue is empty, then inspect every request the
//! server received and how many TCP connections it accepted. Connections are kept alive (the
//! server answers request after request on one connection) unless a reply says otherwise.
//! Only loopback is ever bound; nothing leaves the machine.
// Each test binary uses a part of this module. (`unused` rather than `dead_code`: a crate that
// includes this file with `#[allow(dead_code)] mod support;` would trip clippy's
// duplicated_attributes.)
#![allow(unused)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// An answer with this status, `Content-Type` and body.
    Answer {
        /// HTTP status.
        status: u16,
        /// `Content-Type` header.
        content_type: &'static str,
        /// Body bytes.
        body: Vec<u8>,
    },
    /// Close the connection without answering (after reading the whole request).
    Close,
    /// Wait, then do the inner reply.
    Delay(Duration, Box<Reply>),
    /// Do the inner reply, then close the connection (an idle keep-alive connection the server
    /// drops, as servers do after their keep-alive timeout).
    ThenClose(Box<Reply>),
}

impl Reply {
    /// `200` with a JSON body.
    pub fn json(body: impl Into<String>) -> Reply {
        Reply::status_json(200, body)
    }

    /// A JSON body with any status.
    pub fn status_json(status: u16, body: impl Into<String>) -> Reply {
        Reply::Answer {
            status,
            content_type: "application/json; charset=utf-8",
            body: body.into().into_bytes(),
        }
    }

    /// `{"errcode":<code>,"errmsg":<msg>}` with status 200, the way WeChat reports failures.
    pub fn errcode(code: i64, msg: &str) -> Reply {
        Reply::json(serde_json::json!({ "errcode": code, "errmsg": msg }).to_string())
    }

    /// An HTML page with the given status (what gateways send).
    pub fn html(status: u16, body: impl Into<String>) -> Reply {
        Reply::Answer {
            status,
            content_type: "text/html",
            body: body.into().into_bytes(),
        }
    }

    /// A stable_token / token answer.
    pub fn token(token: &str) -> Reply {
        Reply::json(serde_json::json!({ "access_token": token, "expires_in": 7200 }).to_string())
    }

    /// The same reply after a pause.
    pub fn delayed(self, pause: Duration) -> Reply {
        Reply::Delay(pause, Box::new(self))
    }

    /// The same reply, then the connection is closed.
    pub fn then_close(self) -> Reply {
        Reply::ThenClose(Box::new(self))
    }
}

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path without the query, e.g. `/card/code/get`.
    pub path: String,
    /// The raw query string (after `?`), empty if none.
    pub raw_query: String,
    /// Query parameters, percent-decoded.
    pub query: BTreeMap<String, String>,
    /// Headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
    /// Which accepted connection (0-based) carried the request.
    pub connection: usize,
}

impl Recorded {
    /// The first header of that (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

#[derive(Default)]
struct Script {
    queues: HashMap<String, VecDeque<Reply>>,
    defaults: HashMap<String, Reply>,
    requests: Vec<Recorded>,
}

/// The server. Stops accepting when dropped.
pub struct Server {
    addr: SocketAddr,
    script: Arc<Mutex<Script>>,
    connections: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

fn lock(script: &Mutex<Script>) -> MutexGuard<'_, Script> {
    script.lock().unwrap_or_else(|p| p.into_inner())
}

impl Server {
    /// Starts a server on `127.0.0.1` with a random port.
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let script = Arc::new(Mutex::new(Script::default()));
        let connections = Arc::new(AtomicUsize::new(0));
        let closed = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (script, connections, stop) = (script.clone(), connections.clone(), stop.clone());
            let closed = closed.clone();
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let id = connections.fetch_add(1, Ordering::SeqCst);
                    let (script, closed) = (script.clone(), closed.clone());
                    thread::spawn(move || {
                        serve_connection(stream, id, &script);
                        closed.fetch_add(1, Ordering::SeqCst);
                    });
                }
            });
        }
        Server {
            addr,
            script,
            connections,
            closed,
            stop,
        }
    }

    /// Starts a server whose `/cgi-bin/stable_token` and `/cgi-bin/token` answer `token`
    /// whenever nothing else is queued for them.
    pub fn with_token(token: &str) -> Server {
        let server = Server::start();
        server.default_reply("/cgi-bin/stable_token", Reply::token(token));
        server.default_reply("/cgi-bin/token", Reply::token(token));
        server
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues a reply for the next request to `path` (e.g. `/card/code/get`).
    pub fn reply(&self, path: &str, reply: Reply) -> &Server {
        lock(&self.script)
            .queues
            .entry(path.to_owned())
            .or_default()
            .push_back(reply);
        self
    }

    /// Queues `n` copies of a reply.
    pub fn reply_n(&self, path: &str, n: usize, reply: Reply) -> &Server {
        for _ in 0..n {
            self.reply(path, reply.clone());
        }
        self
    }

    /// The reply for `path` when its queue is empty.
    pub fn default_reply(&self, path: &str, reply: Reply) -> &Server {
        lock(&self.script).defaults.insert(path.to_owned(), reply);
        self
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.script).requests.clone()
    }

    /// The requests to `path`.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        lock(&self.script)
            .requests
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// How many requests went to `path`.
    pub fn count(&self, path: &str) -> usize {
        self.requests_to(path).len()
    }

    /// How many TCP connections were accepted.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Waits (at most 10 seconds) until the server has closed `n` connections; whether it did.
    pub fn wait_closed(&self, n: usize) -> bool {
        for _ in 0..1000 {
            if self.closed.load(Ordering::SeqCst) >= n {
                return true;
            }
            thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// A loopback address nothing listens on (a port bound and released).
pub fn unused_local_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    drop(listener);
    format!("http://{addr}")
}

fn serve_connection(stream: TcpStream, id: usize, script: &Mutex<Script>) {
    // Idle keep-alive connections of finished tests must not pile up forever.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut writer = write_half;
    let mut reader = BufReader::new(stream);
    loop {
        let Some(request) = read_request(&mut reader, id) else {
            return;
        };
        let reply = {
            let mut script = lock(script);
            let reply = script
                .queues
                .get_mut(&request.path)
                .and_then(VecDeque::pop_front)
                .or_else(|| script.defaults.get(&request.path).cloned());
            script.requests.push(request.clone());
            reply.unwrap_or_else(|| {
                Reply::status_json(
                    599,
                    format!(
                        "{{\"test_server\":\"nothing scripted for {}\"}}",
                        request.path
                    ),
                )
            })
        };
        if !send_reply(&mut writer, reply) {
            let _ = writer.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// Sends a reply; `false` when the connection is to be closed.
fn send_reply(writer: &mut TcpStream, reply: Reply) -> bool {
    match reply {
        Reply::Delay(pause, inner) => {
            thread::sleep(pause);
            send_reply(writer, *inner)
        }
        Reply::Close => false,
        Reply::ThenClose(inner) => {
            send_reply(writer, *inner);
            false
        }
        Reply::Answer {
            status,
            content_type,
            body,
        } => {
            let head = format!(
                "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
                reason(status),
                body.len()
            );
            // One write: a head and a body in two small writes would meet Nagle's algorithm and
            // the client's delayed ACK (40 ms per answer).
            let mut message = head.into_bytes();
            message.extend_from_slice(&body);
            writer.write_all(&message).is_ok() && writer.flush().is_ok()
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        404 => "Not Found",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Reads one request; `None` at the end of the connection or on garbage.
fn read_request(reader: &mut BufReader<TcpStream>, connection: usize) -> Option<Recorded> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.trim_end().splitn(3, ' ');
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map(|(_, v)| v.parse().ok())
        .unwrap_or(Some(0))?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let (path, raw_query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned()),
        None => (target.clone(), String::new()),
    };
    let query = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    Some(Recorded {
        method,
        path,
        raw_query,
        query,
        headers,
        body,
        connection,
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
