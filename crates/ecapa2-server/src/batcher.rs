//! Dynamic batching: requests put decoded utterances in one bounded queue; one engine thread
//! takes what is queued (up to an audio-seconds budget and a batch size, optionally waiting a
//! little for more, as Triton's `max_queue_delay`) and hands it to the engine's batch call.
//! The engine's thread pool is shared by every request, never multiplied per request.
//!
//! A job whose client has gone (a disconnect) or whose queue wait passed the request timeout
//! leaves the queue at once, even while a long batch runs, so it never holds a place in the
//! queue nor costs engine time; a job the engine has taken is always answered.

use crate::metrics::Metrics;
use crate::problem::Problem;
use ecapa2::{Ecapa2, LabelSet};
use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The batching knobs.
#[derive(Debug, Clone)]
pub struct BatchConfig {
    /// Most jobs waiting at once; past it requests get 503.
    pub queue_len: usize,
    /// Most seconds of audio waiting at once (bounds the queue's memory); past it, 503.
    pub queue_audio_s: f64,
    /// Most seconds of audio in one engine batch. Every job of a batch is answered when the
    /// batch ends, and on CPU the engine runs a batch's utterances one after the other, so a
    /// small budget keeps latency low at no cost in throughput.
    pub batch_audio_s: f64,
    /// Most utterances in one engine batch.
    pub max_batch: usize,
    /// How long a batch may wait for more jobs once the first is queued.
    pub max_delay: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            queue_len: 128,
            queue_audio_s: 1800.0,
            batch_audio_s: 10.0,
            max_batch: 32,
            max_delay: Duration::ZERO,
        }
    }
}

/// The answer to one job: the features' values, or what went wrong.
pub type Reply = Result<Vec<f32>, Problem>;

/// A job's stage, shared by the queue and the job's [`Ticket`]: whichever of the engine
/// (queued → started) and the waiting request (queued → cancelled) moves it first wins.
const QUEUED: u8 = 0;
const STARTED: u8 = 1;
const CANCELLED: u8 = 2;

struct Job {
    audio: Vec<f32>,
    seconds: f64,
    labels: LabelSet,
    reply: oneshot::Sender<Reply>,
    queued_at: Instant,
    stage: Arc<AtomicU8>,
}

impl Job {
    /// Whether the job is still wanted: queued, and its client still waiting.
    fn live(&self) -> bool {
        self.stage.load(Ordering::Acquire) == QUEUED && !self.reply.is_closed()
    }
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    audio_s: f64,
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    ready: Condvar,
    config: BatchConfig,
    metrics: Arc<Metrics>,
    sample_rate: f64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the queue half-updated (every update
        // is a push or a pop), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes every job no longer wanted out of the queue.
    fn purge(&self) {
        let mut state = self.lock();
        let before = state.jobs.len();
        let mut freed = 0.0;
        state.jobs.retain(|job| {
            let live = job.live();
            if !live {
                freed += job.seconds;
            }
            live
        });
        let removed = before - state.jobs.len();
        if removed > 0 {
            state.audio_s = (state.audio_s - freed).max(0.0);
            self.metrics.cancelled.inc_by(removed as u64);
            self.metrics.queue_depth.set(state.jobs.len() as i64);
        }
    }
}

/// Why a [`Ticket`] brought no reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    /// The job waited in the queue past the timeout (and was taken out of it).
    TimedOut,
    /// The engine thread ended without answering.
    EngineStopped,
}

/// A queued job's claim on its reply. Dropping it before the engine takes the job removes
/// the job from the queue.
pub struct Ticket {
    rx: oneshot::Receiver<Reply>,
    stage: Arc<AtomicU8>,
    shared: Arc<Shared>,
}

