//! Background tasks kept alive: a panic is logged with its message and the task started again.

use std::{any::Any, future::Future, time::Duration};

/// Runs what `start` gives until it ends; after a panic, logs it and starts it again `pause` later.
pub async fn restart_on_panic<F, T>(task: &'static str, pause: Duration, mut start: F)
where
    F: FnMut() -> T,
    T: Future<Output = ()> + Send + 'static,
{
    loop {
        let Err(e) = tokio::spawn(start()).await else {
            return;
        };
        if !e.is_panic() {
            return;
        }
        tracing::error!(
            task,
            panic = panic_message(e.into_panic()),
            restart_in_s = pause.as_secs_f64(),
            "background task panicked; starting it again"
        );
        tokio::time::sleep(pause).await;
    }
}

fn panic_message(payload: Box<dyn Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(text) => *text,
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map_or_else(|| "no message".into(), |text| (*text).to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicU32, Ordering::SeqCst},
    };

    use super::*;

    #[tokio::test]
    async fn a_task_that_panics_is_started_again() {
        let starts = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&starts);
        let start = move || {
            let n = counted.fetch_add(1, SeqCst);
            async move { assert!(n > 0, "the first start panics") }
        };
        restart_on_panic("test", Duration::from_millis(1), start).await;
        assert_eq!(starts.load(SeqCst), 2);
    }

    #[test]
    fn panic_messages_are_read_from_either_payload() {
        assert_eq!(panic_message(Box::new("static")), "static");
        assert_eq!(
            panic_message(Box::new(String::from("formatted"))),
            "formatted"
        );
        assert_eq!(panic_message(Box::new(7)), "no message");
    }
}
