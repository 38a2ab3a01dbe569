//! Where an export goes: a local folder or a bucket prefix, each day at `YYYY/MM/DD.ndjson.zst`
//! under it; and reading a day back to count its events.

use std::{
    fmt,
    fs::File,
    io::{self, Read},
    path::PathBuf,
};

use anyhow::Context;
use time::Date;
use tokio::runtime::Handle;

use super::{day_file::DayFile, day_object::DayObject};
use crate::bucket::{self, Bucket, ObjectReader};

#[derive(Debug, Clone)]
pub enum Target {
    Dir(PathBuf),
    Bucket(Bucket),
}

/// A day's archive being written, on disk or in a bucket.
pub enum DaySink {
    File(DayFile),
    Object(Box<DayObject>),
}

/// Where `day` goes under the target: `YYYY/MM/DD.ndjson.zst`.
pub fn day_key(day: Date) -> String {
    format!(
        "{:04}/{:02}/{:02}.ndjson.zst",
        day.year(),
        day.month() as u8,
        day.day()
    )
}

impl Target {
    /// `s3://`, `gs://` or `az://` is a bucket prefix; another URL is refused; anything else is a
    /// folder.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        if bucket::is_url(text) {
            return Bucket::open(text).map(Self::Bucket);
        }
        anyhow::ensure!(
            !text.contains("://"),
            "{text}: a folder, or an s3://, gs:// or az:// URL, was expected"
        );
        Ok(Self::Dir(PathBuf::from(text)))
    }

    /// The name of `day`'s archive, as people write it.
    pub fn name_of(&self, day: Date) -> String {
        match self {
            Self::Dir(dir) => dir.join(day_key(day)).display().to_string(),
            Self::Bucket(bucket) => bucket.url_of(&bucket.join(&day_key(day))),
        }
    }

    pub fn create(&self, day: Date) -> anyhow::Result<DaySink> {
        Ok(match self {
            Self::Dir(dir) => DaySink::File(DayFile::create(dir.join(day_key(day)))?),
            Self::Bucket(bucket) => DaySink::Object(Box::new(DayObject::create(
                bucket,
                bucket.join(&day_key(day)),
            ))),
        })
    }

    /// Reads `day`'s archive back whole and counts its events (its lines): a check that what
    /// was written can be read, all of it, before anything is deleted.
    pub async fn count_events(&self, day: Date) -> anyhow::Result<u64> {
        let name = self.name_of(day);
        let reader: Box<dyn Read + Send> = match self {
            Self::Dir(dir) => {
                let path = dir.join(day_key(day));
                Box::new(File::open(&path).with_context(|| format!("cannot read {name}"))?)
            }
            Self::Bucket(bucket) => {
                let meta = bucket.head(&bucket.join(&day_key(day))).await?;
                Box::new(ObjectReader::new(Handle::current(), bucket, meta))
            }
        };
        tokio::task::spawn_blocking(move || count_lines(reader))
            .await?
            .with_context(|| format!("cannot read back {name}"))
    }
}

/// The line breaks in a zstd stream.
fn count_lines(reader: impl Read) -> io::Result<u64> {
    let mut decoder = zstd::stream::read::Decoder::new(reader)?;
    let mut buffer = vec![0u8; 1 << 16];
    let mut lines = 0;
    loop {
        match decoder.read(&mut buffer) {
            Ok(0) => return Ok(lines),
            Ok(n) => lines += buffer[..n].iter().filter(|&&b| b == b'\n').count() as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dir(dir) => write!(f, "{}", dir.display()),
            Self::Bucket(bucket) => f.write_str(&bucket.url()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_has_a_year_a_month_and_a_day_in_its_key() {
        let day = Date::from_calendar_date(2024, time::Month::March, 7).unwrap();
        assert_eq!(day_key(day), "2024/03/07.ndjson.zst");
        let target = Target::parse("out").unwrap();
        assert_eq!(target.name_of(day), "out/2024/03/07.ndjson.zst");
        let target = Target::parse("s3://archive/webhooks").unwrap();
        assert_eq!(
            target.name_of(day),
            "s3://archive/webhooks/2024/03/07.ndjson.zst"
        );
        let refused = Target::parse("https://example.com/x").unwrap_err();
        assert!(refused.to_string().contains("https://example.com/x"));
    }

    #[test]
    fn lines_are_counted_through_zstd_and_a_cut_stream_is_an_error() {
        let text = b"{\"id\":\"a\"}\n{\"id\":\"b\"}\n".repeat(1000);
        let compressed = zstd::encode_all(&text[..], 3).unwrap();
        assert_eq!(count_lines(&compressed[..]).unwrap(), 2000);
        assert!(count_lines(&compressed[..compressed.len() / 2]).is_err());
    }
}
