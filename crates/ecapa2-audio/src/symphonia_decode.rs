//! FLAC, MP3 and Ogg-Vorbis (and anything else symphonia recognises) through symphonia.
//!
//! Encoder delay and padding of MP3 (LAME/Xing tag) and Vorbis (granule positions) are trimmed,
//! so lossy files line up with their source.

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;

use crate::decode::Decoded;
use crate::error::AudioError;

/// Decode the first audio track of `source`; `ext` is a format hint.
pub(crate) fn decode(
    file_name: &str,
    source: Box<dyn MediaSource>,
    ext: Option<&str>,
    max_seconds: Option<f64>,
) -> Result<Decoded, AudioError> {
    let file_name = file_name.to_string();
    let corrupt = |reason: String| AudioError::Corrupt {
        file: file_name.clone(),
        reason,
    };
    let unsupported = |reason: String| AudioError::Unsupported {
        file: file_name.clone(),
        reason,
    };
    let mss = MediaSourceStream::new(source, Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = ext {
        hint.with_extension(ext);
    }

    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| match e {
            SymphoniaError::Unsupported(what) => unsupported(format!(
                "not a recognised WAV, FLAC, MP3 or Ogg-Vorbis file ({what})"
            )),
            SymphoniaError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                corrupt("file ends inside its header (truncated)".to_owned())
            }
            SymphoniaError::IoError(source) => AudioError::Io {
                file: file_name.clone(),
                source,
            },
            other => corrupt(format!("cannot read header: {other}")),
        })?;
    let container = format.format_info().short_name;

    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| unsupported("no audio track".to_owned()))?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| unsupported("track has no audio codec parameters".to_owned()))?
        .clone();

    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| unsupported(format!("no decoder for this codec: {e}")))?;
    let codec = describe_codec(container, decoder.codec_info().short_name);

    let mut sample_rate = params.sample_rate;
    let mut channels: Vec<Vec<f32>> = match &params.channels {
        Some(c) => vec![Vec::new(); c.count()],
        None => Vec::new(),
    };
    let mut planes: Vec<Vec<f32>> = Vec::new();
    let mut decoded_packets = 0usize;
    let mut failed_packets = 0usize;
    let mut last_error = None;

    loop {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            Err(SymphoniaError::IoError(io)) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                tracing::warn!(file = %file_name, "stream ends early (truncated file?); keeping what was decoded");
                break;
            }
            Err(SymphoniaError::ResetRequired) => {
                tracing::warn!(file = %file_name, "stream changes layout mid-file (chained stream); decoding only the first part");
                break;
            }
            Err(SymphoniaError::DecodeError(msg)) if decoded_packets > 0 => {
                tracing::warn!(file = %file_name, error = msg, "demuxer error after valid audio; stopping here");
                break;
            }
            Err(SymphoniaError::IoError(source)) => {
                return Err(AudioError::Io {
                    file: file_name.clone(),
                    source,
                })
            }
            Err(e) => return Err(corrupt(format!("cannot read packet: {e}"))),
        };
        if packet.track_id != track_id {
            continue;
        }
        let buf = match decoder.decode(&packet) {
            Ok(buf) => buf,
            Err(SymphoniaError::DecodeError(msg)) => {
                failed_packets += 1;
                last_error = Some(msg);
                tracing::warn!(file = %file_name, error = msg, "skipping undecodable packet");
                continue;
            }
            Err(SymphoniaError::IoError(e)) => {
                failed_packets += 1;
                tracing::warn!(file = %file_name, error = %e, "skipping unreadable packet");
                continue;
            }
            Err(e) => return Err(corrupt(format!("decoder failed: {e}"))),
        };
        decoded_packets += 1;

        let spec = buf.spec();
        match sample_rate {
            None => sample_rate = Some(spec.rate()),
            Some(rate) if rate != spec.rate() => {
                return Err(corrupt(format!(
                    "sample rate changes mid-stream ({rate} Hz -> {} Hz)",
                    spec.rate()
                )))
            }
            Some(_) => {}
        }
        let count = buf.num_planes();
        if channels.is_empty() && decoded_packets == 1 {
            channels = vec![Vec::new(); count];
        }
        if count != channels.len() {
            return Err(corrupt(format!(
                "channel count changes mid-stream ({} -> {count})",
                channels.len()
            )));
        }
        if buf.frames() == 0 {
            continue;
        }
        buf.copy_to_vecs_planar::<f32>(&mut planes);
        for (dst, src) in channels.iter_mut().zip(&planes) {
            dst.extend_from_slice(src);
        }
        // Compressed audio can expand enormously: stop as soon as the limit is passed.
        let frames = channels.first().map_or(0, Vec::len);
        crate::decode::check_length(&file_name, frames, spec.rate(), max_seconds)?;
    }

    if decoded_packets == 0 && failed_packets > 0 {
        return Err(corrupt(format!(
            "none of {failed_packets} packets could be decoded ({})",
            last_error.unwrap_or("I/O error")
        )));
    }
    if failed_packets > 0 {
        tracing::warn!(file = %file_name, failed_packets, decoded_packets, "some packets were skipped");
    }
    let sample_rate = match sample_rate {
        Some(r) if r > 0 => r,
        _ => return Err(corrupt("sample rate is missing or 0".to_owned())),
    };
    if channels.is_empty() {
        return Err(corrupt("no channels".to_owned()));
    }
    let decoded = Decoded {
        channels,
        sample_rate,
        codec,
    };
    tracing::debug!(
        file = %file_name,
        codec = %decoded.codec,
        sample_rate,
        channels = decoded.channels.len(),
        frames = decoded.frames(),
        "decoded"
    );
    Ok(decoded)
}

/// Human name of a codec in its container, from symphonia's short names.
fn describe_codec(container: &str, codec: &str) -> String {
    let codec_name = match codec {
        "flac" => "FLAC".to_owned(),
        "vorbis" => "Vorbis".to_owned(),
        other => other.to_uppercase(),
    };
    match container {
        "ogg" => format!("Ogg {codec_name}"),
        _ => codec_name,
    }
}

#[cfg(test)]
mod tests {
    use super::describe_codec;

    #[test]
    fn codec_names() {
        assert_eq!(describe_codec("flac", "flac"), "FLAC");
        assert_eq!(describe_codec("mp3", "mp3"), "MP3");
        assert_eq!(describe_codec("ogg", "vorbis"), "Ogg Vorbis");
        assert_eq!(describe_codec("ogg", "flac"), "Ogg FLAC");
    }
}
