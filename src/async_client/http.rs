//! The async client's HTTP exchange: HTTP/1.1 connections made with hyper's client
//! connection API on tokio, kept alive in a small pool, with TLS from rustls (tokio-rustls).
//!
//! Why not a ready-made pooled client (reqwest, hyper-util's legacy client): the client talks to
//! one host, and a connection of its own tells it what it must know to never send a request
//! twice. hyper hands back a request it never wrote (`TrySendError::take_message`): such a
//! request is sent again on a fresh connection and counts as surely not sent, like a refused
//! connection. See the README's design choices for the measured cost.
//!
//! The same limits as the blocking client: `connect_timeout` for the lookup, again for the TCP
//! connection and again for the TLS handshake; `timeout` for the answer's head and each read of
//! its body; the whole exchange within [`exchange_deadline`]; at most `max_response_bytes` of
//! body; no redirect is followed (hyper follows none: a 3xx is an answer like any other).

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Bytes, Frame, SizeHint};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderValue, USER_AGENT};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;

use crate::core::answer::too_large;
use crate::error::{Error, TransportError};
use crate::secret::redact;
use crate::transport::{exchange_deadline, words};

/// A request body sent in one piece.
pub(crate) struct Once(Option<Bytes>);

impl Body for Once {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.0.take().map(|bytes| Ok(Frame::data(bytes))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.as_ref().map_or(0, |b| b.len() as u64))
    }
}

/// The settings of the exchange.
pub(crate) struct Limits {
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) max_idle: usize,
    pub(crate) max_response_bytes: u64,
}

