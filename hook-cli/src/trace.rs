//! `-v`: a small [`tracing::Subscriber`] that prints hook-core's events on stderr, one line
//! each, prefixed by the spans they happened in (`hook_event{driver=qemu op=prepare}:`).
//! `-v` shows `debug` and above, `-vv` adds `trace`. Written by hand rather than pulling in
//! tracing-subscriber: the command needs one format and no filtering beyond a level.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Installs the subscriber for `verbosity` (the number of `-v`); nothing for 0.
pub(crate) fn init(verbosity: u8) {
    let max = match verbosity {
        0 => return,
        1 => Level::DEBUG,
        _ => Level::TRACE,
    };
    let subscriber = StderrSubscriber {
        max,
        next_id: AtomicU64::new(1),
        spans: Mutex::new(HashMap::new()),
    };
    // Fails only when a subscriber is already set, which main never does twice.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

struct StderrSubscriber {
    max: Level,
    next_id: AtomicU64,
    /// Each open span's rendered `name{fields}` and its reference count.
    spans: Mutex<HashMap<u64, (String, usize)>>,
}

thread_local! {
    static STACK: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// Renders fields as ` name=value`, with `message` first and bare.
struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value}");
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

impl Subscriber for StderrSubscriber {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= self.max
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut fields = Fields(String::new());
        span.record(&mut fields);
        let text = format!("{}{{{}}}", span.metadata().name(), fields.0.trim_start());
        self.lock().insert(id, (text, 1));
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut fields = Fields(String::new());
        values.record(&mut fields);
        if let Some((text, _)) = self.lock().get_mut(&span.into_u64()) {
            text.pop();
            text.push_str(&fields.0);
            text.push('}');
        }
    }

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut line = format!("virt-hook: {:>5} ", event.metadata().level());
        {
            let spans = self.lock();
            STACK.with(|s| {
                for id in s.borrow().iter() {
                    if let Some((text, _)) = spans.get(id) {
                        line.push_str(text);
                        line.push_str(": ");
                    }
                }
            });
        }
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        line.push_str(fields.0.trim_start());
        line.push('\n');
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn enter(&self, span: &Id) {
        STACK.with(|s| s.borrow_mut().push(span.into_u64()));
    }

    fn exit(&self, span: &Id) {
        STACK.with(|s| {
            let mut s = s.borrow_mut();
            if let Some(pos) = s.iter().rposition(|&id| id == span.into_u64()) {
                s.remove(pos);
            }
        });
    }

    fn clone_span(&self, id: &Id) -> Id {
        if let Some((_, refs)) = self.lock().get_mut(&id.into_u64()) {
            *refs += 1;
        }
        id.clone()
    }

    fn try_close(&self, id: Id) -> bool {
        let mut spans = self.lock();
        match spans.get_mut(&id.into_u64()) {
            Some((_, refs)) if *refs > 1 => {
                *refs -= 1;
                false
            }
            Some(_) => {
                spans.remove(&id.into_u64());
                true
            }
            None => false,
        }
    }
}

impl StderrSubscriber {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (String, usize)>> {
        self.spans.lock().unwrap_or_else(|e| e.into_inner())
    }
}
