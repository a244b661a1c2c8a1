//! [`Capture`]: what is kept of an output stream that may be much longer than we want to hold.
//! It keeps the first `head_cap` bytes and the last `tail_cap` bytes and counts the bytes in
//! between, so a script that prints five hundred progress lines and then its reason still has
//! its reason kept. Memory is bounded by `head_cap + tail_cap` whatever the script writes. The
//! pump owns one per stream; the runner turns it into the report's fields.

use std::collections::VecDeque;

/// The head and the tail of a stream, with the byte count of the gap between them.
#[derive(Debug)]
pub(crate) struct Capture {
    head: Vec<u8>,
    head_cap: usize,
    tail: VecDeque<u8>,
    tail_cap: usize,
    total: u64,
}

impl Capture {
    /// Keeps at most `head_cap` bytes from the start and `tail_cap` bytes from the end.
    pub(crate) fn new(head_cap: usize, tail_cap: usize) -> Capture {
        Capture {
            head: Vec::new(),
            head_cap,
            tail: VecDeque::new(),
            tail_cap,
            total: 0,
        }
    }

    /// Splits one bound `cap` between the head and the tail (the head gets the odd byte).
    pub(crate) fn within(cap: usize) -> Capture {
        let tail = cap / 2;
        Capture::new(cap - tail, tail)
    }

    /// Takes the next bytes of the stream.
    pub(crate) fn push(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        let room = self.head_cap.saturating_sub(self.head.len());
        let take = room.min(data.len());
        self.head.extend_from_slice(&data[..take]);
        data = &data[take..];
        if data.is_empty() || self.tail_cap == 0 {
            return;
        }
        if data.len() >= self.tail_cap {
            self.tail.clear();
            self.tail.extend(&data[data.len() - self.tail_cap..]);
            return;
        }
        let over = (self.tail.len() + data.len()).saturating_sub(self.tail_cap);
        self.tail.drain(..over);
        self.tail.extend(data);
    }

    /// How many bytes were neither kept in the head nor in the tail.
    pub(crate) fn dropped(&self) -> u64 {
        self.total - (self.head.len() + self.tail.len()) as u64
    }

    /// The kept bytes as one buffer: the head, then, when bytes were dropped, a line marking
    /// the gap (`[... 58712 bytes of stderr dropped ...]`), then the tail. Nothing is marked
    /// when nothing was dropped. Returns the buffer and the dropped count.
    pub(crate) fn into_marked(self, stream: &str) -> (Vec<u8>, u64) {
        let dropped = self.dropped();
        let mut out = self.head;
        if dropped > 0 {
            if !out.is_empty() && !out.ends_with(b"\n") {
                out.push(b'\n');
            }
            out.extend_from_slice(
                format!("[... {dropped} bytes of {stream} dropped ...]\n").as_bytes(),
            );
        }
        out.extend(self.tail);
        (out, dropped)
    }

    /// The kept bytes, head then tail, without a marker (for a stream with no head).
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        let mut out = self.head;
        out.extend(self.tail);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fed(cap: usize, chunks: &[&[u8]]) -> Capture {
        let mut c = Capture::within(cap);
        for chunk in chunks {
            c.push(chunk);
        }
        c
    }

    #[test]
    fn keeps_everything_under_the_bound() {
        let c = fed(10, &[b"abc", b"defg", b"hij"]);
        assert_eq!(c.dropped(), 0);
        assert_eq!(c.into_marked("stderr"), (b"abcdefghij".to_vec(), 0));
    }

    #[test]
    fn keeps_head_and_tail_and_marks_the_gap() {
        // 26 bytes through a bound of 10: 5 of head, 5 of tail, whatever the chunking.
        for split in 1..26 {
            let all = b"abcdefghijklmnopqrstuvwxyz";
            let (a, b) = all.split_at(split);
            let c = fed(10, &[a, b]);
            assert_eq!(c.dropped(), 16, "split at {split}");
            let (bytes, dropped) = c.into_marked("stderr");
            assert_eq!(dropped, 16);
            assert_eq!(
                String::from_utf8(bytes).unwrap(),
                "abcde\n[... 16 bytes of stderr dropped ...]\nvwxyz"
            );
        }
    }

    #[test]
    fn many_small_pushes_keep_the_last_bytes() {
        let mut c = Capture::new(0, 4);
        for b in b"0123456789" {
            c.push(&[*b]);
        }
        assert_eq!(c.dropped(), 6);
        assert_eq!(c.into_bytes(), b"6789");
    }

    #[test]
    fn a_zero_bound_keeps_nothing_and_counts_everything() {
        let c = fed(0, &[b"abc"]);
        assert_eq!(c.dropped(), 3);
        let (bytes, _) = c.into_marked("stdout");
        assert_eq!(bytes, b"[... 3 bytes of stdout dropped ...]\n");
    }
}
