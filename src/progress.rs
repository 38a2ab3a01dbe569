//! Progress of long runs: a bar on a terminal, a log line every few seconds elsewhere.

use std::{
    io::IsTerminal,
    time::{Duration, Instant},
};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const LOG_EVERY: Duration = Duration::from_secs(5);

pub struct Progress {
    bar: Option<ProgressBar>,
    what: &'static str,
    done: u64,
    total: Option<u64>,
    started: Instant,
    last_log: Instant,
}

impl Progress {
    /// `total` in the unit counted by `advance` (events, bytes...), when known.
    pub fn new(what: &'static str, total: Option<u64>, bytes: bool) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
            let counts = if bytes {
                "{binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, eta {eta})"
            } else {
                "{human_pos}/{human_len} ({per_sec}, eta {eta})"
            };
            let template =
                format!("{{prefix}} [{{elapsed_precise}}] {{wide_bar}} {counts} {{msg}}");
            bar.set_style(ProgressStyle::with_template(&template).expect("valid template"));
            bar.set_prefix(what);
            bar
        });
        let now = Instant::now();
        Self {
            bar,
            what,
            done: 0,
            total,
            started: now,
            last_log: now,
        }
    }

    pub fn advance(&mut self, n: u64) {
        self.done += n;
        match &self.bar {
            Some(bar) => bar.inc(n),
            None if self.last_log.elapsed() >= LOG_EVERY => {
                self.last_log = Instant::now();
                let rate = self.done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
                tracing::info!(
                    what = self.what,
                    done = self.done,
                    total = self.total,
                    rate = rate.round(),
                    "progress"
                );
            }
            None => {}
        }
    }

    /// Moves to an absolute position, for callers that count a total rather than increments.
    pub fn set_position(&mut self, done: u64) {
        self.advance(done.saturating_sub(self.done));
    }

    /// Prints a line above the bar (or to stderr when there is none) without garbling it.
    pub fn println(&self, line: String) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    pub fn set_message(&self, message: String) {
        if let Some(bar) = &self.bar {
            bar.set_message(message);
        }
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
