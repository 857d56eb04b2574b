//! Tensors: element types, decoding, and materialising a strided view of a storage into a
//! contiguous row-major copy.

use std::borrow::Cow;

use crate::bytes::Bytes;
use crate::error::ArchiveError;
use crate::{DType, Tensor};

impl DType {
    /// Bytes per element.
    pub fn size_of(self) -> usize {
        match self {
            DType::F16 | DType::BF16 => 2,
            DType::F32 => 4,
            DType::F64 | DType::I64 => 8,
        }
    }

    /// The safetensors spelling (`F32`, `F16`, `BF16`, `F64`, `I64`).
    pub fn safetensors_name(self) -> &'static str {
        match self {
            DType::F32 => "F32",
            DType::F16 => "F16",
            DType::BF16 => "BF16",
            DType::F64 => "F64",
            DType::I64 => "I64",
        }
    }

    /// Parses a safetensors dtype name.
    pub fn from_safetensors_name(name: &str) -> Option<Self> {
        Some(match name {
            "F32" => DType::F32,
            "F16" => DType::F16,
            "BF16" => DType::BF16,
            "F64" => DType::F64,
            "I64" => DType::I64,
            _ => return None,
        })
    }

    /// The dtype of a TorchScript storage class (`torch.FloatStorage` -> `F32`); `None` for the
    /// storage types this crate does not decode.
    pub fn from_storage_type(name: &str) -> Option<Self> {
        Some(match name {
            "torch.FloatStorage" => DType::F32,
            "torch.HalfStorage" => DType::F16,
            "torch.BFloat16Storage" => DType::BF16,
            "torch.DoubleStorage" => DType::F64,
            "torch.LongStorage" => DType::I64,
            _ => return None,
        })
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::F64 => "f64",
            DType::I64 => "i64",
        })
    }
}

impl Tensor {
    /// Builds a tensor from little-endian element bytes; errors unless `bytes` holds exactly
    /// `shape.product()` elements of `dtype`.
    pub fn from_le_bytes(
        dtype: DType,
        shape: Vec<usize>,
        bytes: Vec<u8>,
    ) -> Result<Self, ArchiveError> {
        let expected = shape
            .iter()
            .try_fold(dtype.size_of(), |acc, &d| acc.checked_mul(d))
            .filter(|&n| n == bytes.len());
        if expected.is_none() {
            return Err(ArchiveError::TensorSize {
                dtype,
                shape,
                bytes: bytes.len(),
            });
        }
        Ok(Self {
            dtype,
            shape,
            data: Bytes::from_vec(bytes),
        })
    }

    /// An f32 tensor from values; errors unless `values.len()` equals the shape's product.
    pub fn from_f32(shape: Vec<usize>, values: &[f32]) -> Result<Self, ArchiveError> {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Self::from_le_bytes(DType::F32, shape, bytes)
    }

    /// The contiguous row-major elements as little-endian bytes (`numel * dtype.size_of()`).
    pub fn as_le_bytes(&self) -> &[u8] {
        &self.data
    }

    pub(crate) fn from_shared(dtype: DType, shape: Vec<usize>, data: Bytes) -> Self {
        Self { dtype, shape, data }
    }

    /// The elements as f32, borrowed without a copy when they are stored as f32 that this
    /// (little-endian) CPU can read in place, i.e. suitably aligned, as `torch.jit.save`
    /// writes them; otherwise converted as by [`Tensor::to_f32`].
    pub fn to_f32_cow(&self) -> Cow<'_, [f32]> {
        use zerocopy::FromBytes;
        if self.dtype == DType::F32 && cfg!(target_endian = "little") {
            if let Ok(values) = <[f32]>::ref_from_bytes(&self.data) {
                return Cow::Borrowed(values);
            }
        }
        Cow::Owned(self.to_f32())
    }

    /// Contiguous row-major values converted to f32 (f16/bf16/f64/i64 converted; f64 and large
    /// i64 round to nearest).
    pub fn to_f32(&self) -> Vec<f32> {
        let b: &[u8] = &self.data;
        match self.dtype {
            DType::F32 => b
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            DType::F16 => b
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            DType::BF16 => b
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            DType::F64 => b
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(arr8(c)) as f32)
                .collect(),
            DType::I64 => b
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(arr8(c)) as f32)
                .collect(),
        }
    }

    /// Contiguous row-major values as f64 (exact for every dtype except large i64).
    pub fn to_f64(&self) -> Vec<f64> {
        match self.dtype {
            DType::F64 => self
                .data
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(arr8(c)))
                .collect(),
            DType::I64 => self
                .data
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(arr8(c)) as f64)
                .collect(),
            _ => self.to_f32().into_iter().map(f64::from).collect(),
        }
    }

    /// Contiguous row-major values as i64 (errors unless the dtype is I64).
    pub fn to_i64(&self) -> Result<Vec<i64>, ArchiveError> {
        if self.dtype != DType::I64 {
            return Err(ArchiveError::DTypeMismatch {
                expected: DType::I64,
                found: self.dtype,
            });
        }
        Ok(self
            .data
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(arr8(c)))
            .collect())
    }
}

