//! The feeding and naming of runs: which samples one `frames_at` call feeds with which
//! timestamp, and which wanted frame each frame out of the decoder is. Pure, so it is checked
//! against a model decoder (`model`).

use std::collections::{BTreeSet, VecDeque};

use super::{DisplayOrder, Run, is_leading, plan, sync_samples};
use crate::Codec;
use crate::error::{Error, Result};
use crate::input::{RandomAccessSource, SampleIndex};

/// What to do with one sample of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SampleAction {
    /// Feed it, with this timestamp (its display index) or none (a sample not shown).
    Feed(Option<i64>),
    /// Leave it out (a leading picture of the run's start, or a disposable one nobody wants).
    LeftOut,
    /// Not a sample of the run: stop.
    Outside,
}

/// A wanted frame that came out: where it goes, how many copies, the pts it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Handout {
    pub(crate) slot: usize,
    pub(crate) copies: usize,
    pub(crate) pts: i64,
}

/// The feeding and naming of one run: which samples are fed with which timestamp, and which
/// display index each frame out of the decoder is. Pure, so the planning can be checked
/// against a model decoder (`model`).
///
/// Invariant: with `by_order`, `names` holds the display indices of the shown samples fed and
/// not yet matched to a frame, in decode order; otherwise `pending` holds the display indices
/// given as timestamps and not yet seen on a frame. A frame is named only from these.
#[derive(Debug)]
pub(crate) struct RunFeed<'a> {
    plan: &'a Plan,
    run: &'a RunNames,
    by_order: bool,
    names: VecDeque<u32>,
    pending: BTreeSet<u32>,
}

impl<'a> RunFeed<'a> {
    pub(crate) fn new(plan: &'a Plan, run: &'a RunNames, by_order: bool) -> Self {
        Self {
            plan,
            run,
            by_order,
            names: VecDeque::new(),
            pending: BTreeSet::new(),
        }
    }

    /// Sample `sample` was read; `droppable`: no other picture references it.
    pub(crate) fn sample(&mut self, sample: usize, droppable: bool) -> SampleAction {
        let Some(&name) = sample
            .checked_sub(self.run.run.start)
            .and_then(|i| self.run.names.get(i))
        else {
            return SampleAction::Outside;
        };
        if self.by_order {
            // Nothing is left out: each shown sample is one frame out, in decode order.
            self.names.extend(name);
            return SampleAction::Feed(name.map(i64::from));
        }
        let start = self.run.names.first().copied().flatten();
        // Leading pictures of the run's first sync sample reference the GOP before it, which
        // was not decoded: none is asked for (see `start_for` and `plan`), so none is fed.
        let leading = sample > self.run.run.start
            && is_leading(name.map(|n| n as usize), start.map(|s| s as usize));
        let unwanted = name.is_some_and(|n| self.plan.slot(n).is_none());
        if leading || (droppable && unwanted) {
            return SampleAction::LeftOut;
        }
        self.pending.extend(name);
        SampleAction::Feed(name.map(i64::from))
    }

    /// A frame came out of the decoder under `timestamp`: the wanted frame it is, if any.
    ///
    /// # Errors
    /// [`Error::FramesNotAddressable`] for a frame no fed sample accounts for.
    pub(crate) fn output(&mut self, timestamp: i64) -> Result<Option<Handout>> {
        let name = if self.by_order {
            self.names.pop_front()
        } else {
            u32::try_from(timestamp)
                .ok()
                .filter(|n| self.pending.remove(n))
        };
        let Some(name) = name else {
            return Err(Error::FramesNotAddressable {
                reason: format!(
                    "decoding samples {}..={} gave a frame (timestamp {timestamp}) that no \
                     sample fed accounts for, so frames cannot be told apart",
                    self.run.run.start, self.run.run.end
                ),
            });
        };
        Ok(self.plan.slot(name).map(|slot| Handout {
            slot,
            copies: self.plan.wanted[slot].copies,
            pts: self.plan.wanted[slot].pts,
        }))
    }
}

impl RunFeed<'_> {
    /// The run is over (the decoder flushed and its frames taken).
    ///
    /// # Errors
    /// [`Error::FramesNotAddressable`] when a sample fed as shown gave no frame: the frames
    /// after it may have come out under its name.
    pub(crate) fn finish(&self) -> Result<()> {
        let missing = if self.by_order {
            self.names.front()
        } else {
            self.pending.first()
        };
        match missing {
            None => Ok(()),
            Some(display) => Err(Error::FramesNotAddressable {
                reason: format!(
                    "decoding samples {}..={} gave no frame for display index {display}, so \
                     the frames after it cannot be told apart",
                    self.run.run.start, self.run.run.end
                ),
            }),
        }
    }
}

