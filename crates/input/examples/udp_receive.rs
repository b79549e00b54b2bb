//! Receives a `udp://` stream (MPEG-TS as IPTV sends it, or any format the input crate reads)
//! and prints each packet and, at the end, what was received and lost. No GPU needed.
//!
//! ```text
//! cargo run -p nvcodec-input --example udp_receive -- 'udp://239.1.1.1:5000?localaddr=127.0.0.1' [PACKETS]
//! ```
//!
//! Stops after PACKETS packets (default 300) or when nothing arrives for the URL's timeout.

use std::time::SystemTime;

use nvcodec_input::net::{SourceUrl, UdpSource};
use nvcodec_input::{FormatHint, NetworkError, ReadError};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let Some(text) = args.next() else {
        eprintln!("usage: udp_receive udp://HOST:PORT[?OPTIONS] [PACKETS]");
        std::process::exit(2);
    };
    let limit: u64 = args.next().map(|n| n.parse()).transpose()?.unwrap_or(300);
    let SourceUrl::Udp(url) = SourceUrl::parse(&text)? else {
        eprintln!("{text}: not a udp:// URL");
        std::process::exit(2);
    };
    let mut source = UdpSource::open(&url, FormatHint::Unknown)?;
    println!(
        "listening on {} (receive buffer {} bytes granted for {} asked)",
        source.local_addr(),
        source.stats().receive_buffer,
        source.stats().requested_buffer
    );
    let mut packets = 0u64;
    while packets < limit {
        let packet = match source.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(ReadError::Network(NetworkError::Timeout { after, .. })) => {
                println!("nothing for {after:?}: stopping");
                break;
            }
            Err(e) => return Err(e.into()),
        };
        let (size, pts) = (packet.data.len(), packet.pts);
        let queued = source
            .packet_arrival()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .unwrap_or_default();
        println!(
            "packet {packets}: {size} bytes, pts {pts}, {:.3} ms since its last datagram arrived",
            queued.as_secs_f64() * 1e3
        );
        packets += 1;
    }
    println!(
        "{packets} packets, codec {:?}, {:?}",
        source.codec(),
        source.stats()
    );
    if let Some(ts) = source.transport_stats() {
        println!("{ts:?}");
    }
    Ok(())
}