impl Ticket {
    /// Waits for the reply. `queue_timeout` bounds the wait in the queue only: once the
    /// engine has taken the job, the reply is awaited however long the computation takes.
    pub async fn wait(mut self, queue_timeout: Duration) -> Result<Reply, Waited> {
        if let Ok(reply) = tokio::time::timeout(queue_timeout, &mut self.rx).await {
            return reply.map_err(|_| Waited::EngineStopped);
        }
        if self.cancel() {
            return Err(Waited::TimedOut);
        }
        (&mut self.rx).await.map_err(|_| Waited::EngineStopped)
    }

    /// Cancels the job if it is still queued (and takes it out of the queue).
    fn cancel(&self) -> bool {
        let cancelled = self
            .stage
            .compare_exchange(QUEUED, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if cancelled {
            self.shared.purge();
        }
        cancelled
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// Why a job was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmitError {
    /// The queue is at its length or audio limit.
    Full,
    /// The service is shutting down.
    Closed,
}

/// The queue and its engine thread.
pub struct Batcher {
    shared: Arc<Shared>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl Batcher {
    /// Starts the engine thread for `model` (an error when the thread cannot be started).
    pub fn start(
        model: Arc<Ecapa2>,
        config: BatchConfig,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Self> {
        Self::start_with(model, config, metrics, |name, work| {
            std::thread::Builder::new().name(name.into()).spawn(work)
        })
    }

    /// [`Batcher::start`] with the engine thread started by `spawn`.
    fn start_with(
        model: Arc<Ecapa2>,
        config: BatchConfig,
        metrics: Arc<Metrics>,
        spawn: impl FnOnce(&str, Box<dyn FnOnce() + Send>) -> std::io::Result<JoinHandle<()>>,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            ready: Condvar::new(),
            sample_rate: f64::from(model.sample_rate()),
            config,
            metrics,
        });
        let worker = {
            let shared = shared.clone();
            spawn("ecapa2-engine", Box::new(move || run(&shared, &model)))?
        };
        Ok(Self {
            shared,
            worker: Mutex::new(Some(worker)),
        })
    }

    /// Queues one utterance; the ticket brings its features.
    pub fn submit(&self, audio: Vec<f32>, labels: LabelSet) -> Result<Ticket, SubmitError> {
        let seconds = audio.len() as f64 / self.shared.sample_rate;
        let (reply, rx) = oneshot::channel();
        let stage = Arc::new(AtomicU8::new(QUEUED));
        let mut state = self.shared.lock();
        if state.closed {
            return Err(SubmitError::Closed);
        }
        let config = &self.shared.config;
        // One job alone may exceed the audio budget (its own duration limit applies): only a
        // non-empty queue refuses on audio seconds.
        if state.jobs.len() >= config.queue_len
            || (!state.jobs.is_empty() && state.audio_s + seconds > config.queue_audio_s)
        {
            self.shared.metrics.rejected.inc();
            return Err(SubmitError::Full);
        }
        state.audio_s += seconds;
        state.jobs.push_back(Job {
            audio,
            seconds,
            labels,
            reply,
            queued_at: Instant::now(),
            stage: stage.clone(),
        });
        self.shared.metrics.queue_depth.set(state.jobs.len() as i64);
        drop(state);
        self.shared.ready.notify_one();
        Ok(Ticket {
            rx,
            stage,
            shared: self.shared.clone(),
        })
    }

    /// Jobs waiting now.
    pub fn depth(&self) -> usize {
        self.shared.lock().jobs.len()
    }

    /// Stops taking jobs, finishes those queued, and waits for the engine thread.
    pub fn close(&self) {
        self.shared.lock().closed = true;
        self.shared.ready.notify_all();
        let worker = self.worker.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(w) = worker {
            let _ = w.join();
        }
    }
}

impl Drop for Batcher {
    fn drop(&mut self) {
        self.close();
    }
}

/// The engine thread: take a batch, run it, answer, until closed and drained.
fn run(shared: &Shared, model: &Ecapa2) {
    while let Some(batch) = next_batch(shared) {
        if batch.is_empty() {
            continue;
        }
        let now = Instant::now();
        for job in &batch {
            shared
                .metrics
                .queue_wait
                .observe(now.duration_since(job.queued_at).as_secs_f64());
        }
        shared.metrics.batch_size.observe(batch.len() as f64);
        run_batch(shared, model, batch);
    }
    tracing::debug!("engine thread stopped");
}

/// Waits for jobs and takes the next batch: jobs with the first job's labels, in queue order,
/// within the budget. `None` once closed and drained.
fn next_batch(shared: &Shared) -> Option<Vec<Job>> {
    let config = &shared.config;
    let mut state = shared.lock();
    while state.jobs.is_empty() {
        if state.closed {
            return None;
        }
        state = shared.ready.wait(state).unwrap_or_else(|p| p.into_inner());
    }
    if !config.max_delay.is_zero() {
        let deadline = Instant::now() + config.max_delay;
        while !state.closed
            && state.jobs.len() < config.max_batch
            && state.audio_s < config.batch_audio_s
        {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = shared
                .ready
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
    let labels = state.jobs.front()?.labels;
    let (mut batch, mut rest) = (Vec::new(), VecDeque::new());
    let mut seconds = 0.0;
    while let Some(job) = state.jobs.pop_front() {
        if !job.live() {
            // The client left or timed out: drop the job before it costs engine time.
            state.audio_s -= job.seconds;
            shared.metrics.cancelled.inc();
            continue;
        }
        let fits = batch.is_empty()
            || (batch.len() < config.max_batch && seconds + job.seconds <= config.batch_audio_s);
        // Taking the job (queued → started) fails only if its request has just given up.
        if job.labels == labels && fits && take(&job) {
            seconds += job.seconds;
            batch.push(job);
        } else {
            rest.push_back(job);
            if !fits {
                break;
            }
        }
    }
    rest.extend(state.jobs.drain(..));
    state.jobs = rest;
    state.audio_s = (state.audio_s - seconds).max(0.0);
    shared.metrics.queue_depth.set(state.jobs.len() as i64);
    Some(batch)
}

/// Marks a job as started: from now on its request waits for the answer.
fn take(job: &Job) -> bool {
    job.stage
        .compare_exchange(QUEUED, STARTED, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
}

/// Runs one batch and answers every job. A row the engine refuses is answered with its error
/// and the rest run again without it: one bad utterance never fails the others.
fn run_batch(shared: &Shared, model: &Ecapa2, mut batch: Vec<Job>) {
    let labels = batch[0].labels;
    while !batch.is_empty() {
        let inputs: Vec<&[f32]> = batch.iter().map(|j| j.audio.as_slice()).collect();
        let result =
            std::panic::catch_unwind(AssertUnwindSafe(|| model.features_batch(&inputs, labels)));
        match result {
            Ok(Ok(features)) => {
                let seconds: f64 = batch.iter().map(|j| j.seconds).sum();
                shared.metrics.audio_seconds.inc_by(seconds);
                for (job, row) in batch.into_iter().zip(features.iter()) {
                    let _ = job.reply.send(Ok(row.to_vec()));
                }
                return;
            }
            Ok(Err(ecapa2::Error::InBatch { row, source })) if row < batch.len() => {
                let job = batch.remove(row);
                let _ = job.reply.send(Err(Problem::from(*source)));
            }
            Ok(Err(e)) => {
                let problem = Problem::from(e);
                for job in batch {
                    let _ = job.reply.send(Err(problem.clone()));
                }
                return;
            }
            Err(_) => {
                tracing::error!("the engine panicked on a batch of {}", batch.len());
                let problem = Problem::new(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error in the engine",
                );
                for job in batch {
                    let _ = job.reply.send(Err(problem.clone()));
                }
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engine_thread_that_cannot_start_is_an_error() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/tiny/model.pt"
        );
        let model = Arc::new(Ecapa2::load(path).unwrap());
        let started = Batcher::start_with(
            model,
            BatchConfig::default(),
            Arc::new(Metrics::new()),
            |_, _| Err(std::io::Error::other("no threads left")),
        );
        assert_eq!(started.err().unwrap().to_string(), "no threads left");
    }
}