/// A run with the display index of each of its samples (`None`: not shown), since the index
/// is not at hand while reading.
#[derive(Debug, Clone)]
pub(crate) struct RunNames {
    pub(crate) run: Run,
    pub(crate) names: Vec<Option<u32>>,
}

/// A frame one `frames_at` call wants.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wanted {
    /// Its display index.
    pub(crate) display: u32,
    /// Copies to make (requests for it).
    pub(crate) copies: usize,
    /// The index's pts of its sample, which the frame handed out carries.
    pub(crate) pts: i64,
}

/// What one `frames_at` call decodes: its runs, and the frames it wants, by display index.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) runs: Vec<RunNames>,
    /// Sorted by display index, each once.
    pub(crate) wanted: Vec<Wanted>,
    /// Per request: (display index, sample).
    pub(crate) requests: Vec<(usize, usize)>,
}

impl Plan {
    /// The plan for `display_indices` of `source`, decoded as `codec`.
    pub(super) fn for_source(
        source: &mut impl RandomAccessSource,
        codec: Codec,
        display_indices: &[usize],
    ) -> Result<Self> {
        let order = DisplayOrder::of(source, codec)?;
        Self::new(source.sample_index()?, &order, display_indices)
    }

    pub(crate) fn new(
        index: &SampleIndex,
        order: &DisplayOrder,
        display_indices: &[usize],
    ) -> Result<Self> {
        let requests = display_indices
            .iter()
            .map(|&d| {
                let s = order.sample(d).ok_or(Error::FrameOutOfRange {
                    index: d,
                    frames: order.len(),
                })?;
                Ok((d, s))
            })
            .collect::<Result<Vec<_>>>()?;
        let targets: Vec<usize> = requests.iter().map(|r| r.1).collect();
        // Display indices are below the sample count, itself at most u32::MAX.
        let name = |s: usize| order.display_index(s).and_then(|d| u32::try_from(d).ok());
        let runs = plan(order, &sync_samples(index), &targets)
            .into_iter()
            .map(|run| RunNames {
                names: (run.start..=run.end).map(name).collect(),
                run,
            })
            .collect();
        let mut sorted: Vec<(usize, usize)> = requests.clone();
        sorted.sort_unstable();
        let mut wanted: Vec<Wanted> = Vec::with_capacity(sorted.len());
        for (_, s) in sorted {
            let Some(display) = name(s) else { continue };
            match wanted.last_mut() {
                Some(last) if last.display == display => last.copies += 1,
                _ => wanted.push(Wanted {
                    display,
                    copies: 1,
                    pts: index.pts(s).unwrap_or(0),
                }),
            }
        }
        Ok(Self {
            runs,
            wanted,
            requests,
        })
    }

    /// Where frames of display index `display` go in the results, if they are wanted.
    pub(crate) fn slot(&self, display: u32) -> Option<usize> {
        self.wanted
            .binary_search_by_key(&display, |w| w.display)
            .ok()
    }

    pub(crate) fn empty_results<T>(&self) -> Vec<Vec<T>> {
        (0..self.wanted.len()).map(|_| Vec::new()).collect()
    }

    /// The frames in request order; repeats take the copies made for them.
    pub(crate) fn in_request_order<T>(&self, mut got: Vec<Vec<T>>) -> Result<Vec<T>> {
        self.requests
            .iter()
            .map(|&(index, sample)| {
                u32::try_from(index)
                    .ok()
                    .and_then(|d| self.slot(d))
                    .and_then(|at| got[at].pop())
                    .ok_or(Error::FrameNotDecoded { index, sample })
            })
            .collect()
    }

    /// The runs split among `n` decoders, longest first to the least loaded (by samples).
    pub(super) fn split(&self, n: usize) -> Vec<Vec<RunNames>> {
        let mut order: Vec<&RunNames> = self.runs.iter().collect();
        order.sort_by_key(|r| std::cmp::Reverse(r.names.len()));
        let mut shares: Vec<(usize, Vec<RunNames>)> =
            (0..n.max(1)).map(|_| (0, Vec::new())).collect();
        for run in order {
            if let Some(least) = shares.iter_mut().min_by_key(|s| s.0) {
                least.0 += run.names.len();
                least.1.push(run.clone());
            }
        }
        // Each decoder reads its runs in file order.
        shares
            .into_iter()
            .map(|(_, mut runs)| {
                runs.sort_by_key(|r| r.run.start);
                runs
            })
            .collect()
    }
}
