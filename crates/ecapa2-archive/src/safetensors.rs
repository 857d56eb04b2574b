//! The `.safetensors` format: `u64` little-endian header length, a JSON header mapping names to
//! `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the byte buffer after the
//! header), optional `__metadata__`, then the raw little-endian data.

use std::path::Path;

use serde_json::{Map, Value as Json};

use crate::error::ArchiveError;
use crate::limits::MAX_SAFETENSORS_HEADER;
use crate::{DType, Tensor};

/// Parses safetensors bytes into named tensors, in file (data offset) order.
pub fn read_safetensors_bytes(bytes: &[u8]) -> Result<Vec<(String, Tensor)>, ArchiveError> {
    let len_bytes: [u8; 8] = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            ArchiveError::safetensors(format!(
                "file of {} bytes has no 8-byte header length",
                bytes.len()
            ))
        })?;
    let header_len = u64::from_le_bytes(len_bytes);
    let available = bytes.len() as u64 - 8;
    if header_len > MAX_SAFETENSORS_HEADER || header_len > available {
        return Err(ArchiveError::safetensors(format!(
            "header claims {header_len} bytes but {available} follow the length (limit {MAX_SAFETENSORS_HEADER})"
        )));
    }
    let header_end = 8 + header_len as usize;
    let header = bytes
        .get(8..header_end)
        .ok_or_else(|| ArchiveError::safetensors("header out of range"))?;
    let data = bytes.get(header_end..).unwrap_or_default();
    let json: Map<String, Json> = serde_json::from_slice(header)
        .map_err(|e| ArchiveError::safetensors(format!("header is not a JSON object: {e}")))?;

    let mut entries = Vec::with_capacity(json.len());
    for (name, info) in &json {
        if name == "__metadata__" {
            continue;
        }
        let e = |d: &str| ArchiveError::safetensors_tensor(name, d);
        let dtype_name = info
            .get("dtype")
            .and_then(Json::as_str)
            .ok_or_else(|| e("missing dtype"))?;
        let dtype = DType::from_safetensors_name(dtype_name)
            .ok_or_else(|| e(&format!("unsupported dtype {dtype_name}")))?;
        let shape: Vec<usize> = info
            .get("shape")
            .and_then(Json::as_array)
            .ok_or_else(|| e("missing shape"))?
            .iter()
            .map(|d| {
                d.as_u64()
                    .and_then(|d| usize::try_from(d).ok())
                    .ok_or_else(|| e("shape is not a list of sizes"))
            })
            .collect::<Result<_, _>>()?;
        let offsets = info
            .get("data_offsets")
            .and_then(Json::as_array)
            .ok_or_else(|| e("missing data_offsets"))?;
        let (begin, end) = match offsets.as_slice() {
            [b, e2] => (b.as_u64(), e2.as_u64()),
            _ => (None, None),
        };
        let (Some(begin), Some(end)) = (begin, end) else {
            return Err(e("data_offsets is not [begin, end]"));
        };
        if begin > end || end > data.len() as u64 {
            return Err(e(&format!(
                "data_offsets [{begin}, {end}] outside the {} data bytes",
                data.len()
            )));
        }
        let needed = shape
            .iter()
            .try_fold(dtype.size_of() as u64, |a, &d| a.checked_mul(d as u64));
        if needed != Some(end - begin) {
            return Err(e(&format!(
                "{dtype_name} {shape:?} does not fill {} bytes",
                end - begin
            )));
        }
        entries.push((begin, end, name.clone(), dtype, shape));
    }
    // JSON maps are unordered; the data layout is the file's order. Overlaps are malformed.
    entries.sort_by_key(|e| (e.0, e.1));
    let mut prev_end = 0u64;
    let mut out = Vec::with_capacity(entries.len());
    for (begin, end, name, dtype, shape) in entries {
        if begin < prev_end {
            return Err(ArchiveError::safetensors_tensor(
                &name,
                "data overlaps the previous tensor",
            ));
        }
        prev_end = end;
        let raw = data
            .get(begin as usize..end as usize)
            .ok_or_else(|| ArchiveError::safetensors_tensor(&name, "data out of range"))?;
        out.push((name, Tensor::from_le_bytes(dtype, shape, raw.to_vec())?));
    }
    Ok(out)
}

/// Reads a `.safetensors` file into named tensors, in file order.
pub fn read_safetensors(path: &Path) -> Result<Vec<(String, Tensor)>, ArchiveError> {
    let bytes = std::fs::read(path).map_err(|source| ArchiveError::Io {
        path: path.to_owned(),
        source,
    })?;
    read_safetensors_bytes(&bytes)
}

/// Serialises named tensors as safetensors bytes, data in the given order.
pub fn safetensors_bytes<'a, S: AsRef<str>>(
    tensors: impl IntoIterator<Item = (S, &'a Tensor)>,
) -> Result<Vec<u8>, ArchiveError> {
    let mut header = Map::new();
    let mut data = Vec::new();
    for (name, t) in tensors {
        let name = name.as_ref();
        if name == "__metadata__" || header.contains_key(name) {
            return Err(ArchiveError::safetensors_tensor(
                name,
                "duplicate or reserved tensor name",
            ));
        }
        let begin = data.len();
        data.extend_from_slice(t.as_le_bytes());
        let info = serde_json::json!({
            "dtype": t.dtype.safetensors_name(),
            "shape": t.shape,
            "data_offsets": [begin, data.len()],
        });
        header.insert(name.to_owned(), info);
    }
    let mut json = serde_json::to_vec(&Json::Object(header))
        .map_err(|e| ArchiveError::safetensors(format!("cannot encode header: {e}")))?;
    // The format pads the header with spaces so the data starts 8-byte aligned.
    while json.len() % 8 != 0 {
        json.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + json.len() + data.len());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&data);
    Ok(out)
}

/// Writes named tensors to a `.safetensors` file (e.g. a one-time conversion of the archive).
pub fn write_safetensors<'a, S: AsRef<str>>(
    path: &Path,
    tensors: impl IntoIterator<Item = (S, &'a Tensor)>,
) -> Result<(), ArchiveError> {
    let bytes = safetensors_bytes(tensors)?;
    std::fs::write(path, bytes).map_err(|source| ArchiveError::Io {
        path: path.to_owned(),
        source,
    })
}
