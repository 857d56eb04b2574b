//! Safety bounds. Each is far above what a real TorchScript module needs (ECAPA2's `data.pkl` is
//! tens of kB with a few thousand values) and low enough that hostile input cannot exhaust memory
//! or the stack.

/// Largest `data.pkl` (or other non-storage entry) read into memory.
pub(crate) const MAX_META_ENTRY_BYTES: u64 = 256 << 20;
/// Largest generated-code file read for constants; larger ones are skipped.
pub(crate) const MAX_CODE_ENTRY_BYTES: u64 = 16 << 20;
/// Bytes a storage entry may hold beyond its declared size (one page: writers pad).
pub(crate) const STORAGE_ENTRY_SLACK: u64 = 4096;
/// Largest single storage entry.
pub(crate) const MAX_STORAGE_BYTES: u64 = 4 << 30;
/// Bytes of materialised tensors in one archive (views can legitimately exceed their storage,
/// e.g. stride-0 expansions, so this bounds the total instead).
pub(crate) const MAX_TOTAL_TENSOR_BYTES: u64 = 16 << 30;
/// ... and more precisely, materialised bytes may be at most this multiple of the storage bytes
/// present in the archive, plus [`TENSOR_BYTES_SLACK`] (so a small file cannot expand hugely).
pub(crate) const TENSOR_BYTES_PER_STORAGE_BYTE: u64 = 2;
/// Fixed allowance on top of the storage-proportional bound.
pub(crate) const TENSOR_BYTES_SLACK: u64 = 64 << 20;
/// Deepest nesting of containers/objects; also bounds recursion when converting and dropping.
pub(crate) const MAX_DEPTH: u16 = 200;
/// Values on the pickle stack.
pub(crate) const MAX_STACK: usize = 1 << 20;
/// Open MARKs.
pub(crate) const MAX_MARKS: usize = 1 << 16;
/// Memo entries.
pub(crate) const MAX_MEMO: usize = 1 << 20;
/// Elements copied when a shared container is mutated (copy-on-write), summed over a pickle.
pub(crate) const MAX_COW_ELEMENTS: u64 = 1 << 24;
/// Length of a GLOBAL / text-opcode line.
pub(crate) const MAX_LINE: usize = 4096;
/// Values produced when expanding the (shared) pickle graph into the owned module tree
/// (~80 bytes each; a real model has well under 100k).
pub(crate) const MAX_TREE_VALUES: u64 = 1 << 20;
/// Tensor rank.
pub(crate) const MAX_RANK: usize = 64;
/// Length of one class-body line the constant parser looks at.
pub(crate) const MAX_CONSTANT_LINE: usize = 64 << 10;
/// Safetensors JSON header size (the format's own reference reader uses 100 MB).
pub(crate) const MAX_SAFETENSORS_HEADER: u64 = 100_000_000;
