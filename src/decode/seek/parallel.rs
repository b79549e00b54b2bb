//! [`frames_at_parallel`]: one `frames_at` call's runs shared among several decoders.

use super::Plan;
use crate::Codec;
use crate::decode::{Decoder, DeviceFramePool, Frame, OwnedFrame};
use crate::error::{Error, Result};
use crate::input::RandomAccessSource;

/// [`Decoder::frames_at`] on several decoders at once: the runs (GOP stretches) are shared
/// among `decoders`, each reading its own source from `open_source`, one thread each. NVDEC
/// has several engines (up to 7 on a data-centre GPU) and one decoder keeps one busy, so with that many
/// decoders a request spanning many GOPs takes about that many times less; each GOP is still
/// decoded once. Frames come back in request order, as from `frames_at`.
///
/// # Errors
/// As [`Decoder::frames_at`]; the first error of any decoder (the others finish their runs).
///
/// # Examples
/// ```no_run
/// use nvcodec_guard::decode::{frames_at_parallel, DecoderBuilder, DecoderConfig, DeviceFramePool};
/// use nvcodec_guard::input::ElementaryStream;
///
/// let open = || ElementaryStream::open("clip.mp4");
/// let codec = open()?.codec();
/// let mut decoders = (0..7)
///     .map(|_| DecoderBuilder::new(DecoderConfig::new(codec)).build())
///     .collect::<Result<Vec<_>, _>>()?;
/// let pool = DeviceFramePool::new(decoders[0].context());
/// let frames = frames_at_parallel(&mut decoders, open, &[4000, 17, 8990], &pool)?;
/// # Ok::<(), nvcodec_guard::Error>(())
/// ```
pub fn frames_at_parallel<S: RandomAccessSource + Send, E: Into<Error>>(
    decoders: &mut [Decoder],
    open_source: impl Fn() -> std::result::Result<S, E> + Sync,
    display_indices: &[usize],
    pool: &DeviceFramePool,
) -> Result<Vec<OwnedFrame>> {
    frames_at_parallel_with(decoders, open_source, display_indices, |frame| {
        frame.copy_to_pool(pool)
    })
}

/// [`frames_at_parallel`], handing each wanted frame to `keep` while it is mapped, as
/// [`Decoder::frames_at_with`] does; `keep` runs on the decoders' threads, several at once.
///
/// # Errors
/// As [`frames_at_parallel`]; the first error `keep` returns.
pub fn frames_at_parallel_with<S: RandomAccessSource + Send, T: Send, E: Into<Error>>(
    decoders: &mut [Decoder],
    open_source: impl Fn() -> std::result::Result<S, E> + Sync,
    display_indices: &[usize],
    keep: impl Fn(&Frame<'_>) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let mut first = open_source().map_err(Into::into)?;
    let codec = decoders
        .first()
        .map_or(Codec::H264, |decoder| decoder.config().codec);
    let plan = Plan::for_source(&mut first, codec, display_indices)?;
    let shares = plan.split(decoders.len());
    let mut sources = vec![Some(first)];
    let (plan_ref, open_ref, keep_ref) = (&plan, &open_source, &keep);
    let results: Vec<Result<Vec<Vec<T>>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = decoders
            .iter_mut()
            .zip(shares)
            .filter(|(_, runs)| !runs.is_empty())
            .map(|(decoder, runs)| {
                let source = sources.pop().flatten();
                scope.spawn(move || {
                    let mut source = match source {
                        Some(source) => source,
                        None => {
                            let mut source = open_ref().map_err(Into::into)?;
                            source.sample_index()?;
                            source
                        }
                    };
                    let mut got = plan_ref.empty_results();
                    let mut keep = |frame: &Frame<'_>| keep_ref(frame);
                    decoder.decode_runs(&mut source, plan_ref, &runs, &mut keep, &mut got)?;
                    Ok(got)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(Error::Internal {
                        what: "a frames_at_parallel thread panicked",
                    })
                })
            })
            .collect()
    });
    let mut got = plan.empty_results();
    for result in results {
        for (slot, frames) in got.iter_mut().zip(result?) {
            slot.extend(frames);
        }
    }
    plan.in_request_order(got)
}
