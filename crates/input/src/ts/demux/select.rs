//! Program selection: PAT and PMT sections read, and the video stream chosen (by the
//! caller's [`TsSelect`](crate::TsSelect) or the first supported one).
//!
//! Invariant: a stream is chosen once per program version; a change of PMT resets the
//! elementary-stream state rather than mixing two streams in one packet.

use super::{
    Codec, ContainerKind, ContainerTrack, InputError, Kind, Pes, Pmt, PmtStream, Rational, Result,
    SectionBuffer, Selected, TsDemux, psi,
};

impl TsDemux {
    pub(super) fn select_stream(&mut self, selected: Selected) {
        self.selected = Some(selected);
        self.track = Some(ContainerTrack {
            kind: ContainerKind::MpegTs,
            track_id: u64::from(selected.pid),
            codec_tag: format!("stream_type 0x{:02X}", selected.stream_type),
            time_base: Rational {
                num: 1,
                den: 90_000,
            },
            frame_rate: None,
            duration: None,
            dimensions: None,
            packet_count: 0,
        });
        self.last_cc = None;
        self.pes = Pes::default();
        self.check_next = true;
        self.reset_es();
    }

    /// The stream of `pmt` the selection names; `Ok(None)` when this program has none and
    /// another may.
    pub(super) fn choose(&self, pmt: &Pmt) -> Result<Option<Selected>> {
        let select = self.select;
        let mut other = None;
        let mut listed = Vec::new();
        for stream in &pmt.streams {
            listed.push(format!(
                "0x{:02X} on PID {}",
                stream.stream_type, stream.pid
            ));
            if select.selected_pid().is_some_and(|p| p != stream.pid) {
                continue;
            }
            match psi::kind(stream) {
                Kind::Video(codec) if select.selected_codec().is_none_or(|c| c == codec) => {
                    return Ok(Some(self.selection(pmt, stream, codec)));
                }
                Kind::OtherVideo(name) => other = other.or(Some((name, stream.pid))),
                Kind::Video(_) | Kind::NotVideo => {}
            }
        }
        let named = select.selected_program() == Some(pmt.program)
            || select
                .selected_pid()
                .is_some_and(|p| pmt.streams.iter().any(|s| s.pid == p));
        let only = named || self.pmts.len() <= 1;
        if let (Some((name, pid)), None, true) = (other, select.selected_codec(), only) {
            return Err(InputError::unsupported(format!(
                "MPEG-TS program {}: its video is {name} on PID {pid}; read are H.264 (0x1B), \
                 HEVC (0x24), MPEG-2 (0x02) and AV1 (0x06 registered 'AV01')",
                pmt.program
            ))
            .into());
        }
        if named {
            return Err(InputError::unsupported(format!(
                "MPEG-TS program {}: no {} stream to read (stream types: {})",
                pmt.program,
                match (select.selected_pid(), select.selected_codec()) {
                    (Some(pid), _) => format!("video on PID {pid}"),
                    (None, Some(codec)) => format!("{codec} video"),
                    (None, None) => "video".to_owned(),
                },
                if listed.is_empty() {
                    "none".to_owned()
                } else {
                    listed.join(", ")
                }
            ))
            .into());
        }
        Ok(None)
    }

    pub(super) fn selection(&self, pmt: &Pmt, stream: &PmtStream, codec: Codec) -> Selected {
        Selected {
            program: pmt.program,
            pid: stream.pid,
            pcr_pid: pmt.pcr_pid,
            stream_type: stream.stream_type,
            codec,
        }
    }

    pub(super) fn on_pmt(&mut self, pmt: Pmt) -> Result<()> {
        self.pmt_seen = true;
        if self
            .select
            .selected_program()
            .is_some_and(|p| p != pmt.program)
        {
            return Ok(());
        }
        if let Some(current) = self.selected {
            if current.program != pmt.program {
                return Ok(());
            }
            self.stats.pmt_changes = self.stats.pmt_changes.saturating_add(1);
            let Some(next) = self.choose(&pmt)? else {
                return Ok(());
            };
            if next.codec != current.codec {
                return Err(InputError::unsupported(format!(
                    "MPEG-TS program {}: the PMT changes the video from {} to {} mid-stream",
                    pmt.program, current.codec, next.codec
                ))
                .into());
            }
            if next.pid == current.pid {
                self.selected = Some(next);
            } else {
                self.switch_to = Some(next);
            }
            return Ok(());
        }
        if let Some(next) = self.choose(&pmt)? {
            self.select_stream(next);
        }
        Ok(())
    }

    pub(super) fn on_psi(&mut self, pid: u16, payload: &[u8], start: bool, cc: u8) -> Result<()> {
        let sections = if pid == 0 {
            self.pat.push(payload, start, cc)
        } else {
            match self.pmts.iter_mut().find(|(p, ..)| *p == pid) {
                Some((_, _, buffer, _)) => buffer.push(payload, start, cc),
                None => return Ok(()),
            }
        };
        if sections.dropped {
            self.stats.psi_errors = self.stats.psi_errors.saturating_add(1);
        }
        for bytes in sections.complete {
            let Some(section) = psi::parse_section(&bytes) else {
                self.stats.psi_errors = self.stats.psi_errors.saturating_add(1);
                continue;
            };
            if !section.current {
                continue;
            }
            match (pid, section.table_id) {
                (0, 0x00) => {
                    self.pat_seen = true;
                    for (program, pmt_pid) in psi::pat_programs(section.body) {
                        if pmt_pid == 0 || self.pmts.iter().any(|(p, ..)| *p == pmt_pid) {
                            continue;
                        }
                        // A PAT names at most (1021 - 9) / 4 programs a section; a PID
                        // table is bounded by the 13-bit PID space.
                        if self.pmts.len() < 8192 {
                            self.pmts
                                .push((pmt_pid, program, SectionBuffer::default(), None));
                        }
                    }
                }
                (0, _) => {}
                (_, 0x02) => {
                    let Some(pmt) = psi::parse_pmt(&section) else {
                        self.stats.psi_errors = self.stats.psi_errors.saturating_add(1);
                        continue;
                    };
                    let known = self.pmts.iter_mut().find(|(p, ..)| *p == pid);
                    let Some((_, program, _, version)) = known else {
                        continue;
                    };
                    if *program != pmt.program || *version == Some(pmt.version) {
                        continue;
                    }
                    *version = Some(pmt.version);
                    self.on_pmt(pmt)?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}
