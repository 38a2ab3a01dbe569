//! A TCP proxy that delays every byte by a fixed time in each direction, to stand in for a
//! database on another host: `--delay-us 500` gives a 1 ms round trip.
//!
//! Bytes keep their order and the link is not throttled: each chunk is forwarded once its delay
//! has passed, while later chunks are already being read. Plain threads, not an async runtime:
//! tokio's timer ticks in whole milliseconds, too coarse for a half-millisecond delay.

use std::{
    io::{Read, Write},
    net::{Shutdown, TcpListener, TcpStream},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use clap::Parser;

#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:15432")]
    listen: String,
    /// Address to forward to.
    #[arg(long, default_value = "127.0.0.1:5432")]
    upstream: String,
    /// Delay in each direction, in microseconds.
    #[arg(long, default_value_t = 500)]
    delay_us: u64,
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let delay = Duration::from_micros(args.delay_us);
    let listener = TcpListener::bind(&args.listen)?;
    for client in listener.incoming() {
        let Ok(client) = client else { continue };
        let Ok(server) = TcpStream::connect(&args.upstream) else {
            continue;
        };
        let _ = (client.set_nodelay(true), server.set_nodelay(true));
        let (client_in, server_in) = (client.try_clone()?, server.try_clone()?);
        thread::spawn(move || pipe(client_in, server, delay));
        thread::spawn(move || pipe(server_in, client, delay));
    }
    Ok(())
}

/// Forwards `from` to `to`, each chunk `delay` after it was read.
fn pipe(mut from: TcpStream, to: TcpStream, delay: Duration) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    let mut sink = to.try_clone().expect("cloning a socket");
    let writer = thread::spawn(move || {
        for (due, chunk) in rx {
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                thread::sleep(wait);
            }
            if sink.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0
            || tx
                .send((Instant::now() + delay, buf[..n].to_vec()))
                .is_err()
        {
            break;
        }
    }
    drop(tx);
    let _ = writer.join();
    let _ = to.shutdown(Shutdown::Write);
}
