//! The triage of a body: never a panic; an event keeps the body whole; the same body with junk
//! after it is never an event with a cut body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lobbylog::triage::{self, Item, Origin};

fuzz_target!(|body: &[u8]| {
    let Some(item) = triage::item(body, Origin::Intake) else {
        return;
    };
    if let Item::Event { event, .. } = &item {
        assert_eq!(
            event.raw.as_bytes(),
            body,
            "an event's raw body is the body as received"
        );
        assert!(!event.id.is_empty());
        // The same envelope with junk after it: a reject, or an event of the whole text.
        let mut longer = body.to_vec();
        longer.extend_from_slice(b" x}");
        if let Some(Item::Event { event: other, .. }) = triage::item(&longer, Origin::Intake) {
            assert_eq!(
                other.raw.as_bytes(),
                &longer[..],
                "an event with a cut body"
            );
        }
    }
});
