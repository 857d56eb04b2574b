//! CUDA graphs per (rows, frames bucket, labels), so that a short utterance is not bound by
//! the ~400 launches of a forward.
//!
//! Frames are padded up to a bucket (a multiple of [`BUCKET_FRAMES`]): the padding masks make a
//! row's result independent of how far it is padded, so one graph serves every length in its
//! bucket. A shape is captured on its second use: a warm-up forward in a pool of its own (an
//! arena; its result is that call's) leaves every buffer the forward needs cached, then the
//! same forward is captured, allocating nothing. The arena stays with the graph, so the
//! addresses the graph recorded stay its own; a replay writes the new input and row lengths
//! where the captured forward read them, launches the graph and reads the outputs it wrote.
//! A shape whose capture fails runs uncaptured from then on (with a warning).

use super::backend::{Cuda, Map};
use super::gpu::{Gpu, Graph};
use super::params::Ptr;
use crate::error::Result;
use crate::labels::LabelSet;
use crate::network::Network;
use std::collections::{HashMap, HashSet};

/// Frames are padded up to a multiple of this (0.5 s).
pub(crate) const BUCKET_FRAMES: usize = 50;
/// Graphs only for batches of at most this many padded frames (rows × frames): beyond, a
/// forward is bound by the device's arithmetic, not by launches.
pub(crate) const GRAPH_MAX_FRAMES: usize = 4000;
/// At most this many graphs are kept (least recently used goes first).
const MAX_GRAPHS: usize = 16;

/// What a graph is specific to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    rows: usize,
    frames: usize,
    labels: LabelSet,
}

impl Key {
    /// The graph for `rows` rows of at most `frames` frames, or `None` where graphs do not pay.
    pub fn new(rows: usize, frames: usize, labels: LabelSet) -> Option<Self> {
        let frames = frames.div_ceil(BUCKET_FRAMES).max(1) * BUCKET_FRAMES;
        (rows * frames <= GRAPH_MAX_FRAMES).then_some(Self {
            rows,
            frames,
            labels,
        })
    }
}

/// A captured forward with the buffers it recorded.
struct Captured<G: Gpu> {
    /// Outputs (per-row vectors) as the graph writes them.
    parts: Vec<Map<G>>,
    /// Where the graph reads its input and the rows' lengths.
    at: (Ptr, Ptr),
    graph: Option<Graph>,
    /// The arena: the graph's buffers.
    arena: Cuda<G>,
    last_used: u64,
}

impl<G: Gpu> Drop for Captured<G> {
    fn drop(&mut self) {
        if let Some(g) = self.graph.take() {
            self.arena.gpu().drop_graph(g);
        }
    }
}

/// The graphs of one engine (owned by its device lock).
pub(crate) struct Graphs<G: Gpu> {
    made: HashMap<Key, Captured<G>>,
    seen: HashSet<Key>,
    refused: HashSet<Key>,
    clock: u64,
    /// Device bytes all arenas may hold together.
    limit: usize,
}

impl<G: Gpu> Graphs<G> {
    /// No graphs yet; arenas may hold `limit` bytes together.
    pub fn new(limit: usize) -> Self {
        Self {
            made: HashMap::new(),
            seen: HashSet::new(),
            refused: HashSet::new(),
            clock: 0,
            limit,
        }
    }

    /// Graphs kept now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.made.len()
    }

    /// Runs `specs` (spectrograms of `bins` bins) through `key`'s graph, capturing it on the
    /// shape's second use; `Ok(None)` where the caller should run the forward itself.
    pub fn run(
        &mut self,
        network: &Network<Cuda<G>>,
        backend: &Cuda<G>,
        key: Key,
        specs: &[Vec<f32>],
        bins: usize,
    ) -> Result<Option<Vec<Vec<f32>>>> {
        self.clock += 1;
        if let Some(c) = self.made.get_mut(&key) {
            c.last_used = self.clock;
            c.arena.write_padded(specs, (1, bins, key.frames), c.at)?;
            if let Some(g) = &c.graph {
                c.arena.gpu().replay(g)?;
            }
            return c.arena.read(&c.parts).map(Some);
        }
        if self.refused.contains(&key) || self.seen.insert(key) {
            return Ok(None);
        }
        // Second use: warm up an arena (this call's result), then capture.
        let arena = backend.with_arena();
        let (x, _) = arena.upload_padded(specs, 1, bins, key.frames)?;
        let parts = network.forward(&arena, x, key.labels)?;
        let out = arena.read(&parts)?;
        drop(parts);
        let (x, at) = arena.upload_padded(specs, 1, bins, key.frames)?;
        arena.gpu().begin_capture()?;
        let forward = network.forward(&arena, x, key.labels);
        let graph = arena.gpu().end_capture();
        match (forward, graph) {
            (Ok(parts), Ok(graph)) => {
                self.made.insert(
                    key,
                    Captured {
                        parts,
                        at,
                        graph: Some(graph),
                        arena,
                        last_used: self.clock,
                    },
                );
                self.evict();
            }
            (forward, graph) => {
                let why = match (&forward, &graph) {
                    (Err(e), _) | (_, Err(e)) => e.to_string(),
                    _ => String::new(),
                };
                tracing::warn!(
                    ?key,
                    "CUDA graph capture failed, running this shape uncaptured: {why}"
                );
                if let Ok(g) = graph {
                    arena.gpu().drop_graph(g);
                }
                self.refused.insert(key);
            }
        }
        Ok(Some(out))
    }

    /// Drops least recently used graphs beyond [`MAX_GRAPHS`] or the memory limit.
    fn evict(&mut self) {
        loop {
            let bytes: usize = self
                .made
                .values()
                .map(|c| {
                    let u = c.arena.pool().usage();
                    u.in_use + u.cached
                })
                .sum();
            if self.made.len() <= MAX_GRAPHS && (bytes <= self.limit || self.made.len() <= 1) {
                return;
            }
            let oldest = self
                .made
                .iter()
                .min_by_key(|(_, c)| c.last_used)
                .map(|(k, _)| *k);
            match oldest {
                Some(k) => {
                    self.made.remove(&k);
                    self.seen.remove(&k);
                }
                None => return,
            }
        }
    }
}
