//! Audio facts read from the container, without decoding any audio.
//!
//! [`duration_ms`] opens the bytes with symphonia's format readers (MP4/M4A,
//! Ogg, MP3, Matroska/WebM and WAV are compiled in) and takes the length
//! from, in order:
//! 1. the container's duration: MP4 `mvhd` (honours the edit list, so AAC
//!    priming is not counted), Matroska/WebM segment `Duration`, and for
//!    single-track formats the track's length (Ogg: the last granule
//!    position on the codec's clock, 48 kHz for Opus; MP3: the Xing/Info or
//!    VBRI frame count less encoder delay and padding, else symphonia's
//!    frame scan; WAV: the data size);
//! 2. the first audio track's duration in its time base;
//! 3. that track's frame count over its sample rate;
//! 4. failing all three, a scan of the packet headers (demuxing only, no
//!    decoding): the end of the last packet less the start of the first.
//!    This is what a browser MediaRecorder WebM needs: it is written live
//!    and carries no segment `Duration`.
//!
//! Ogg Opus needs one correction: symphonia's Ogg length is the last granule
//! position, which counts the Opus pre-skip (the `OpusHead` samples a decoder
//! drops, 312 at 48 kHz from libopus), so the pre-skip is taken off 1 and 2.
//!
//! [`is_audio_only`] tells whether a video-looking container (MP4, WebM,
//! QuickTime) holds audio tracks and nothing else, e.g. a voice note from
//! MediaRecorder, so the caller can reclassify it as audio.
//!
//! Malformed input yields an [`AudioError`]; as a second line of defence
//! every call into symphonia runs under `catch_unwind`, so a panic inside the
//! library on a hostile file becomes [`AudioError::Unreadable`] too (this
//! relies on the binary being built with `panic = "unwind"`, the default).

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use symphonia::core::codecs::CodecParameters;
use symphonia::core::codecs::audio::well_known::CODEC_ID_OPUS;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatInfo, FormatOptions, FormatReader, Track};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::units::{Duration, TimeBase};

/// Why no duration could be read from some audio bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AudioError {
    /// The bytes are not a container symphonia can open, or hold no audio
    /// track; the string says why.
    #[error("unreadable audio: {0}")]
    Unreadable(String),
    /// The container opened and has an audio track, but neither its headers
    /// nor its packets give a (non-zero) length.
    #[error("audio has no readable duration")]
    NoDuration,
}

/// The length in milliseconds of the first audio track in `bytes` (a whole
/// file), read from the container; see the module docs for the order of
/// sources tried.
///
/// # Errors
/// [`AudioError::Unreadable`] when the bytes are not a supported container
/// or hold no audio track; [`AudioError::NoDuration`] when nothing gives a
/// length.
pub fn duration_ms(bytes: &[u8]) -> Result<u64, AudioError> {
    guarded(|| {
        let mut reader = open(bytes)?;
        let track = reader
            .tracks()
            .iter()
            .find(|t| matches!(t.codec_params, Some(CodecParameters::Audio(_))))
            .cloned()
            .ok_or_else(|| AudioError::Unreadable("no audio track".to_owned()))?;
        let media = reader.media_info();
        let skip = opus_pre_skip(reader.format_info(), &track);
        let from_headers = played_ms(media.time_base, media.duration, skip)
            .or_else(|| played_ms(track.time_base, track.duration, skip))
            .or_else(|| from_frames(&track))
            .filter(|&ms| ms > 0);
        match from_headers {
            Some(ms) => Ok(ms),
            None => scan_packets(reader.as_mut(), &track),
        }
    })
}

/// Whether `bytes` (a whole file) is a container holding at least one audio
/// track and no other track (no video, subtitle or unknown track).
///
/// `false` when the bytes cannot be opened, so a caller that reclassifies
/// video as audio on `true` errs on the side of leaving it video.
#[must_use]
pub fn is_audio_only(bytes: &[u8]) -> bool {
    guarded(|| {
        let reader = open(bytes)?;
        let tracks = reader.tracks();
        Ok(!tracks.is_empty()
            && tracks
                .iter()
                .all(|t| matches!(t.codec_params, Some(CodecParameters::Audio(_)))))
    })
    .unwrap_or(false)
}

/// Runs `f`, turning a panic inside symphonia into an error.
fn guarded<T>(f: impl FnOnce() -> Result<T, AudioError>) -> Result<T, AudioError> {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(AudioError::Unreadable("malformed container".to_owned())))
}

/// Probes the container of `bytes` and opens a format reader on it.
fn open(bytes: &[u8]) -> Result<Box<dyn FormatReader + '_>, AudioError> {
    let mss = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
    symphonia::default::get_probe()
        .probe(
            &Hint::new(),
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| AudioError::Unreadable(e.to_string()))
}

/// Playable frames over the sample rate, when the reader knows both.
fn from_frames(track: &Track) -> Option<u64> {
    let Some(CodecParameters::Audio(params)) = &track.codec_params else {
        return None;
    };
    let rate = u128::from(params.sample_rate.filter(|&r| r > 0)?);
    let frames = u128::from(track.num_frames?);
    u64::try_from(frames * 1000 / rate).ok()
}