// `chunks_exact(8)` guarantees the length; this avoids a fallible conversion per element.
fn arr8(c: &[u8]) -> [u8; 8] {
    let mut a = [0u8; 8];
    a.copy_from_slice(c);
    a
}

/// Why a view does not fit its storage.
pub(crate) type ViewError = &'static str;

/// A checked strided view: sizes/strides/offset validated against the storage length.
pub(crate) struct View {
    pub shape: Vec<usize>,
    strides: Vec<usize>,
    offset: usize,
    pub numel: usize,
}

impl View {
    /// Validates `size`/`stride`/`offset` (all as claimed in the pickle) against a storage of
    /// `storage_numel` elements. Every addressed element must lie inside the storage.
    pub(crate) fn new(
        size: &[i64],
        stride: &[i64],
        offset: i64,
        storage_numel: u64,
    ) -> Result<Self, ViewError> {
        if size.len() != stride.len() {
            return Err("size and stride ranks differ");
        }
        let offset = usize::try_from(offset).map_err(|_| "negative storage offset")?;
        let shape: Vec<usize> = size
            .iter()
            .map(|&s| usize::try_from(s).map_err(|_| "negative size"))
            .collect::<Result<_, _>>()?;
        let strides: Vec<usize> = stride
            .iter()
            .map(|&s| usize::try_from(s).map_err(|_| "negative stride"))
            .collect::<Result<_, _>>()?;
        let numel = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or("element count overflows")?;
        if numel > 0 {
            // Highest element index the view touches.
            let mut last = offset;
            for (&d, &s) in shape.iter().zip(&strides) {
                let span = (d - 1).checked_mul(s).ok_or("extent overflows")?;
                last = last.checked_add(span).ok_or("extent overflows")?;
            }
            if last as u64 >= storage_numel {
                return Err("the view reaches past the end of its storage");
            }
        } else if offset as u64 > storage_numel {
            return Err("storage offset is past the end of the storage");
        }
        Ok(Self {
            shape,
            strides,
            offset,
            numel,
        })
    }

    /// Whether the view is one dense row-major run starting at `offset`.
    fn is_dense(&self) -> bool {
        let mut expected = 1usize;
        for (&d, &s) in self.shape.iter().zip(&self.strides).rev() {
            if d != 1 && s != expected {
                return false;
            }
            expected = expected.saturating_mul(d);
        }
        true
    }