/// The host calls go to and the connections to it.
pub(crate) struct Http {
    host: String,
    port: u16,
    /// The `Host` header.
    authority: HeaderValue,
    /// The base URL's scheme and authority (`https://api.weixin.qq.com`): what request URLs
    /// start with before their target.
    origin: String,
    /// For `https`.
    tls: Option<(TlsConnector, rustls::pki_types::ServerName<'static>)>,
    limits: Limits,
    idle: Mutex<VecDeque<SendRequest<Once>>>,
}

/// How an attempt to use a connection ended without an answer.
enum Failed {
    /// The request was never written: it is handed back.
    Unsent(Box<Request<Once>>, Error),
    /// It may have reached the server.
    Failed(Error),
}

impl Http {
    /// The connections to the host of `base_url` (checked by the builder: `http` or `https`
    /// with a host).
    pub(crate) fn new(base_url: &str, limits: Limits) -> Result<Http, Error> {
        let bad = || Error::Config(format!("base URL {base_url:?} is not valid"));
        let uri: Uri = base_url.parse().map_err(|_| bad())?;
        let https = uri.scheme_str() == Some("https");
        let host = uri.host().ok_or_else(bad)?;
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let authority =
            HeaderValue::from_str(uri.authority().ok_or_else(bad)?.as_str()).map_err(|_| bad())?;
        // A bracketed IPv6 literal is connected to without its brackets.
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let tls = if https {
            let name = rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|_| Error::Config(format!("{host:?} is not a valid TLS server name")))?;
            Some((TlsConnector::from(tls_config()?), name))
        } else {
            None
        };
        let origin = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or("http"),
            uri.authority().ok_or_else(bad)?.as_str()
        );
        Ok(Http {
            host,
            port,
            authority,
            origin,
            tls,
            limits,
            idle: Mutex::new(VecDeque::new()),
        })
    }

    /// One exchange: `POST` with `body`, or `GET`, of `url` (from
    /// [`crate::core::request::url`]). The status and the body; errors name `path` and mask
    /// `secrets`.
    pub(crate) async fn exchange(
        &self,
        path: &str,
        url: &str,
        body: Option<&[u8]>,
        secrets: &[&str],
    ) -> Result<(u16, Bytes), Error> {
        let request = self.request(path, url, body)?;
        let deadline = exchange_deadline(self.limits.timeout);
        match timeout(deadline, self.send(path, request, secrets)).await {
            Ok(result) => result,
            Err(_) => Err(transport(
                path,
                words::no_complete_answer(Some(deadline)),
                true,
                None,
            )),
        }
    }

    fn request(&self, path: &str, url: &str, body: Option<&[u8]>) -> Result<Request<Once>, Error> {
        let bad = || Error::Config(format!("{path}: the request URL is not valid"));
        // The request target (origin form): the URL after the base URL's scheme and authority,
        // parsed once; a URL from elsewhere is parsed whole and cut.
        let target: Uri = match url
            .strip_prefix(self.origin.as_str())
            .filter(|rest| rest.starts_with('/'))
        {
            Some(rest) => rest.parse().map_err(|_| bad())?,
            None => {
                let uri: Uri = url.parse().map_err(|_| bad())?;
                let mut parts = uri.into_parts();
                parts.scheme = None;
                parts.authority = None;
                Uri::from_parts(parts).map_err(|_| bad())?
            }
        };
        let mut request = Request::new(Once(body.map(Bytes::copy_from_slice)));
        *request.uri_mut() = target;
        let headers = request.headers_mut();
        headers.reserve(5);
        headers.insert(HOST, self.authority.clone());
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(crate::client::USER_AGENT),
        );
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        if body.is_some() {
            *request.method_mut() = Method::POST;
            let headers = request.headers_mut();
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            // hyper writes `Content-Length` from the body's exact size.
        }
        Ok(request)
    }

    async fn send(
        &self,
        path: &str,
        mut request: Request<Once>,
        secrets: &[&str],
    ) -> Result<(u16, Bytes), Error> {
        // A pooled connection first; a request it never wrote goes on a fresh one.
        while let Some(sender) = self.pooled() {
            match self.on(path, sender, request, secrets).await {
                Ok(answer) => return Ok(answer),
                Err(Failed::Unsent(back, _)) => request = *back,
                Err(Failed::Failed(e)) => return Err(e),
            }
        }
        let sender = self.connect(path, secrets).await?;
        match self.on(path, sender, request, secrets).await {
            Ok(answer) => Ok(answer),
            Err(Failed::Unsent(_, e) | Failed::Failed(e)) => Err(e),
        }
    }

    /// An idle connection that can take a request now.
    fn pooled(&self) -> Option<SendRequest<Once>> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(sender) = idle.pop_back() {
            if sender.is_ready() {
                return Some(sender);
            }
        }
        None
    }

    /// Sends `request` on `sender`'s connection and reads the answer; the connection goes back
    /// to the pool when it can take another request.
    async fn on(
        &self,
        path: &str,
        mut sender: SendRequest<Once>,
        request: Request<Once>,
        secrets: &[&str],
    ) -> Result<(u16, Bytes), Failed> {
        let timeout_of = self.limits.timeout;
        // The server sent nothing for `timeout`: waiting for the head, or for more of the body.
        let silent = || transport(path, words::sent_nothing_for(Some(timeout_of)), true, None);
        let waited = timeout(timeout_of, sender.try_send_request(request)).await;
        let response = match waited {
            Err(_) => return Err(Failed::Failed(silent())),
            Ok(Err(mut e)) => {
                // hyper hands the request back when it never wrote it.
                let unsent = e.take_message();
                let error = hyper_error(path, e.into_error(), secrets, unsent.is_none());
                return Err(match unsent {
                    Some(request) => Failed::Unsent(Box::new(request), error),
                    None => Failed::Failed(error),
                });
            }
            Ok(Ok(response)) => response,
        };
        let status = response.status().as_u16();
        let limit = self.limits.max_response_bytes;
        let declared = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit) {
            return Err(Failed::Failed(too_large(path, status, limit)));
        }
        let mut body = response.into_body();
        // The body as its one frame when it comes in one (a small answer, as most are: no
        // copy), else gathered.
        let mut first: Option<Bytes> = None;
        let mut gathered: Vec<u8> = Vec::new();
        let mut received: u64 = 0;
        loop {
            match next_frame(&mut body, timeout_of).await {
                Err(_) => return Err(Failed::Failed(silent())),
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    return Err(Failed::Failed(hyper_error(path, e, secrets, true)));
                }
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        received += data.len() as u64;
                        if received > limit {
                            return Err(Failed::Failed(too_large(path, status, limit)));
                        }
                        if first.is_none() && gathered.is_empty() {
                            first = Some(data);
                        } else {
                            if let Some(head) = first.take() {
                                gathered.reserve(declared.map_or(0, |n| n.min(64 * 1024) as usize));
                                gathered.extend_from_slice(&head);
                            }
                            gathered.extend_from_slice(&data);
                        }
                    }
                }
            }
        }
        // The connection can take the next request once hyper has seen the answer's end
        // (usually at once).
        if sender.is_ready() || sender.ready().await.is_ok() {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < self.limits.max_idle {
                idle.push_back(sender);
            }
        }
        let bytes = first.unwrap_or_else(|| Bytes::from(gathered));
        Ok((status, bytes))
    }

    /// A new connection: TCP (with the lookup), TLS for `https`, the HTTP/1.1 handshake. Its
    /// failures are surely-not-sent transport errors.
    async fn connect(&self, path: &str, secrets: &[&str]) -> Result<SendRequest<Once>, Error> {
        let limit = self.limits.connect_timeout;
        let unsent = |message: String, cause: Option<Cause>| {
            transport(path, redact(&message, secrets), false, cause)
        };
        if crate::resolve::is_invalid_tld(&self.host) {
            // RFC 6761: nobody is asked.
            return Err(unsent(words::HOST_NOT_FOUND.to_owned(), None));
        }
        let looked_up = timeout(
            limit,
            tokio::net::lookup_host((self.host.as_str(), self.port)),
        );
        let addresses = match looked_up.await {
            Err(_) => return Err(unsent(words::not_resolved_in_time(Some(limit)), None)),
            Ok(Err(e)) => return Err(unsent(words::HOST_NOT_FOUND.to_owned(), Some(Arc::new(e)))),
            Ok(Ok(addresses)) => addresses.collect::<Vec<_>>(),
        };
        let mut failure = unsent(words::HOST_NOT_FOUND.to_owned(), None);
        let mut tcp = None;
        for address in addresses {
            match timeout(limit, TcpStream::connect(address)).await {
                Ok(Ok(stream)) => {
                    tcp = Some(stream);
                    break;
                }
                Ok(Err(e)) => {
                    let words = match e.kind() {
                        std::io::ErrorKind::ConnectionRefused => words::REFUSED.to_owned(),
                        std::io::ErrorKind::AddrNotAvailable => words::UNREACHABLE.to_owned(),
                        _ => format!("no connection to the server: {e}"),
                    };
                    failure = unsent(words, Some(Arc::new(e)));
                }
                Err(_) => failure = unsent(words::not_connected_in_time(Some(limit)), None),
            }
        }
        let Some(tcp) = tcp else {
            return Err(failure);
        };
        let _ = tcp.set_nodelay(true);
        let setup = |e: hyper::Error| {
            unsent(
                format!("no connection to the server: {e}"),
                Some(Arc::new(e)),
            )
        };
        match &self.tls {
            None => {
                let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                    .await
                    .map_err(setup)?;
                tokio::spawn(connection);
                Ok(sender)
            }
            Some((connector, name)) => {
                let stream = match timeout(limit, connector.connect(name.clone(), tcp)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => return Err(unsent(words::tls_failed(&e), Some(Arc::new(e)))),
                    Err(_) => return Err(unsent(words::not_connected_in_time(Some(limit)), None)),
                };
                let (sender, connection) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .map_err(setup)?;
                tokio::spawn(connection);
                Ok(sender)
            }
        }
    }
}

