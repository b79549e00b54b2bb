//! `SourceUrl` / `UdpUrl` parsing, fuzzed by property: any text parses or is an
//! `Address` error naming it (never a panic), text shaped like a URL (the options' names,
//! odd hosts and ports) likewise, a parsed `UdpUrl` prints as a URL that parses back to the
//! same value, and a URL made from chosen parts parses to exactly those parts.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use nvcodec_input::NetworkError;
use nvcodec_input::net::{SourceUrl, UdpUrl};
use proptest::prelude::*;

fn check(text: &str) -> Result<(), TestCaseError> {
    match SourceUrl::parse(text) {
        Ok(SourceUrl::Udp(url)) => {
            let printed = url.to_string();
            prop_assert_eq!(UdpUrl::parse(&printed).ok(), Some(url), "{}", printed);
        }
        Ok(_) => {}
        Err(NetworkError::Address { url, what }) => {
            prop_assert_eq!(url, text);
            prop_assert!(!what.is_empty());
        }
        Err(other) => prop_assert!(false, "{text:?}: not an address error: {other}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_text_parses_or_is_an_address_error(text in ".{0,80}") {
        check(&text)?;
    }

    #[test]
    fn url_shaped_text_parses_or_is_an_address_error(
        text in "(udp|UDP|rtsp|srt|file|x y)://@?(\\[[0-9a-f:.]{0,16}\\]?|[0-9.]{0,16}|[a-z]{0,5})\
                 (:[0-9+-]{0,7})?/?(\\?((localaddr|buffer_size|timeout|pkt_size|reuse|fifo_size|\
                 overrun_nonfatal|sources|ttl)(=[0-9a-f.:,]{0,22})?&?){0,5})?"
    ) {
        check(&text)?;
    }

    #[test]
    fn a_url_made_from_parts_parses_to_those_parts(
        multicast in any::<bool>(),
        octets in any::<[u8; 4]>(),
        port in 1u16..,
        local in proptest::option::of(any::<[u8; 4]>()),
        buffer_size in proptest::option::of(1usize..=1 << 30),
        timeout_us in proptest::option::of(1u64..),
        pkt_size in proptest::option::of(1usize..=65536),
        reuse in proptest::option::of(any::<bool>()),
        sources in proptest::collection::vec(any::<[u8; 4]>(), 0..4),
        at in any::<bool>(),
    ) {
        let [a, b, c, d] = octets;
        let first = if multicast { 224 + a % 16 } else { 1 + a % 223 };
        let host = Ipv4Addr::new(first, b, c, d);
        let local = local
            .filter(|_| multicast)
            .map(|[a, b, c, d]| Ipv4Addr::new(1 + a % 223, b, c, d));
        let sources: Vec<Ipv4Addr> = sources
            .into_iter()
            .filter(|_| multicast)
            .map(|[a, b, c, d]| Ipv4Addr::new(1 + a % 223, b, c, d))
            .collect();
        let mut options = Vec::new();
        if let Some(l) = local {
            options.push(format!("localaddr={l}"));
        }
        if let Some(n) = buffer_size {
            options.push(format!("buffer_size={n}"));
        }
        if let Some(t) = timeout_us {
            options.push(format!("timeout={t}"));
        }
        if let Some(n) = pkt_size {
            options.push(format!("pkt_size={n}"));
        }
        if let Some(r) = reuse {
            options.push(format!("reuse={}", u8::from(r)));
        }
        if !sources.is_empty() {
            let list: Vec<String> = sources.iter().map(Ipv4Addr::to_string).collect();
            options.push(format!("sources={}", list.join(",")));
        }
        let text = format!(
            "udp://{}{host}:{port}{}{}",
            if at { "@" } else { "" },
            if options.is_empty() { "" } else { "?" },
            options.join("&")
        );
        let url = UdpUrl::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(url.addr, SocketAddr::new(IpAddr::V4(host), port));
        prop_assert_eq!(url.is_multicast(), multicast);
        prop_assert_eq!(url.local_addr, local.map(IpAddr::V4));
        prop_assert_eq!(url.buffer_size, buffer_size.unwrap_or(nvcodec_input::net::DEFAULT_RECV_BUFFER));
        prop_assert_eq!(
            url.timeout,
            timeout_us.map_or(nvcodec_input::net::DEFAULT_TIMEOUT, Duration::from_micros)
        );
        prop_assert_eq!(url.pkt_size, pkt_size.unwrap_or(nvcodec_input::net::MAX_DATAGRAM));
        prop_assert_eq!(url.reuse, reuse.unwrap_or(multicast));
        prop_assert_eq!(&url.sources, &sources);
        prop_assert_eq!(UdpUrl::parse(&url.to_string()).ok(), Some(url));
    }
}
