//! [`Generated`]: a `Read + Seek` of any length made on the fly, so multi-gigabyte inputs cost
//! no disk and no heap.

use std::io::{Read, Seek, SeekFrom};

/// `len` bytes: `head`, then `body` repeated, then the first bytes of `body` to fill up;
/// allocates nothing while read.
pub struct Generated {
    /// The bytes before the first `body`.
    pub head: Vec<u8>,
    /// The bytes repeated after `head`.
    pub body: Vec<u8>,
    /// The whole length.
    pub len: u64,
    /// Where the next read starts.
    pub pos: u64,
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n < buf.len() && self.pos < self.len {
            let pos = self.pos;
            let (src, at) = if pos < self.head.len() as u64 {
                (&self.head[..], pos as usize)
            } else {
                (
                    &self.body[..],
                    ((pos - self.head.len() as u64) % self.body.len() as u64) as usize,
                )
            };
            let left = (self.len - pos).min(usize::MAX as u64) as usize;
            let take = (src.len() - at).min(buf.len() - n).min(left);
            buf[n..n + take].copy_from_slice(&src[at..at + take]);
            n += take;
            self.pos += take as u64;
        }
        Ok(n)
    }
}

impl Seek for Generated {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.pos = match to {
            SeekFrom::Start(p) => p,
            SeekFrom::End(d) => self.len.saturating_add_signed(d),
            SeekFrom::Current(d) => self.pos.saturating_add_signed(d),
        };
        Ok(self.pos)
    }
}