    /// The view's elements (element size `es`) as one contiguous run: a window on `storage`
    /// when the view is dense, otherwise gathered into a new buffer.
    pub(crate) fn materialise(&self, storage: &Bytes, es: usize) -> Bytes {
        let total = self.numel * es;
        if self.is_dense() {
            // In bounds by construction (checked in `new`); an empty buffer if not, never a panic.
            return storage
                .slice(self.offset * es, total)
                .unwrap_or_else(|| Bytes::from_vec(Vec::new()));
        }
        let mut out = Vec::with_capacity(total);
        if self.numel == 0 {
            return Bytes::from_vec(out);
        }
        // Odometer over all but the last dim; the last dim is a strided inner loop.
        let rank = self.shape.len();
        let (inner_len, inner_stride) = match (self.shape.last(), self.strides.last()) {
            (Some(&d), Some(&s)) => (d, s),
            _ => (1, 1),
        };
        let outer = &self.shape[..rank.saturating_sub(1)];
        let mut idx = vec![0usize; outer.len()];
        loop {
            let base = self.offset
                + idx
                    .iter()
                    .zip(&self.strides)
                    .map(|(i, s)| i * s)
                    .sum::<usize>();
            for j in 0..inner_len {
                let at = (base + j * inner_stride) * es;
                // In bounds by construction (checked in `new`); `get` keeps it panic-free anyway.
                out.extend_from_slice(storage.get(at..at + es).unwrap_or(&[]));
            }
            // Advance the odometer.
            let mut dim = outer.len();
            loop {
                if dim == 0 {
                    return Bytes::from_vec(out);
                }
                dim -= 1;
                idx[dim] += 1;
                if idx[dim] < outer[dim] {
                    break;
                }
                idx[dim] = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn storage(n: usize) -> Bytes {
        Bytes::from_vec((0..n as u8).collect())
    }

    #[test]
    fn transposed_view_is_gathered() {
        // 3x4 row-major storage of bytes 0..12, transposed view 4x3 with strides (1, 4).
        let v = View::new(&[4, 3], &[1, 4], 0, 12).expect("fits");
        let out = v.materialise(&storage(12), 1);
        assert_eq!(*out, [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
    }

    #[test]
    fn offset_window_is_sliced() {
        let v = View::new(&[10], &[1], 1, 13).expect("fits");
        let s = storage(13);
        let out = v.materialise(&s, 1);
        assert_eq!(*out, (1..11).collect::<Vec<u8>>());
        // A dense window is shared, not copied.
        assert!(out.ptr_eq(&s.slice(1, 10).expect("inside")));
    }

    #[test]
    fn whole_storage_is_shared() {
        let s = storage(12);
        let v = View::new(&[3, 4], &[4, 1], 0, 12).expect("fits");
        assert!(v.materialise(&s, 1).ptr_eq(&s));
    }

    #[test]
    fn broadcast_and_scalar_views() {
        let v = View::new(&[2, 3], &[0, 1], 0, 3).expect("fits");
        assert_eq!(*v.materialise(&storage(3), 1), [0, 1, 2, 0, 1, 2]);
        let v = View::new(&[], &[], 2, 3).expect("fits");
        assert_eq!(*v.materialise(&storage(3), 1), [2]);
    }

    #[test]
    fn out_of_bounds_views_are_refused() {
        assert!(View::new(&[10], &[1], 4, 13).is_err());
        assert!(View::new(&[-1], &[1], 0, 13).is_err());
        assert!(View::new(&[2], &[-1], 0, 13).is_err());
        assert!(View::new(&[1], &[1], -1, 13).is_err());
        assert!(View::new(&[i64::MAX, i64::MAX], &[1, 1], 0, 13).is_err());
        assert!(View::new(&[0], &[1], 14, 13).is_err());
        assert!(View::new(&[0, 5], &[1, 1], 13, 13).is_ok());
    }

    #[test]
    fn conversions() {
        let t = Tensor::from_le_bytes(DType::F16, vec![2], vec![0x00, 0x3c, 0x00, 0xc0])
            .expect("valid");
        assert_eq!(t.to_f32(), vec![1.0, -2.0]);
        let t = Tensor::from_le_bytes(DType::BF16, vec![1], vec![0x80, 0x3f]).expect("valid");
        assert_eq!(t.to_f32(), vec![1.0]);
        let t = Tensor::from_le_bytes(DType::I64, vec![1], (-3i64).to_le_bytes().to_vec())
            .expect("valid");
        assert_eq!(t.to_i64().expect("i64"), vec![-3]);
        assert!(Tensor::from_f32(vec![2], &[1.0]).is_err());
        assert!(Tensor::from_f32(vec![1], &[1.0])
            .expect("valid")
            .to_i64()
            .is_err());
    }

    #[test]
    fn f32_values_are_borrowed_in_place_or_converted() {
        let values = [1.5f32, -2.0, 3.25];
        let t = Tensor::from_f32(vec![3], &values).expect("valid");
        let cow = t.to_f32_cow();
        if cfg!(target_endian = "little") && t.as_le_bytes().as_ptr().align_offset(4) == 0 {
            assert!(matches!(cow, Cow::Borrowed(_)));
        }
        assert_eq!(*cow, values);
        // A window starting one byte into an f32 buffer is misaligned: converted, same values.
        let raw: Vec<u8> = std::iter::once(0u8)
            .chain(values.iter().flat_map(|v| v.to_le_bytes()))
            .collect();
        let shifted = Bytes::from_vec(raw).slice(1, 12).expect("inside");
        let t = Tensor::from_shared(DType::F32, vec![3], shifted);
        assert_eq!(*t.to_f32_cow(), values);
        // Other dtypes are converted.
        let t = Tensor::from_le_bytes(DType::F16, vec![1], vec![0x00, 0x3c]).expect("valid");
        assert!(matches!(t.to_f32_cow(), Cow::Owned(ref v) if v == &[1.0]));
    }
}
