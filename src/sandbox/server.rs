//! The HTTP side: a tokio runtime on the sandbox's own thread, an accept loop that counts
//! connections, hyper serving each connection with the one handler, and fault injection.
//!
//! Each accepted connection is served by hyper's HTTP/1.1 connection driver (keep-alive on)
//! with [`handle`] as its service: every path and method reaches it, so no router is needed
//! (the sandbox used axum for this once; hyper alone does it with less to compile, see the
//! README's design choices). Closing a connection without an answer — the "dropped connection"
//! fault — is done by the service returning an error for a response marked
//! [`CloseConnection`]: hyper then ends the connection without writing anything.

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use hyper::body::{Body as _, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Request, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{Value, json};

use super::Fault;
use super::api::{self, Answer, DATA_FORMAT_ERROR};
use super::shared::{Shared, normalize};
use super::state::Refusal;
use super::{console, control};

/// Largest request body accepted (WeChat's own limit is not documented; card bodies are small).
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What the sandbox answers: a text body (JSON or HTML).
pub(crate) type Response = hyper::Response<String>;

/// The running server: its address and what it takes to stop it.
pub(crate) struct Server {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `listener` on a new thread (with a tokio runtime of `workers` threads).
    pub(crate) fn start(
        listener: std::net::TcpListener,
        shared: Arc<Shared>,
        workers: usize,
    ) -> std::io::Result<Server> {
        listener.set_nonblocking(true)?;
        let (ready_tx, ready_rx) = mpsc::sync_channel::<std::io::Result<()>>(1);
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("wechat-card-sandbox".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(workers.max(1))
                    .thread_name("wechat-card-sandbox-worker")
                    .enable_io()
                    .enable_time()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let listener = {
                    let _context = runtime.enter();
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    }
                };
                runtime.spawn(accept_loop(listener, shared));
                let _ = ready_tx.send(Ok(()));
                // Until the handle is dropped (the sender goes away) or says stop.
                let _ = stop_rx.recv();
                // Ends the accept loop and every connection task: sockets are closed.
                runtime.shutdown_timeout(Duration::from_secs(2));
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Server {
                stop: Some(stop_tx),
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(std::io::Error::other(
                    "the sandbox server thread ended early",
                ))
            }
        }
    }

    /// Stops serving and waits for the server thread.
    pub(crate) fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        shared.connections.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let shared = shared.clone();
                async move {
                    let response = handle(&shared, request).await;
                    if response.extensions().get::<CloseConnection>().is_some() {
                        Err(ConnectionDropped)
                    } else {
                        Ok(response)
                    }
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Why a request body was not read.
enum BodyError {
    TooLarge,
    Broken(hyper::Error),
}

/// Past [`MAX_BODY_BYTES`] a body is still read (and dropped) up to this size, so that a client
/// that is still sending gets the refusal instead of a reset connection; a larger one is not
/// read at all.
const DRAIN_BYTES: usize = 16 * 1024 * 1024;

/// The request body, at most [`MAX_BODY_BYTES`]; a larger one is read to its end (up to
/// [`DRAIN_BYTES`]) and refused.
async fn read_body(mut body: Incoming) -> Result<Vec<u8>, BodyError> {
    if body
        .size_hint()
        .exact()
        .is_some_and(|n| n > DRAIN_BYTES as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut out = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(BodyError::Broken)?;
        if let Ok(data) = frame.into_data() {
            seen = seen.saturating_add(data.len());
            if seen > DRAIN_BYTES {
                return Err(BodyError::TooLarge);
            }
            if seen <= MAX_BODY_BYTES {
                out.extend_from_slice(&data);
            }
        }
    }
    if seen > MAX_BODY_BYTES {
        return Err(BodyError::TooLarge);
    }
    Ok(out)
}

/// Marks a response that must not be sent: the connection is closed instead.
#[derive(Debug, Clone, Copy)]
struct CloseConnection;

/// The error that makes hyper close a connection without answering.
#[derive(Debug)]
struct ConnectionDropped;

impl std::fmt::Display for ConnectionDropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for ConnectionDropped {}

/// The one handler: every path, every method.
async fn handle(shared: &Shared, request: Request<Incoming>) -> Response {
    let (parts, body) = request.into_parts();
    let (method, uri) = (parts.method, parts.uri);
    let path = normalize(uri.path()).to_owned();
    if let Some(page) = console::serve(shared, &method, &path) {
        return page;
    }
    shared.count(&path);
    let body = read_body(body).await;
    if control::is_control(&path) {
        let answer = match &body {
            Ok(bytes) => control::dispatch(shared, &method, &path, bytes),
            Err(_) => Answer::refusal(&Refusal::of(DATA_FORMAT_ERROR)),
        };
        if let Err(e) = shared.save_state() {
            log::warn!(target: "wechat_card::sandbox", "{e}");
        }
        return json_response(answer.status, &answer.body);
    }
    let mut drop_after = false;
    match shared.take_fault(&path) {
        Some(Fault::Errcode(errcode)) => {
            let body = json!({ "errcode": errcode, "errmsg": fault_errmsg(errcode) });
            shared.remember(&path, &body);
            return json_response(200, &body);
        }
        Some(Fault::Delay(pause)) => tokio::time::sleep(pause).await,
        Some(Fault::Drop) => return close_connection(),
        Some(Fault::DropAfterHandling) => drop_after = true,
        Some(Fault::HttpStatus(status)) => return error_page(status),
        Some(Fault::ExpireToken) => shared.state().expire_tokens(),
        None => {}
    }
    let query = crate::percent::parse_query(uri.query().unwrap_or_default());
    let answer = match body {
        Ok(bytes) => {
            let mut state = shared.state();
            api::dispatch(&mut state, &method, &path, &query, &bytes)
        }
        Err(BodyError::TooLarge) => Answer::refusal(&Refusal::new(
            DATA_FORMAT_ERROR,
            format!("data format error: the body is larger than {MAX_BODY_BYTES} bytes"),
        )),
        Err(BodyError::Broken(e)) => Answer::refusal(&Refusal::new(
            DATA_FORMAT_ERROR,
            format!("data format error: the body could not be read: {e}"),
        )),
    };
    shared.remember(&path, &answer.body);
    // A saved state follows every call, so that a server stopped at any moment resumes where it
    // was (`--state`); nothing is written without a state file.
    if let Err(e) = shared.save_state() {
        log::warn!(target: "wechat_card::sandbox", "{e}");
    }
    if drop_after {
        return close_connection();
    }
    json_response(answer.status, &answer.body)
}

/// WeChat's message for an injected errcode, from the errcode catalog (`spec/errors.yaml`).
fn fault_errmsg(errcode: i64) -> &'static str {
    super::errcodes::errmsg(errcode)
}

fn json_response(status: u16, body: &Value) -> Response {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    let mut response = Response::new(text);
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

fn error_page(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let text = format!(
        "<html><head><title>{status}</title></head><body><center><h1>{status}</h1></center></body></html>"
    );
    let mut response = Response::new(text);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    response
}

fn close_connection() -> Response {
    let mut response = Response::new(String::new());
    response.extensions_mut().insert(CloseConnection);
    response
}
