//! Transport packets to PES: each 188/192-byte packet checked (sync, continuity, PID), the
//! selected stream's PES headers parsed and its payload appended to the elementary stream.
//!
//! Invariant: a lost or damaged packet is counted and drops only the access unit it falls
//! in; the elementary-stream buffer never exceeds the window bound.

use super::{
    InputError, MAX_ACCESS_UNIT, MAX_PACKETS_PER_AU, MAX_PES_STARTS, Pes, PesStart, Result,
    TS_PACKET, TsDemux, timestamp,
};

impl TsDemux {
    /// One transport packet (188 bytes from its sync byte) at absolute offset `offset` (of
    /// its M2TS prefix, for M2TS).
    pub(super) fn on_packet(&mut self, packet: &[u8], offset: u64) -> Result<()> {
        self.stats.packets = self.stats.packets.saturating_add(1);
        let &[_, b1, b2, b3] = packet.get(..4).unwrap_or(&[0; 4]) else {
            return Ok(());
        };
        let error = b1 & 0x80 != 0;
        let start = b1 & 0x40 != 0;
        let pid = u16::from(b1 & 0x1f) << 8 | u16::from(b2);
        let scrambled = b3 >> 6 != 0;
        let control = (b3 >> 4) & 3;
        let cc = b3 & 0x0f;
        let mut at = 4usize;
        let (mut discontinuity, mut random_access) = (false, false);
        let mut broken = false;
        if control & 2 != 0 {
            let len = usize::from(packet.get(4).copied().unwrap_or(0));
            if len > 0 {
                let flags = packet.get(5).copied().unwrap_or(0);
                discontinuity = flags & 0x80 != 0;
                random_access = flags & 0x40 != 0;
            }
            at = 5 + len;
            broken = at > TS_PACKET;
        }
        let has_payload = control & 1 != 0 && !broken;
        let payload = if has_payload {
            packet.get(at..).unwrap_or(&[])
        } else {
            &[]
        };
        let video = self.selected.map(|s| (s.pid, s.pcr_pid));
        if discontinuity && video.is_some_and(|(v, pcr)| pid == v || pid == pcr) {
            self.stats.discontinuities = self.stats.discontinuities.saturating_add(1);
            self.clock.rebase = true;
        }
        if video.is_some_and(|(v, _)| v == pid) {
            if error || broken {
                self.gap(1);
                return Ok(());
            }
            if scrambled {
                return Err(InputError::unsupported(format!(
                    "MPEG-TS packet at byte offset {offset}: the video PID {pid} is scrambled"
                ))
                .into());
            }
            return self.on_video(
                payload,
                has_payload,
                start,
                cc,
                discontinuity,
                random_access,
                offset,
            );
        }
        if error || broken || !has_payload || scrambled {
            return Ok(());
        }
        if pid == 0 || self.pmts.iter().any(|(p, ..)| *p == pid) {
            self.on_psi(pid, payload, start, cc)?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_video(
        &mut self,
        payload: &[u8],
        has_payload: bool,
        start: bool,
        cc: u8,
        discontinuity: bool,
        random_access: bool,
        offset: u64,
    ) -> Result<()> {
        if !has_payload {
            self.cc_excused |= discontinuity;
            return Ok(());
        }
        let excused = discontinuity || std::mem::take(&mut self.cc_excused);
        match self.last_cc {
            Some(last) if last == cc && !excused => {
                if self.last_payload == payload {
                    self.stats.duplicate_packets = self.stats.duplicate_packets.saturating_add(1);
                    return Ok(());
                }
                // The same counter on other bytes: 16 packets (or a multiple) went missing.
                self.gap(16);
            }
            Some(last) if (last + 1) & 0x0f != cc && !excused => {
                self.gap(u64::from(cc.wrapping_sub(last + 1) & 0x0f));
            }
            _ => {}
        }
        self.last_cc = Some(cc);
        self.last_payload.clear();
        self.last_payload.extend_from_slice(payload);
        if let Some(skip) = self.seek_skip.take() {
            if !start {
                // The packet a seek resumes at continues a PES: its payload is elementary
                // stream from `skip` on.
                self.pes = Pes {
                    active: true,
                    ..Pes::default()
                };
                return self.append(payload.get(skip..).unwrap_or(&[]), offset, skip);
            }
            self.seek_skip = Some(skip);
        }
        if start {
            if self.pes.in_header || self.pes.remaining.is_some_and(|r| r > 0) {
                // The PES before ended short: bytes were lost without a counter gap.
                self.gap(0);
            }
            self.pes = Pes {
                in_header: true,
                random_access,
                ..Pes::default()
            };
        }
        if self.pes.in_header {
            return self.header_bytes(payload, offset);
        }
        if self.pes.active {
            return self.append(payload, offset, 0);
        }
        Ok(())
    }

    /// Gathers PES header bytes; the payload after the header goes to the buffer.
    pub(super) fn header_bytes(&mut self, data: &[u8], offset: u64) -> Result<()> {
        let mut rest = data;
        for _ in 0..2 {
            let have = self.pes.header.len();
            let need = if have < 9 {
                9
            } else {
                9 + usize::from(self.pes.header.get(8).copied().unwrap_or(0))
            };
            let take = need.saturating_sub(have).min(rest.len());
            self.pes
                .header
                .extend_from_slice(rest.get(..take).unwrap_or(&[]));
            rest = rest.get(take..).unwrap_or(&[]);
        }
        let header = &self.pes.header;
        if header.len() >= 6 && header.get(..3) != Some(&[0, 0, 1][..]) {
            return self.bad_pes();
        }
        let stream_id = header.get(3).copied().unwrap_or(0);
        let short = matches!(
            stream_id,
            0xbc | 0xbe | 0xbf | 0xf0 | 0xf1 | 0xf2 | 0xf8 | 0xff
        );
        if short || header.len() < 9 {
            if short && header.len() >= 6 {
                // No optional header: never video.
                return self.bad_pes();
            }
            return Ok(());
        }
        if header.get(6).is_some_and(|b| b & 0xc0 != 0x80) {
            return self.bad_pes();
        }
        if header.get(6).is_some_and(|b| b & 0x30 != 0) {
            return Err(InputError::unsupported(format!(
                "MPEG-TS packet at byte offset {offset}: the video PES is scrambled"
            ))
            .into());
        }
        let total = 9 + usize::from(header.get(8).copied().unwrap_or(0));
        if header.len() < total {
            return Ok(());
        }
        let length = usize::from(u16::from_be_bytes([
            header.get(4).copied().unwrap_or(0),
            header.get(5).copied().unwrap_or(0),
        ]));
        let flags = header.get(7).copied().unwrap_or(0);
        let pts = if flags & 0x80 != 0 {
            header.get(9..).and_then(timestamp)
        } else {
            None
        };
        let remaining = match length {
            0 => None,
            n => match n.checked_sub(total - 6) {
                Some(r) => Some(r),
                None => return self.bad_pes(),
            },
        };
        let pts = pts.map(|raw| self.clock.unwrap(raw));
        self.pes.in_header = false;
        self.pes.active = true;
        self.pes.remaining = remaining;
        self.pes.header = Vec::new();
        let at = self.es_end();
        let entry = PesStart {
            at,
            pts,
            random_access: self.pes.random_access,
            used: false,
        };
        match self.starts.back_mut() {
            Some(last) if last.at == at => *last = entry,
            _ => self.starts.push_back(entry),
        }
        if self.starts.len() > MAX_PES_STARTS {
            self.starts.pop_front();
        }
        let skip = self.seek_skip.take().unwrap_or(0);
        self.append(rest.get(skip..).unwrap_or(&[]), offset, skip)
    }

    pub(super) fn bad_pes(&mut self) -> Result<()> {
        self.stats.pes_errors = self.stats.pes_errors.saturating_add(1);
        self.drop_partial();
        Ok(())
    }

    /// Appends PES payload bytes; `skip` bytes of this packet's payload were left out before.
    pub(super) fn append(&mut self, data: &[u8], offset: u64, skip: usize) -> Result<()> {
        let data = match &mut self.pes.remaining {
            Some(left) => {
                let take = (*left).min(data.len());
                *left -= take;
                data.get(..take).unwrap_or(&[])
            }
            None => data,
        };
        if data.is_empty() {
            return Ok(());
        }
        let held = self.window().len();
        if held.saturating_add(data.len()) > MAX_ACCESS_UNIT {
            return Err(InputError::limit(
                format!(
                    "MPEG-TS video access unit (or PES) of more than {held} bytes, at the packet \
                     at byte offset {offset}"
                ),
                MAX_ACCESS_UNIT as u64,
            )
            .into());
        }
        let at = self.es_end();
        if let (Some(indexing), Some(selected)) = (&mut self.indexing, self.selected) {
            if indexing.packets.len() >= MAX_PACKETS_PER_AU {
                return Err(InputError::limit(
                    format!(
                        "MPEG-TS video access unit spread over more transport packets, at byte \
                         offset {offset}"
                    ),
                    MAX_PACKETS_PER_AU as u64,
                )
                .into());
            }
            let first = at.saturating_sub(skip as u64);
            indexing.packets.push_back((first, offset, selected.pid));
        }
        self.es.extend_from_slice(data);
        Ok(())
    }
}