/// The Opus pre-skip of an Ogg Opus track (in 48 kHz samples, the track's
/// time base), which symphonia counts in the Ogg length; 0 for the rest.
fn opus_pre_skip(format: &FormatInfo, track: &Track) -> u64 {
    let opus = matches!(&track.codec_params,
        Some(CodecParameters::Audio(a)) if a.codec == CODEC_ID_OPUS);
    if format.short_name == "ogg" && opus {
        track.delay.map_or(0, u64::from)
    } else {
        0
    }
}

/// `duration` less `skip`, both in `time_base` units, as milliseconds.
fn played_ms(time_base: Option<TimeBase>, duration: Option<Duration>, skip: u64) -> Option<u64> {
    to_ms(
        time_base,
        Some(Duration::new(duration?.get().saturating_sub(skip))),
    )
}

/// A duration in `time_base` units as milliseconds.
fn to_ms(time_base: Option<TimeBase>, duration: Option<Duration>) -> Option<u64> {
    let time = time_base?.calc_duration(duration?)?;
    u64::try_from(time.as_nanos() / 1_000_000).ok()
}

/// Demuxes every packet of `track` (no decoding) and measures from the start
/// of the first to the end of the last. A read error after some packets is
/// taken as the end of a truncated or live-written file.
fn scan_packets(reader: &mut dyn FormatReader, track: &Track) -> Result<u64, AudioError> {
    let time_base = track.time_base.ok_or(AudioError::NoDuration)?;
    let mut span: Option<(i64, i64)> = None;
    while let Ok(Some(packet)) = reader.next_packet() {
        if packet.track_id != track.id {
            continue;
        }
        let start = packet.pts.get();
        let dur = i64::try_from(packet.dur.get()).unwrap_or(i64::MAX);
        let end = start.saturating_add(dur);
        span = Some(span.map_or((start, end), |(s, e)| (s.min(start), e.max(end))));
    }
    let (start, end) = span.ok_or(AudioError::NoDuration)?;
    let ticks = u64::try_from(end.saturating_sub(start)).map_err(|_| AudioError::NoDuration)?;
    to_ms(Some(time_base), Some(Duration::new(ticks)))
        .filter(|&ms| ms > 0)
        .ok_or(AudioError::NoDuration)
}

#[cfg(test)]
mod tests {
    use super::*;

    const M4A: &[u8] = include_bytes!("../../tests/fixtures/media/tone.m4a");
    const OPUS: &[u8] = include_bytes!("../../tests/fixtures/media/tone.opus.ogg");
    const MP3: &[u8] = include_bytes!("../../tests/fixtures/media/tone.mp3");
    const WEBM: &[u8] = include_bytes!("../../tests/fixtures/media/voice.webm");
    const WEBM_LIVE: &[u8] = include_bytes!("../../tests/fixtures/media/voice-live.webm");
    const WAV: &[u8] = include_bytes!("../../tests/fixtures/media/tone.wav");
    const MP4: &[u8] = include_bytes!("../../tests/fixtures/media/clip.mp4");
    const WEBM_VIDEO: &[u8] = include_bytes!("../../tests/fixtures/media/clip.webm");

    /// Every audio fixture is a 2 s tone.
    fn assert_about_2s(name: &str, bytes: &[u8]) {
        let ms = duration_ms(bytes);
        assert!(
            matches!(ms, Ok(ms) if ms.abs_diff(2000) <= 150),
            "{name}: {ms:?}"
        );
    }

    #[test]
    fn m4a_aac_duration() {
        assert_about_2s("m4a", M4A);
    }

    #[test]
    fn ogg_opus_duration() {
        assert_about_2s("ogg opus", OPUS);
        // 2 s at 48 kHz; the 312-sample pre-skip is not counted.
        assert_eq!(duration_ms(OPUS), Ok(2000));
    }

    #[test]
    fn mp3_duration() {
        assert_about_2s("mp3", MP3);
    }

    #[test]
    fn webm_opus_duration() {
        assert_about_2s("webm", WEBM);
    }

    #[test]
    fn live_webm_without_segment_duration_falls_back_to_packets() {
        assert_about_2s("live webm", WEBM_LIVE);
    }

    #[test]
    fn wav_duration() {
        assert_about_2s("wav", WAV);
    }

    #[test]
    fn video_without_audio_track_is_unreadable() {
        assert!(matches!(duration_ms(MP4), Err(AudioError::Unreadable(_))));
    }

    #[test]
    fn garbage_and_empty_are_errors() {
        assert!(duration_ms(b"").is_err());
        assert!(duration_ms(b"definitely not audio, just some text").is_err());
        assert!(duration_ms(&[0xFF; 64]).is_err());
    }

    #[test]
    fn truncated_files_never_panic() {
        for bytes in [M4A, OPUS, MP3, WEBM, WEBM_LIVE, WAV, MP4, WEBM_VIDEO] {
            for cut in (0..bytes.len()).step_by(97) {
                let head = bytes.get(..cut).unwrap_or_default();
                let _ = duration_ms(head);
                let _ = is_audio_only(head);
            }
        }
    }

    #[test]
    fn audio_only_containers() {
        assert!(is_audio_only(WEBM));
        assert!(is_audio_only(WEBM_LIVE));
        assert!(is_audio_only(M4A));
        assert!(!is_audio_only(WEBM_VIDEO));
        assert!(!is_audio_only(MP4));
        assert!(!is_audio_only(b"garbage"));
    }
}
