//! `modem::at::LineSplitter`: the first byte chooses how the rest is cut
//! into reads; the events must be the same as when the rest arrives in one
//! read, and as when it arrives a byte at a time.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smss::modem::at::{Event, LineSplitter};

/// Feeds `bytes` in reads of the sizes `size` gives (0 = an empty read),
/// taking every event after each read, as the AT layer does.
fn events(bytes: &[u8], mut size: impl FnMut() -> usize) -> Vec<Event> {
    let mut splitter = LineSplitter::default();
    let mut out = Vec::new();
    let mut rest = bytes;
    loop {
        let (now, later) = rest.split_at(size().min(rest.len()));
        splitter.push(now);
        while let Some(e) = splitter.next_event() {
            out.push(e);
        }
        if later.is_empty() {
            return out;
        }
        rest = later;
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&how, bytes)) = data.split_first() else {
        return;
    };
    let whole = events(bytes, || bytes.len());
    // Read sizes 0..=max from a small xorshift seeded by the first byte;
    // a zero read is followed by a non-zero one, so the loop ends.
    let max = usize::from(how & 0x0F) + 1;
    let mut state = u32::from(how) | 0x100;
    let mut last = 1;
    let cut = events(bytes, || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        last = if last == 0 {
            1
        } else {
            state as usize % (max + 1)
        };
        last
    });
    assert_eq!(cut, whole);
    assert_eq!(events(bytes, || 1), whole);
});
