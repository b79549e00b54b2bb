//! The live benchmark's receiver: one stream's MPEG-TS over UDP on `127.0.0.1:PORT`, read into
//! a [`LiveStream`] and pulled out as access units.

use std::net::UdpSocket;
use std::time::Instant;

use nvcodec_guard::input::{FormatHint, LiveStream, OwnedPacket, TsSelect};

/// One receiving socket and the stream it feeds.
pub struct UdpTs {
    socket: UdpSocket,
    live: LiveStream,
    buf: Vec<u8>,
}

impl UdpTs {
    /// Binds `127.0.0.1:port`.
    pub fn bind(port: u16) -> Result<Self, String> {
        let socket =
            UdpSocket::bind(("127.0.0.1", port)).map_err(|e| format!("bind {port}: {e}"))?;
        Ok(UdpTs {
            socket,
            live: LiveStream::new(FormatHint::MpegTs(TsSelect::default())),
            buf: vec![0; 65_536],
        })
    }

    /// The next access unit, waiting until `deadline`; `None` at the deadline.
    pub fn next_packet(&mut self, deadline: Instant) -> Result<Option<OwnedPacket>, String> {
        loop {
            if let Some(p) = self.live.next_packet().map_err(|e| e.to_string())? {
                return Ok(Some(p.to_owned_packet()));
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return Ok(None);
            };
            self.socket
                .set_read_timeout(Some(left.max(std::time::Duration::from_millis(1))))
                .map_err(|e| e.to_string())?;
            match self.socket.recv(&mut self.buf) {
                Ok(n) => self.live.feed(&self.buf[..n]).map_err(|e| e.to_string())?,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    /// Video packets the TS reader found lost (continuity counters).
    pub fn transport_lost(&self) -> u64 {
        self.live.transport_stats().map_or(0, |s| s.lost_packets)
    }

    /// Datagrams the kernel dropped (not known through a plain socket: 0).
    pub fn kernel_drops(&self) -> u64 {
        0
    }
}
