//! Decode-ahead for iteration: while Python holds a frame (and waits for the GIL, and runs
//! its own work on it), a worker thread of the decoder goes on decoding the next frames into
//! pool buffers, so the NVDEC engine is never left without work because of the interpreter.
//!
//! Invariants:
//! - Order: the worker is the only reader of the session while it runs, and hands frames
//!   (and at most one error, its last item) through one FIFO channel; nothing else reads the
//!   session until the worker is parked ([`Ahead::park`]), which hands back the session and
//!   every item the worker made, in order, for sequential reading to deliver first.
//! - Memory: at most `depth` frames are decoded ahead of the consumer — `depth - 1` in the
//!   channel and one in the worker's hands while it waits for room — each in a buffer of the
//!   session's frame pool (a 1080p NV12 frame is 3.1 MB).
//! - Errors come at the frame where they happen: the worker sends the error after the frames
//!   before it, then stops; the next read after the error starts a new worker, which
//!   retries as a call without decode-ahead would.
//! - Shutdown: [`Ahead::park`] and [`Ahead::finish`] stop the worker after its current step
//!   (one packet decoded, one frame copied) and join it; [`Ahead::detach`] (a decoder dropped
//!   without `close()`) stops it without waiting: the worker drops the session itself, which
//!   returns a pooled decoder through the pool's usual check-in. The worker makes only the
//!   calls sequential reading makes (decode, flush, parser renewal inside the crate's init
//!   windows); it never touches Python objects or the GIL.
//!
//! Trade-off: one thread per decoder while it is read sequentially (started at the second
//! frame of a pass, and again after random access, a batch or another call that parked it),
//! and one channel hand-off per frame, against an engine that idles while the GIL is busy.
//! The first frame of a pass is decoded in the caller's call: a caller that takes one frame
//! (to start a stream, or to look at it) sets no work going that it did not ask for.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use guard::Error;

use crate::decoder::{Produced, Session};

type Item = Result<Produced, Error>;

/// A running decode-ahead worker and its channel.
pub(crate) struct Ahead {
    rx: Receiver<Item>,
    stop: Arc<AtomicBool>,
    worker: JoinHandle<Option<Box<Session>>>,
}

/// What [`Ahead::next`] got.
pub(crate) enum Got {
    Frame(Produced),
    /// The worker stopped: at the end of the stream, or after sending an error (returned
    /// here). Park it to have the session back.
    Stopped(Option<Error>),
}

impl Ahead {
    /// Starts a worker decoding `session` up to `depth` (>= 1) frames ahead. If no thread can
    /// be started, the session comes back unchanged.
    pub(crate) fn start(session: Box<Session>, depth: usize) -> Result<Ahead, Box<Session>> {
        let (tx, rx) = sync_channel::<Item>(depth.saturating_sub(1));
        // The session is handed over only once the thread exists, so a failed spawn keeps it.
        let (give, take) = sync_channel::<Box<Session>>(1);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let spawned = std::thread::Builder::new()
            .name("nvcg-decode-ahead".into())
            .spawn(move || {
                let session = take.recv().ok()?;
                Some(run(session, &tx, &flag))
            });
        match spawned {
            Ok(worker) => match give.send(session) {
                Ok(()) => Ok(Ahead { rx, stop, worker }),
                // The thread exists and waits for it: unreachable, but never lose the session.
                Err(back) => Err(back.0),
            },
            Err(_) => Err(session),
        }
    }

    /// The next item, waiting for the worker.
    pub(crate) fn next(&self) -> Got {
        match self.rx.recv() {
            Ok(Ok(frame)) => Got::Frame(frame),
            Ok(Err(error)) => Got::Stopped(Some(error)),
            Err(_) => Got::Stopped(None),
        }
    }

    /// Stops the worker after its current step and returns the session with every item the
    /// worker made and nobody took, in order: the frames go to the front of sequential
    /// reading (`carry`), an error after them is delivered after them.
    ///
    /// # Errors
    /// [`Error::Internal`] if the worker panicked (the session is lost with it).
    pub(crate) fn park(self) -> Result<Box<Session>, Error> {
        self.stop.store(true, Ordering::Release);
        let mut frames = Vec::new();
        let mut error = None;
        // The worker checks the flag after every item it sends, so it sends at most one more
        // and then drops its sender, which ends this loop.
        while let Ok(item) = self.rx.recv() {
            match item {
                Ok(frame) => frames.push(frame),
                Err(e) => error = Some(e),
            }
        }
        let mut session = join(self.worker)?;
        session.carry.extend(frames);
        if error.is_some() {
            session.held_error = error;
        }
        Ok(session)
    }

    /// Stops the worker, drops what it decoded ahead, waits for it and returns the session
    /// (for `close()`).
    ///
    /// # Errors
    /// As [`park`](Self::park).
    pub(crate) fn finish(self) -> Result<Box<Session>, Error> {
        self.stop.store(true, Ordering::Release);
        drop(self.rx); // a worker waiting for room wakes up with an error and stops
        join(self.worker)
    }

    /// Stops the worker without waiting: it drops the session itself after its current step
    /// (for a decoder dropped without `close()`: never blocks the interpreter).
    pub(crate) fn detach(self) {
        self.stop.store(true, Ordering::Release);
        drop(self.rx);
        drop(self.worker);
    }
}

fn join(worker: JoinHandle<Option<Box<Session>>>) -> Result<Box<Session>, Error> {
    match worker.join() {
        Ok(Some(session)) => Ok(session),
        _ => Err(Error::Internal {
            what: "the decode-ahead worker of this decoder panicked; the decoder is unusable",
        }),
    }
}

/// The worker: one frame at a time until the stream ends, an error, a stop or a consumer
/// that went away.
fn run(mut session: Box<Session>, tx: &SyncSender<Item>, stop: &AtomicBool) -> Box<Session> {
    while !stop.load(Ordering::Acquire) {
        match session.next(1) {
            Ok(mut frames) => match frames.pop() {
                Some(frame) => {
                    if let Err(back) = tx.send(Ok(frame)) {
                        // The consumer went away (close or drop): the frame goes back to its
                        // pool with the session.
                        drop(back);
                        break;
                    }
                }
                None => break, // end of stream
            },
            Err(error) => {
                let _ = tx.send(Err(error));
                break;
            }
        }
    }
    session
}
