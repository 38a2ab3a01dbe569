//! One day's file of an export, `DIR/YYYY/MM/DD.ndjson.zst`: NDJSON through a zstd encoder into a
//! temporary file beside it, fsync'd, then renamed into place, so the final name only ever holds
//! a whole day.

use std::{
    fs::{self, File},
    io::{BufWriter, Write},
    path::{Path, PathBuf},
};

use anyhow::Context;
use time::Date;

/// zstd's level, fixed: the same rows give the same bytes on every run (one thread, no
/// dictionary, one frame with a checksum).
pub const LEVEL: i32 = 3;

/// Where `day`'s events go under `dir`.
pub fn path_of(dir: &Path, day: Date) -> PathBuf {
    dir.join(format!("{:04}", day.year()))
        .join(format!("{:02}", day.month() as u8))
        .join(format!("{:02}.ndjson.zst", day.day()))
}

/// What one finished file holds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Written {
    pub events: u64,
    /// On disk, compressed.
    pub bytes: u64,
    /// The NDJSON before compression.
    pub raw_bytes: u64,
}

/// A day's file being written. Dropped unfinished (an error, an interrupt), it removes its
/// temporary file and leaves whatever the final name held before.
pub struct DayFile {
    path: PathBuf,
    temp: PathBuf,
    encoder: Option<zstd::Encoder<'static, BufWriter<File>>>,
    written: Written,
    renamed: bool,
}

impl DayFile {
    /// Creates the day's folders if missing and its temporary file, named after the process so
    /// that two exports into one folder never write the same one.
    pub fn create(dir: &Path, day: Date) -> anyhow::Result<Self> {
        let path = path_of(dir, day);
        let folder = path.parent().expect("a day's file is in a month's folder");
        fs::create_dir_all(folder)
            .with_context(|| format!("cannot create directory {}", folder.display()))?;
        let name = path.file_name().expect("a day's file has a name");
        let temp = folder.join(format!(
            ".{}.{}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file =
            File::create(&temp).with_context(|| format!("cannot create {}", temp.display()))?;
        let mut day_file = Self {
            path,
            temp,
            encoder: None,
            written: Written::default(),
            renamed: false,
        };
        let encoder = zstd::Encoder::new(BufWriter::with_capacity(1 << 18, file), LEVEL)
            .and_then(|mut e| e.include_checksum(true).map(|()| e))
            .with_context(|| {
                format!("cannot start compressing into {}", day_file.temp.display())
            })?;
        day_file.encoder = Some(encoder);
        Ok(day_file)
    }

    /// Appends one body and a line break. Postgres prints `jsonb` on one line, escaping any line
    /// break inside a string, so each body is one NDJSON line.
    pub fn write_line(&mut self, body: &str) -> anyhow::Result<()> {
        let encoder = self.encoder.as_mut().expect("an unfinished file");
        encoder
            .write_all(body.as_bytes())
            .and_then(|()| encoder.write_all(b"\n"))
            .with_context(|| format!("cannot write {}", self.temp.display()))?;
        self.written.events += 1;
        self.written.raw_bytes += body.len() as u64 + 1;
        Ok(())
    }

    /// Ends the zstd frame, fsyncs the file, renames it to its final name (replacing an older
    /// one whole) and fsyncs the folders above it, so the name survives a crash.
    pub fn finish(mut self) -> anyhow::Result<Written> {
        let encoder = self.encoder.take().expect("an unfinished file");
        let file = encoder
            .finish()
            .and_then(|buffered| buffered.into_inner().map_err(|e| e.into_error()))
            .and_then(|file| file.sync_all().map(|()| file))
            .with_context(|| format!("cannot write {}", self.temp.display()))?;
        self.written.bytes = file
            .metadata()
            .with_context(|| format!("cannot read {}", self.temp.display()))?
            .len();
        drop(file);
        fs::rename(&self.temp, &self.path).with_context(|| {
            format!(
                "cannot rename {} to {}",
                self.temp.display(),
                self.path.display()
            )
        })?;
        self.renamed = true;
        // The month's folder holds the new name; the year's and the export's may hold new folders.
        for folder in self.path.ancestors().skip(1).take(3) {
            File::open(folder)
                .and_then(|f| f.sync_all())
                .with_context(|| format!("cannot fsync directory {}", folder.display()))?;
        }
        Ok(self.written)
    }
}

impl Drop for DayFile {
    fn drop(&mut self) {
        if !self.renamed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_has_a_year_a_month_and_a_day_in_its_path() {
        let day = Date::from_calendar_date(2024, time::Month::March, 7).unwrap();
        assert_eq!(
            path_of(Path::new("out"), day),
            Path::new("out/2024/03/07.ndjson.zst")
        );
    }
}
