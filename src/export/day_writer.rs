//! One day's archive being written: NDJSON through a zstd encoder, its output handed to the sink
//! (a file, an upload) page by page, so a day is never held whole in memory. A page compresses
//! on a blocking thread while the caller fetches the next one from Postgres.

use std::io::{self, Write};

use anyhow::Context;
use tokio::task::JoinHandle;

use super::target::DaySink;

/// zstd's level, fixed: the same rows give the same bytes on every run (one thread, no
/// dictionary, one frame with a checksum).
pub const LEVEL: i32 = 3;

type Encoder = zstd::Encoder<'static, Vec<u8>>;
/// A page being compressed: gives back the encoder and what it produced.
type Compressing = JoinHandle<io::Result<(Encoder, Vec<u8>)>>;

/// What one finished archive holds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Written {
    pub events: u64,
    /// Compressed, as stored.
    pub bytes: u64,
    /// The NDJSON before compression.
    pub raw_bytes: u64,
}

pub struct DayWriter {
    /// `None` while a page is being compressed: the encoder is with that page.
    encoder: Option<Encoder>,
    compressing: Option<Compressing>,
    sink: DaySink,
    written: Written,
}

impl DayWriter {
    pub fn new(sink: DaySink) -> anyhow::Result<Self> {
        let encoder = zstd::Encoder::new(Vec::with_capacity(1 << 18), LEVEL)
            .and_then(|mut e| e.include_checksum(true).map(|()| e))
            .context("cannot start a zstd encoder")?;
        Ok(Self {
            encoder: Some(encoder),
            compressing: None,
            sink,
            written: Written::default(),
        })
    }

    /// Hands the previous page's output to the sink, then starts compressing `page`, one body
    /// per line: Postgres prints `jsonb` on one line, escaping any line break inside a string.
    pub async fn write_page(&mut self, page: Vec<String>) -> anyhow::Result<()> {
        self.settle().await?;
        let mut encoder = self.encoder.take().expect("no page is being compressed");
        self.written.events += page.len() as u64;
        self.written.raw_bytes += page.iter().map(|b| b.len() as u64 + 1).sum::<u64>();
        self.compressing = Some(tokio::task::spawn_blocking(move || {
            for body in &page {
                encoder.write_all(body.as_bytes())?;
                encoder.write_all(b"\n")?;
            }
            let out = std::mem::take(encoder.get_mut());
            Ok((encoder, out))
        }));
        Ok(())
    }

    /// Waits for the page being compressed, if any, and hands its output to the sink.
    async fn settle(&mut self) -> anyhow::Result<()> {
        if let Some(task) = self.compressing.take() {
            let (encoder, out) = task.await?.context("zstd failed")?;
            self.encoder = Some(encoder);
            self.put(out).await?;
        }
        Ok(())
    }

    async fn put(&mut self, bytes: Vec<u8>) -> anyhow::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.written.bytes += bytes.len() as u64;
        match &mut self.sink {
            // A plain blocking write: a page is written in well under a millisecond.
            DaySink::File(file) => file.write(&bytes),
            DaySink::Object(object) => object.write(bytes).await,
        }
    }

    /// Ends the zstd frame and makes the archive whole under its final name.
    pub async fn finish(mut self) -> anyhow::Result<Written> {
        self.settle().await?;
        let encoder = self.encoder.take().expect("no page is being compressed");
        let tail = encoder.finish().context("zstd failed")?;
        self.put(tail).await?;
        match self.sink {
            DaySink::File(file) => file.finish()?,
            DaySink::Object(object) => object.finish().await?,
        }
        Ok(self.written)
    }

    /// Gives the day up: the final name keeps what it held before.
    pub async fn abort(mut self) {
        if let Some(task) = self.compressing.take() {
            let _ = task.await;
        }
        match self.sink {
            DaySink::File(file) => drop(file),
            DaySink::Object(object) => object.abort().await,
        }
    }
}