/// The body's next frame: at once when hyper has it already (a small answer comes with its
/// head), else within `limit`, so that the common case arms no timer.
async fn next_frame(
    body: &mut hyper::body::Incoming,
    limit: Duration,
) -> Result<Option<Result<Frame<Bytes>, hyper::Error>>, tokio::time::error::Elapsed> {
    let ready = std::future::poll_fn(|cx| {
        Poll::Ready(match Pin::new(&mut *body).poll_frame(cx) {
            Poll::Ready(frame) => Some(frame),
            Poll::Pending => None,
        })
    })
    .await;
    match ready {
        Some(frame) => Ok(frame),
        None => {
            timeout(
                limit,
                std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)),
            )
            .await
        }
    }
}

/// rustls with ring and the Mozilla roots (webpki-roots), as ureq uses them.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, Error> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| Error::Config(format!("TLS could not be set up: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The error an HTTP stack reports, kept as the `source()`.
type Cause = Arc<dyn std::error::Error + Send + Sync>;

fn transport(path: &str, message: String, maybe_sent: bool, cause: Option<Cause>) -> Error {
    Error::Transport(TransportError {
        endpoint: path.to_owned(),
        message,
        maybe_sent,
        cause,
    })
}

/// A hyper error on a connection that was set up, in the blocking client's words.
fn hyper_error(path: &str, e: hyper::Error, secrets: &[&str], maybe_sent: bool) -> Error {
    let io = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<std::io::Error>());
    let words = match io.map(std::io::Error::kind) {
        Some(std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted) => {
            words::CUT.to_owned()
        }
        Some(std::io::ErrorKind::BrokenPipe) => {
            "the connection was closed while the request was being sent".to_owned()
        }
        _ if e.is_incomplete_message() || e.is_closed() || e.is_canceled() => {
            words::CLOSED_EARLY.to_owned()
        }
        _ if e.is_parse() => words::not_http(&e),
        _ => format!("network failure: {e}"),
    };
    transport(path, redact(&words, secrets), maybe_sent, Some(Arc::new(e)))
}
