//! FLAC, MP3 and Ogg-Vorbis (and anything else symphonia recognises) through symphonia.
//!
//! Encoder delay and padding of MP3 (LAME/Xing tag) and Vorbis (granule positions) are trimmed,
//! so lossy files line up with their source.
//!
//! A stream that cannot be decoded to its end is corrupt unless the caller keeps partial audio
//! ([`DecodeOptions::keep_partial`]): players skip bad packets, but an embedding of part of a
//! file, returned as the file's, is a silent wrong answer.

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;

use crate::decode::{DecodeOptions, Decoded};
use crate::error::AudioError;

/// Decode the first audio track of `source`; `ext` is a format hint.
pub(crate) fn decode(
    file_name: &str,
    source: Box<dyn MediaSource>,
    ext: Option<&str>,
    opts: DecodeOptions,
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
    let declared_frames = track.num_frames;
    let mut decoded_packets = 0usize;
    let mut failed_packets = 0usize;
    let mut last_error = None;
    // In strict mode the first damage ends decoding with an error; otherwise it is logged and
    // decoding goes on (or stops, keeping what came before).
    let damaged =
        |what: String, decoded_frames: usize, rate: Option<u32>| -> Result<(), AudioError> {
            if opts.keep_partial {
                tracing::warn!(file = %file_name, "{what}; keeping what decodes");
                Ok(())
            } else {
                Err(corrupt(format!(
                    "{what} after {:.2} s of audio (a part of a file is not the file; \
                 keep_partial / --keep-partial accepts what decodes)",
                    seconds(decoded_frames, rate)
                )))
            }
        };

    loop {
        let frames_so_far = channels.first().map_or(0, Vec::len);
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            Err(SymphoniaError::IoError(io)) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                damaged(
                    "file ends inside a packet (truncated)".to_owned(),
                    frames_so_far,
                    sample_rate,
                )?;
                break;
            }
            Err(SymphoniaError::ResetRequired) => {
                if !opts.keep_partial {
                    return Err(unsupported(
                        "the stream changes layout mid-file (chained stream); \
                         keep_partial / --keep-partial decodes the first part"
                            .to_owned(),
                    ));
                }
                tracing::warn!(file = %file_name, "stream changes layout mid-file (chained stream); decoding only the first part");
                break;
            }
            Err(SymphoniaError::DecodeError(msg)) if decoded_packets > 0 => {
                damaged(format!("demuxer error ({msg})"), frames_so_far, sample_rate)?;
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
                if decoded_packets > 0 {
                    damaged(
                        format!("a packet cannot be decoded ({msg})"),
                        frames_so_far,
                        sample_rate,
                    )?;
                }
                continue;
            }
            Err(SymphoniaError::IoError(e)) => {
                failed_packets += 1;
                if decoded_packets > 0 {
                    damaged(
                        format!("a packet cannot be read ({e})"),
                        frames_so_far,
                        sample_rate,
                    )?;
                }
                continue;
            }
            Err(e) => return Err(corrupt(format!("decoder failed: {e}"))),
        };
        if failed_packets > 0 && decoded_packets == 0 && !opts.keep_partial {
            // Audio after undecodable packets at the start: the start of the file is lost.
            return Err(corrupt(format!(
                "the first {failed_packets} packets cannot be decoded ({}); \
                 keep_partial / --keep-partial accepts what decodes",
                last_error.unwrap_or("I/O error")
            )));
        }
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
        crate::decode::check_length(&file_name, frames, spec.rate(), opts.max_seconds)?;
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
    let frames = channels.first().map_or(0, Vec::len);
    if let Some(declared) = declared_frames.and_then(|d| usize::try_from(d).ok()) {
        let exact = decoder.codec_info().short_name == "flac";
        if frames < declared.saturating_sub(length_slack(declared, exact)) {
            damaged(
                format!(
                    "the header declares {:.2} s of audio but the stream holds {:.2} s (truncated?)",
                    seconds(declared, Some(sample_rate)),
                    seconds(frames, Some(sample_rate))
                ),
                frames,
                Some(sample_rate),
            )?;
        }
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

/// How far short of its declared length a stream may end without being called truncated. FLAC's
/// STREAMINFO states the exact length, and its demuxer skips a damaged frame silently, so a
/// single lost frame must count. Lossy lengths are estimates: the MP3 demuxer guesses a file
/// without a Xing/VBRI tag from its bitrate, and encoder delay and padding are trimmed; four MP3
/// frames or 1 %, whichever is more.
fn length_slack(declared: usize, exact: bool) -> usize {
    if exact {
        0
    } else {
        (4 * 1152).max(declared / 100)
    }
}

fn seconds(frames: usize, rate: Option<u32>) -> f64 {
    frames as f64 / f64::from(rate.unwrap_or(0).max(1))
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
