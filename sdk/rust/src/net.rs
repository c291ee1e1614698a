//! TCP over `wasi:sockets` with tokio's `AsyncRead`/`AsyncWrite`, driven by [`crate::rt`].
//!
//! The connect goes through pier's checks: the name is looked up by pier (only granted names
//! resolve) and the address must be granted in `[grants].network`. A refusal surfaces as
//! `PermissionDenied`; pier adds the manifest line to grant to the tool error.

use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wasi::io::streams::{InputStream, OutputStream, StreamError};
use wasi::sockets::network::{
    ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
    Network,
};
use wasi::sockets::tcp::{ShutdownType, TcpSocket};

use crate::rt;

/// A connected TCP stream. Fields drop in order: the streams before their socket.
pub struct TcpStream {
    /// Tag of the pollables this stream registers with the executor (released on drop).
    owner: u64,
    input: InputStream,
    output: OutputStream,
    socket: TcpSocket,
}

fn to_io(code: ErrorCode) -> io::Error {
    let kind = match code {
        ErrorCode::AccessDenied | ErrorCode::NotSupported => io::ErrorKind::PermissionDenied,
        ErrorCode::ConnectionRefused => io::ErrorKind::ConnectionRefused,
        ErrorCode::ConnectionReset => io::ErrorKind::ConnectionReset,
        ErrorCode::ConnectionAborted => io::ErrorKind::ConnectionAborted,
        ErrorCode::Timeout => io::ErrorKind::TimedOut,
        ErrorCode::InvalidArgument => io::ErrorKind::InvalidInput,
        ErrorCode::NameUnresolvable => io::ErrorKind::NotFound,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, format!("{code:?}"))
}

fn stream_error(e: StreamError) -> io::Error {
    match e {
        StreamError::Closed => io::Error::new(io::ErrorKind::BrokenPipe, "connection closed"),
        StreamError::LastOperationFailed(e) => io::Error::other(e.to_debug_string()),
    }
}

impl TcpStream {
    /// Resolves `host` (through pier) and connects to the first address that accepts.
    pub async fn connect(host: &str, port: u16) -> io::Result<TcpStream> {
        let network = wasi::sockets::instance_network::instance_network();
        let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address"));
        for ip in resolve(&network, host).await? {
            match connect_to(&network, ip, port).await {
                Ok(s) => return Ok(s),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

async fn resolve(network: &Network, host: &str) -> io::Result<Vec<IpAddr>> {
    if let Ok(ip) = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return Ok(vec![ip]);
    }
    let stream = wasi::sockets::ip_name_lookup::resolve_addresses(network, host).map_err(to_io)?;
    let mut out = Vec::new();
    loop {
        match stream.resolve_next_address() {
            Ok(Some(IpAddress::Ipv4((a, b, c, d)))) => out.push(IpAddr::from([a, b, c, d])),
            Ok(Some(IpAddress::Ipv6((a, b, c, d, e, f, g, h)))) => {
                out.push(IpAddr::from([a, b, c, d, e, f, g, h]))
            }
            Ok(None) => return Ok(out),
            Err(ErrorCode::WouldBlock) => rt::ready(|| stream.subscribe()).await,
            Err(e) => return Err(to_io(e)),
        }
    }
}

async fn connect_to(network: &Network, ip: IpAddr, port: u16) -> io::Result<TcpStream> {
    let (family, address) = match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            let address = Ipv4SocketAddress {
                port,
                address: (a, b, c, d),
            };
            (IpAddressFamily::Ipv4, IpSocketAddress::Ipv4(address))
        }
        IpAddr::V6(v6) => {
            let [a, b, c, d, e, f, g, h] = v6.segments();
            let address = Ipv6SocketAddress {
                port,
                flow_info: 0,
                address: (a, b, c, d, e, f, g, h),
                scope_id: 0,
            };
            (IpAddressFamily::Ipv6, IpSocketAddress::Ipv6(address))
        }
    };
    let socket = wasi::sockets::tcp_create_socket::create_tcp_socket(family).map_err(to_io)?;
    socket.start_connect(network, address).map_err(to_io)?;
    loop {
        match socket.finish_connect() {
            Ok((input, output)) => {
                return Ok(TcpStream {
                    owner: rt::new_owner(),
                    input,
                    output,
                    socket,
                });
            }
            Err(ErrorCode::WouldBlock) => rt::ready(|| socket.subscribe()).await,
            Err(e) => return Err(to_io(e)),
        }
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        // Pollables of our streams must go before the streams themselves.
        rt::release(self.owner);
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.input.read(buf.remaining() as u64) {
            Ok(bytes) if bytes.is_empty() => {
                rt::wait_for_owned(self.input.subscribe(), cx.waker(), self.owner);
                Poll::Pending
            }
            Ok(bytes) => {
                buf.put_slice(&bytes);
                Poll::Ready(Ok(()))
            }
            // End of stream: a read that fills nothing.
            Err(StreamError::Closed) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(Err(stream_error(e))),
        }
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.output.check_write() {
            Ok(0) => {
                rt::wait_for_owned(self.output.subscribe(), cx.waker(), self.owner);
                Poll::Pending
            }
            Ok(room) => {
                let n = buf.len().min(room as usize);
                match self.output.write(&buf[..n]) {
                    Ok(()) => Poll::Ready(Ok(n)),
                    Err(e) => Poll::Ready(Err(stream_error(e))),
                }
            }
            Err(e) => Poll::Ready(Err(stream_error(e))),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Hands buffered bytes to the host, which sends them in order; nothing to wait for.
        Poll::Ready(self.output.flush().map_err(stream_error))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.socket.shutdown(ShutdownType::Send).map_err(to_io))
    }
}
