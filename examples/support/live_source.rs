//! The live benchmark's receiver: one stream's MPEG-TS over UDP on `127.0.0.1:PORT`, read by
//! the crate's `udp://` source and pulled out as access units.

use std::time::{Instant, SystemTime};

use nvcodec_guard::input::{
    FormatHint, NetworkError, OwnedPacket, ReadError, TsSelect, UdpSource, UdpUrl,
};

/// One receiving socket and the stream it feeds.
pub struct UdpTs {
    source: UdpSource,
}

impl UdpTs {
    /// Listens on `udp://127.0.0.1:port` (4 MiB receive buffer asked, 0.2 s pulls).
    pub fn bind(port: u16) -> Result<Self, String> {
        let url = UdpUrl::parse(&format!("udp://127.0.0.1:{port}?timeout=200000"))
            .map_err(|e| e.to_string())?;
        let source = UdpSource::open(&url, FormatHint::MpegTs(TsSelect::default()))
            .map_err(|e| e.to_string())?;
        Ok(UdpTs { source })
    }

    /// The next access unit and when the datagram that completed it arrived (the kernel's
    /// receive time, as an `Instant`), waiting until `deadline`; `None` at the deadline or the
    /// end.
    pub fn next_packet(
        &mut self,
        deadline: Instant,
    ) -> Result<Option<(OwnedPacket, Instant)>, String> {
        loop {
            match self.source.next_packet() {
                Ok(None) => return Ok(None),
                Ok(Some(p)) => {
                    let packet = p.to_owned_packet();
                    let now = Instant::now();
                    let arrived = self
                        .source
                        .packet_arrival()
                        .and_then(|t| SystemTime::now().duration_since(t).ok())
                        .and_then(|ago| now.checked_sub(ago))
                        .unwrap_or(now);
                    return Ok(Some((packet, arrived)));
                }
                Err(ReadError::Network(NetworkError::Timeout { .. })) => {
                    if Instant::now() >= deadline {
                        return Ok(None);
                    }
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    /// Video packets the TS reader found lost (continuity counters).
    pub fn transport_lost(&self) -> u64 {
        self.source.transport_stats().map_or(0, |s| s.lost_packets)
    }

    /// Datagrams the kernel dropped (`SO_RXQ_OVFL`).
    pub fn kernel_drops(&self) -> u64 {
        self.source.stats().kernel_drops.unwrap_or(0)
    }
}
