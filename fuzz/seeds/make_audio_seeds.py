"""Writes the WAV-family seeds of the `audio` fuzz target into seeds/audio/ (each under 2 KB).

One small file per header shape the reader handles: RIFF, RIFX, RF64, BW64, Wave64; PCM 8-32,
12-in-16, 20-in-24, float, A-law, mu-law (20-byte fmt), extensible; sizes left unset by a
streaming writer; and one unsupported codec. FLAC/MP3/Ogg seeds come from tests/fixtures/audio
(fuzz/run.sh copies them). Run from this folder: python3 make_audio_seeds.py
"""

import math
import struct
from pathlib import Path

OUT = Path(__file__).parent / "audio"
W64_TAIL = bytes([0xF3, 0xAC, 0xD3, 0x11, 0x8C, 0xD1, 0x00, 0xC0, 0x4F, 0x8E, 0xDB, 0x8A])
W64_RIFF = b"riff" + bytes([0x2E, 0x91, 0xCF, 0x11, 0xA5, 0xD6, 0x28, 0xDB, 0x04, 0xC1, 0, 0])
KS_TAIL = bytes([0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71])


def fmt(tag, channels, rate, block_align, bits, extra=b"", e="<"):
    return struct.pack(e + "HHIIHH", tag, channels, rate, rate * block_align, block_align, bits) + extra


def extensible(sub, channels, rate, container_bits, valid_bits):
    ba = channels * container_bits // 8
    ext = struct.pack("<HHI", 22, valid_bits, (1 << channels) - 1) + struct.pack("<I", sub) + KS_TAIL
    return fmt(0xFFFE, channels, rate, ba, container_bits, ext)


def chunk(cid, body, size=None, e="<"):
    size = len(body) if size is None else size
    return cid + struct.pack(e + "I", size) + body + (b"\0" if len(body) % 2 else b"")


def riff(chunks, magic=b"RIFF", size=None, e="<"):
    body = b"WAVE" + b"".join(chunks)
    return magic + struct.pack(e + "I", len(body) if size is None else size) + body


def tone(n, channels=1, amp=0.5):
    return [amp * math.sin(2 * math.pi * 440 * i / 8000 + c) for i in range(n) for c in range(channels)]


def pcm16(xs, e="<"):
    return struct.pack(e + "%dh" % len(xs), *(int(x * 32767) for x in xs))


def w64_chunk(cid, body, size=None):
    size = 24 + len(body) if size is None else size
    b = cid + W64_TAIL + struct.pack("<Q", size) + body
    return b + b"\0" * (-len(b) % 8)


def w64(chunks):
    body = b"".join(chunks)
    return W64_RIFF + struct.pack("<Q", 40 + len(body)) + b"wave" + W64_TAIL + body


def rf64(magic, fmt_body, data, table=()):
    entries = b"".join(cid + struct.pack("<Q", size) for cid, size in table)
    ds64 = struct.pack("<QQQI", 0, len(data), 0, len(table)) + entries
    chunks = [chunk(b"ds64", ds64), chunk(b"fmt ", fmt_body), chunk(b"data", data, 0xFFFFFFFF)]
    body = riff(chunks, magic, 0xFFFFFFFF)
    riff_size = len(body) - 8
    return body[:20] + struct.pack("<Q", riff_size) + body[28:]


def main():
    OUT.mkdir(exist_ok=True)
    s = tone(200)
    st = tone(150, 2)
    seeds = {
        "pcm16_16k.wav": riff([chunk(b"fmt ", fmt(1, 1, 16000, 2, 16)), chunk(b"data", pcm16(s))]),
        "pcm16_stereo_44k.wav": riff([chunk(b"fmt ", fmt(1, 2, 44100, 4, 16)), chunk(b"data", pcm16(st))]),
        "u8_8k.wav": riff([chunk(b"fmt ", fmt(1, 1, 8000, 1, 8)), chunk(b"data", bytes(int(128 + 100 * x) for x in s))]),
        "streamed_sizes_0.wav": riff([chunk(b"fmt ", fmt(1, 1, 16000, 2, 16)), chunk(b"data", b"", 0)], size=36) + pcm16(s),
        "streamed_sizes_ffff.wav": riff(
            [chunk(b"LIST", b"INFOISFT\x06\0\0\0ffmpeg"), chunk(b"fmt ", fmt(1, 1, 16000, 2, 16)), chunk(b"data", pcm16(s), 0xFFFFFFFF)],
            size=0xFFFFFFFF,
        ),
        "pcm12_in_16.wav": riff([chunk(b"fmt ", fmt(1, 2, 8000, 4, 12)), chunk(b"data", pcm16(st))]),
        "pcm20_in_24.wav": riff(
            [chunk(b"fmt ", fmt(1, 1, 48000, 3, 20)), chunk(b"data", b"".join(struct.pack("<i", int(x * 2**19) << 4)[:3] for x in s))]
        ),
        "pcm32_ext.wav": riff([chunk(b"fmt ", extensible(1, 1, 22050, 32, 24)), chunk(b"data", struct.pack("<%di" % len(s), *(int(x * 2**31) for x in s)))]),
        "float32.wav": riff([chunk(b"fmt ", fmt(3, 1, 16000, 4, 32, b"\0\0")), chunk(b"fact", struct.pack("<I", 200)), chunk(b"data", struct.pack("<%df" % len(s), *s))]),
        "mulaw_fmt20.wav": riff([chunk(b"fmt ", fmt(7, 1, 8000, 1, 8, b"\x02\0\x01\0")), chunk(b"data", bytes(range(256)))]),
        "alaw_ext.wav": riff([chunk(b"fmt ", extensible(6, 1, 8000, 8, 8)), chunk(b"data", bytes(range(255, -1, -1)))]),
        "ima_adpcm.wav": riff([chunk(b"fmt ", fmt(0x11, 1, 8000, 256, 4, b"\x02\0\xf9\x01")), chunk(b"data", bytes(256))]),
        "rifx_pcm16.wav": riff([chunk(b"fmt ", fmt(1, 2, 11025, 4, 16, e=">"), e=">"), chunk(b"data", pcm16(st, ">"), e=">")], b"RIFX", e=">"),
        "rifx_float64.wav": riff(
            [chunk(b"fmt ", fmt(3, 1, 8000, 8, 64, e=">"), e=">"), chunk(b"data", struct.pack(">%dd" % len(s), *s), e=">")], b"RIFX", e=">"
        ),
        "rf64_pcm16.wav": rf64(b"RF64", fmt(1, 2, 48000, 4, 16), pcm16(st), [(b"LIST", 12)]),
        "bw64_pcm24.wav": rf64(b"BW64", extensible(1, 1, 16000, 24, 24), b"".join(struct.pack("<i", int(x * 2**23))[:3] for x in s)),
        "w64_pcm16.w64": w64([w64_chunk(b"fmt ", fmt(1, 2, 32000, 4, 16)), w64_chunk(b"data", pcm16(st))]),
        "w64_data_size_0.w64": w64([w64_chunk(b"fmt ", fmt(3, 1, 16000, 4, 32)), w64_chunk(b"data", b"", 0)]) + struct.pack("<%df" % len(s), *s),
    }
    for name, data in seeds.items():
        assert len(data) < 2048, name
        (OUT / name).write_bytes(data)
    print(f"wrote {len(seeds)} seeds to {OUT}")


if __name__ == "__main__":
    main()
