//! One day's archive being written: NDJSON through a zstd encoder, its output handed to the sink
//! (a file, an upload) page by page, so a day is never held whole in memory.

use std::io::Write;

use anyhow::Context;

use super::target::DaySink;

/// zstd's level, fixed: the same rows give the same bytes on every run (one thread, no
/// dictionary, one frame with a checksum).
pub const LEVEL: i32 = 3;

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
    encoder: zstd::Encoder<'static, Vec<u8>>,
    sink: DaySink,
    written: Written,
}

impl DayWriter {
    pub fn new(sink: DaySink) -> anyhow::Result<Self> {
        let encoder = zstd::Encoder::new(Vec::with_capacity(1 << 18), LEVEL)
            .and_then(|mut e| e.include_checksum(true).map(|()| e))
            .context("cannot start a zstd encoder")?;
        Ok(Self {
            encoder,
            sink,
            written: Written::default(),
        })
    }

    /// Appends one body and a line break. Postgres prints `jsonb` on one line, escaping any line
    /// break inside a string, so each body is one NDJSON line.
    pub fn write_line(&mut self, body: &str) -> anyhow::Result<()> {
        self.encoder
            .write_all(body.as_bytes())
            .and_then(|()| self.encoder.write_all(b"\n"))
            .context("zstd failed")?;
        self.written.events += 1;
        self.written.raw_bytes += body.len() as u64 + 1;
        Ok(())
    }

    /// Hands what the encoder has produced so far to the sink.
    pub async fn flush(&mut self) -> anyhow::Result<()> {
        let bytes = std::mem::take(self.encoder.get_mut());
        self.put(bytes).await
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
        let encoder = std::mem::replace(&mut self.encoder, zstd::Encoder::new(Vec::new(), LEVEL)?);
        let tail = encoder.finish().context("zstd failed")?;
        self.put(tail).await?;
        match self.sink {
            DaySink::File(file) => file.finish()?,
            DaySink::Object(object) => object.finish().await?,
        }
        Ok(self.written)
    }

    /// Gives the day up: the final name keeps what it held before.
    pub async fn abort(self) {
        match self.sink {
            DaySink::File(file) => drop(file),
            DaySink::Object(object) => object.abort().await,
        }
    }
}
