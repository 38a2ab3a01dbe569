//! JSON log lines: timestamp, level, the event's fields, target; never a source file or line.

use std::fmt;

use serde_json::Value;
use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
};
use tracing_subscriber::{
    fmt::{
        FmtContext, FormatEvent, FormatFields,
        format::Writer,
        time::{FormatTime, SystemTime},
    },
    registry::LookupSpan,
};

/// One JSON object per event. tracing-subscriber's own JSON format copies the `log.file` and
/// `log.line` that the `log` bridge attaches to refinery's and tokio-postgres' lines, and so
/// publishes the build machine's paths; this one keeps only the target of those.
pub(super) struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    fn format_event(
        &self,
        _: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let target = fields.log_target.take();
        let mut line = vec![
            ("timestamp", Value::from(timestamp)),
            ("level", Value::from(meta.level().as_str())),
        ];
        line.append(&mut fields.values);
        line.push((
            "target",
            Value::from(target.unwrap_or(meta.target().into())),
        ));
        write!(writer, "{{")?;
        for (i, (name, value)) in line.iter().enumerate() {
            let comma = if i == 0 { "" } else { "," };
            write!(writer, "{comma}{}:{value}", Value::from(*name))?;
        }
        writeln!(writer, "}}")
    }
}

/// An event's fields in order; of the `log.*` fields the bridge adds, only the target is kept.
#[derive(Default)]
struct Fields {
    values: Vec<(&'static str, Value)>,
    log_target: Option<String>,
}

impl Fields {
    fn add(&mut self, field: &Field, value: Value) {
        match field.name() {
            "log.target" => self.log_target = value.as_str().map(str::to_owned),
            name if name.starts_with("log.") => {}
            name => self.values.push((name.trim_start_matches("r#"), value)),
        }
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.add(field, Value::from(format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.add(field, Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.add(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.add(field, Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.add(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.add(field, Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.add(field, Value::from(value.to_string()));
    }
}
