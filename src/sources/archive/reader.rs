//! The reading side, on a thread of its own: inputs into triaged items, handed to the
//! loader in chunks through a bounded channel, so parsing overlaps with database writes.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use tokio::{runtime::Handle, sync::mpsc};

use super::{
    LOADERS,
    files::{self, Counter, Input},
    records::{self, MAX_RECORD, Record},
};
use crate::triage::{self, DIGEST_LEN, Event, Item, Origin, Reject};

/// Chunks waiting for the loader; with the one being written and the one being read, this
/// bounds memory to a few batches.
const QUEUED_CHUNKS: usize = 2;

/// What the reader hands over: up to a batch of items (events and rejects, each with its file
/// and line), with whatever else it met meanwhile.
#[derive(Debug, Default)]
pub struct Chunk {
    pub items: Vec<Item>,
    pub probes: u64,
    /// Repeats of an event met shortly before, identical to it, left out of `items`.
    pub repeats: u64,
    /// Inputs read to their end.
    pub files_done: u64,
    /// Inputs that could not be opened or read to their end, with the error.
    pub failures: Vec<(String, String)>,
    /// Input bytes read so far, all inputs together (before decompression).
    pub bytes_read: u64,
}

struct Reader {
    batch_size: usize,
    tx: mpsc::Sender<Chunk>,
    stop: Arc<AtomicBool>,
    counter: Counter,
    runtime: Handle,
    chunk: Chunk,
    recent: Recent,
}

/// Starts reading `inputs` on a thread; chunks arrive on the receiver, which ends after the last
/// input or once `stop` is set. Dropping the receiver stops the reader too. Objects in a bucket
/// are fetched through the runtime it is called from.
pub fn spawn(
    inputs: Vec<Input>,
    batch_size: usize,
    stop: Arc<AtomicBool>,
) -> std::io::Result<mpsc::Receiver<Chunk>> {
    let (tx, rx) = mpsc::channel(QUEUED_CHUNKS);
    let reader = Reader {
        batch_size,
        tx,
        stop,
        counter: Counter::default(),
        runtime: Handle::current(),
        chunk: Chunk::default(),
        // Every batch that may not have committed yet: being read, queued, being written.
        recent: Recent::new((QUEUED_CHUNKS + LOADERS + 2) * batch_size),
    };
    // A plain thread, not spawn_blocking: a read blocked on stdin must not hold up the exit.
    std::thread::Builder::new()
        .name("backfill-reader".into())
        .spawn(move || reader.run(&inputs))?;
    Ok(rx)
}

impl Reader {
    fn run(mut self, inputs: &[Input]) {
        for input in inputs {
            if self.stopped() {
                return;
            }
            let name = input.to_string();
            match self.read_input(input, &name) {
                Ok(()) => self.chunk.files_done += 1,
                Err(e) => self.chunk.failures.push((name, e.to_string())),
            }
        }
        self.send();
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn read_input(&mut self, input: &Input, name: &str) -> std::io::Result<()> {
        let file: Arc<str> = Arc::from(name);
        let mut records = records::open(files::open(input, &self.counter, &self.runtime)?)?;
        while let Some(record) = records.next_record()? {
            take(&mut self.chunk, &mut self.recent, record, &file);
            if self.chunk.items.len() >= self.batch_size {
                self.send();
            }
            if self.stopped() {
                break;
            }
        }
        Ok(())
    }

    /// Hands the chunk over, waiting while the loader is behind; stops if the loader is gone.
    fn send(&mut self) {
        let mut chunk = std::mem::take(&mut self.chunk);
        chunk.bytes_read = self.counter.get();
        if self.tx.blocking_send(chunk).is_err() {
            self.stop.store(true, Ordering::Relaxed);
        }
    }
}

/// Triages one record into the chunk: an event, a probe, a reject, or a repeat of a recent event.
fn take(chunk: &mut Chunk, recent: &mut Recent, record: Record<'_>, file: &Arc<str>) {
    let origin = Origin::Archive {
        file: file.clone(),
        line: record.line,
    };
    let item = if record.too_large {
        Some(Item::Reject(Reject {
            origin,
            reason: format!(
                "record is larger than {} MiB; its first {} MiB are kept",
                MAX_RECORD >> 20,
                MAX_RECORD >> 20
            ),
            body: record.bytes.to_vec(),
        }))
    } else {
        triage::item(record.bytes, origin)
    };
    match item {
        Some(Item::Event { event, .. }) if recent.repeats(&event) => chunk.repeats += 1,
        Some(item) => chunk.items.push(item),
        None => chunk.probes += 1,
    }
}

/// The events read last, by id, with a digest of what they say. Daily's retries land in archives
/// close to the first delivery; telling them here keeps them out of the database's way (a
/// repeat in a batch still being committed would make the next batch's COPY fail and retry).
/// A repeat that says anything else is left to the store, which tells duplicates from conflicts.
struct Recent {
    capacity: usize,
    digests: HashMap<String, [u8; DIGEST_LEN]>,
    order: VecDeque<String>,
}

impl Recent {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            digests: HashMap::with_capacity(capacity),
            order: VecDeque::with_capacity(capacity),
        }
    }

    /// Whether `event` repeats a recent one (the same digest: type, version and payload, `event_ts`
    /// and whitespace between JSON tokens aside); remembers it if not.
    fn repeats(&mut self, event: &Event) -> bool {
        let digest = event.digest();
        if let Some(seen) = self.digests.get(&event.id) {
            return *seen == digest;
        }
        if self.order.len() == self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.digests.remove(&oldest);
        }
        self.digests.insert(event.id.clone(), digest);
        self.order.push_back(event.id.clone());
        false
    }
}
