//! One day's archive on local disk, `DIR/YYYY/MM/DD.ndjson.zst`: bytes into a temporary file
//! beside it, fsync'd, then renamed into place, so the final name only ever holds a whole day.

use std::{
    fs::{self, File},
    io::{BufWriter, Write},
    path::{Path, PathBuf},
};

use anyhow::Context;

/// A day's file being written. Dropped unfinished (an error, an interrupt), it removes its
/// temporary file and leaves whatever the final name held before.
pub struct DayFile {
    path: PathBuf,
    temp: PathBuf,
    file: Option<BufWriter<File>>,
    renamed: bool,
    /// Folders above the file that this day created (its month's, then its year's): their
    /// parents must be fsync'd to keep them.
    created: usize,
}

impl DayFile {
    /// Creates the day's folders if missing and its temporary file, named after the process so
    /// that two exports into one folder never write the same one.
    pub fn create(path: PathBuf) -> anyhow::Result<Self> {
        let folder = path.parent().expect("a day's file is in a month's folder");
        let created = folder
            .ancestors()
            .take(2)
            .take_while(|f| !f.exists())
            .count();
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
        Ok(Self {
            path,
            temp,
            file: Some(BufWriter::with_capacity(1 << 18, file)),
            renamed: false,
            created,
        })
    }

    pub fn write(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        let file = self.file.as_mut().expect("an unfinished file");
        file.write_all(bytes)
            .with_context(|| format!("cannot write {}", self.temp.display()))
    }

    /// Fsyncs the file, renames it to its final name (replacing an older one whole) and fsyncs
    /// the folders above it, so the name survives a crash.
    pub fn finish(mut self) -> anyhow::Result<()> {
        let file = self.file.take().expect("an unfinished file");
        file.into_inner()
            .map_err(|e| e.into_error())
            .and_then(|file| file.sync_all())
            .with_context(|| format!("cannot write {}", self.temp.display()))?;
        fs::rename(&self.temp, &self.path).with_context(|| {
            format!(
                "cannot rename {} to {}",
                self.temp.display(),
                self.path.display()
            )
        })?;
        self.renamed = true;
        // The month's folder holds the new name; the year's and the export's, new folders if any.
        for folder in self.path.ancestors().skip(1).take(1 + self.created) {
            sync_folder(folder)?;
        }
        Ok(())
    }
}

fn sync_folder(folder: &Path) -> anyhow::Result<()> {
    File::open(folder)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot fsync directory {}", folder.display()))
}

impl Drop for DayFile {
    fn drop(&mut self) {
        if !self.renamed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}
