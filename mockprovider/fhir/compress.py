"""gzip for answers whose request accepts it (``Accept-Encoding: gzip``), above a small threshold.

- A cached Bundle is compressed once: :class:`~mockprovider.fhir.render.Spliced` keeps the gzip of
  the bytes before and after the per-request value (Ssp-TraceID); a request compresses only that
  value (a few dozen bytes) and joins the three deflate pieces into one gzip member whose CRC-32 is
  combined arithmetically (:func:`crc32_combine`), so the answer is an ordinary single-member gzip
  with an exact Content-Length.
- A cached body (bytes built once, e.g. a CapabilityStatement) is compressed once and remembered.
- A streamed Binary is compressed as it streams (no Content-Length: chunked transfer-encoding).
Nothing here knows HTTP: the HTTP layer decides when to call it and sets the headers.
"""
from __future__ import annotations

import struct
import zlib

THRESHOLD = 1024              # bytes: smaller bodies go out as they are
CACHED_LEVEL = 9              # compressed once: spend the CPU
STREAM_LEVEL = 1              # compressed on every request as it streams: keep up with the socket
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"   # deflate, no name, mtime 0, OS unknown

# --- CRC-32 of a concatenation from the CRCs of its parts (zlib's crc32_combine, in GF(2)) ---------


def _times(matrix, vector: int) -> int:
    out, i = 0, 0
    while vector:
        if vector & 1:
            out ^= matrix[i]
        vector >>= 1
        i += 1
    return out


def _compose(a, b):
    """The operator a after b."""
    return [_times(a, column) for column in b]


def crc32_shift(length: int) -> list[int]:
    """The operator M with crc32(X + Y) == apply(M, crc32(X)) ^ crc32(Y) for every Y of ``length`` bytes."""
    one_bit = [0xEDB88320] + [1 << n for n in range(31)]
    op = one_bit
    for _ in range(3):                     # 1 -> 2 -> 4 -> 8 bits: one zero byte
        op = _compose(op, op)
    result = [1 << n for n in range(32)]   # identity
    while length:
        if length & 1:
            result = _compose(op, result)
        length >>= 1
        if length:
            op = _compose(op, op)
    return result


def crc32_combine(crc1: int, crc2: int, shift: list[int]) -> int:
    return _times(shift, crc1) ^ crc2


# --- pieces --------------------------------------------------------------------------------------------
def deflate(data: bytes, final: bool, level: int = CACHED_LEVEL) -> bytes:
    """Raw deflate of ``data``; not final: ends byte-aligned (sync flush) so more blocks may follow."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(zlib.Z_FINISH if final else zlib.Z_SYNC_FLUSH)


class SplicedGzip:
    """The gzip of head + value + tail for any value, with head and tail compressed once."""

    __slots__ = ("_head", "_head_crc", "_head_len", "_tail", "_tail_crc", "_tail_len", "_shift")

    def __init__(self, head: bytes, tail: bytes):
        self._head, self._head_crc, self._head_len = deflate(head, False), zlib.crc32(head), len(head)
        self._tail, self._tail_crc, self._tail_len = deflate(tail, True), zlib.crc32(tail), len(tail)
        self._shift = crc32_shift(len(tail))

    def pieces(self, value: bytes) -> tuple[tuple[bytes, ...], int]:
        """(the gzip as pieces to write in turn, its length) for this value."""
        crc = crc32_combine(zlib.crc32(value, self._head_crc), self._tail_crc, self._shift)
        trailer = struct.pack("<II", crc, (self._head_len + len(value) + self._tail_len) & 0xFFFFFFFF)
        pieces = (GZIP_HEADER, self._head, deflate(value, False, 1), self._tail, trailer)
        length = sum(map(len, pieces))
        if length < 256 * 1024:          # small: one write beats five
            return (b"".join(pieces),), length
        return pieces, length


def gzip_bytes(data: bytes, level: int = CACHED_LEVEL) -> bytes:
    return zlib.compress(data, level=level, wbits=31)


def gzip_stream(pieces, level: int = STREAM_LEVEL):
    """Compress an iterator of bytes as it is consumed (closing it when done)."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    try:
        for piece in pieces:
            out = compressor.compress(piece)
            if out:
                yield out
        yield compressor.flush()
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
