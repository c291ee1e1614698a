//! A connection opened in one call and used in later ones, through the SDK's async TCP stream
//! and executor: what a database plugin does with its connection.

use std::cell::RefCell;

use pier_sdk::net::TcpStream;
use pier_sdk::rt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

thread_local! {
    static CONNECTION: RefCell<Option<TcpStream>> = const { RefCell::new(None) };
}

pub fn connect(host: &str, port: u16) -> std::io::Result<()> {
    let stream = rt::block_on(TcpStream::connect(host, port))?;
    CONNECTION.with(|c| *c.borrow_mut() = Some(stream));
    Ok(())
}

pub fn echo(message: &str) -> std::io::Result<String> {
    let Some(mut stream) = CONNECTION.with(|c| c.borrow_mut().take()) else {
        return Err(std::io::Error::other(
            "no kept connection; call kept_connect first",
        ));
    };
    let result = rt::block_on(async {
        stream.write_all(message.as_bytes()).await?;
        stream.flush().await?;
        let mut reply = vec![0u8; message.len()];
        stream.read_exact(&mut reply).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&reply).into_owned())
    });
    CONNECTION.with(|c| *c.borrow_mut() = Some(stream));
    result
}

thread_local! {
    static BACKGROUND: RefCell<Option<std::io::Result<String>>> = const { RefCell::new(None) };
}

/// Starts a background task that connects and echoes `message`; it outlives this call.
pub fn start_background(host: String, port: u16, message: String) {
    BACKGROUND.with(|b| *b.borrow_mut() = None);
    rt::spawn(async move {
        let result = async {
            let mut stream = TcpStream::connect(&host, port).await?;
            stream.write_all(message.as_bytes()).await?;
            let mut reply = vec![0u8; message.len()];
            stream.read_exact(&mut reply).await?;
            Ok(String::from_utf8_lossy(&reply).into_owned())
        }
        .await;
        BACKGROUND.with(|b| *b.borrow_mut() = Some(result));
    });
    // Let it start (it gets as far as its first wait), then return while it is still running.
    rt::block_on(async {});
}

/// Drives background tasks until the one started earlier has finished, and returns its result.
pub fn finish_background() -> std::io::Result<String> {
    rt::block_on(std::future::poll_fn(|_| {
        match BACKGROUND.with(|b| b.borrow_mut().take()) {
            Some(result) => std::task::Poll::Ready(result),
            None => std::task::Poll::Pending,
        }
    }))
}
