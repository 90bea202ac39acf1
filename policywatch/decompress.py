"""Content-Encoding decoded in bounded steps, so a compression bomb costs about the size cap.

Why not httpx's decoding: it inflates each network chunk whole, and 64 KB of gzip can inflate
to 64 MB before any size check sees a byte (a 1 MB bomb cost 150 MB with a 1 MB cap). Here
zlib's ``max_length`` bounds every step to ``STEP`` bytes of output, and the caller counts the
decoded bytes against its cap as they come.

Only gzip and deflate are asked for (``ACCEPT_ENCODING``) and decoded; a response in another
encoding (br, zstd) is refused rather than stored undecoded.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

__all__ = ["ACCEPT_ENCODING", "STEP", "Decoder", "DecodingError", "decoder_for"]

ACCEPT_ENCODING = "gzip, deflate"
STEP = 64 * 1024
_GZIP = 16 + zlib.MAX_WBITS


class DecodingError(ValueError):
    """The body is not valid in its declared encoding, or the encoding is not supported."""


class _Inflate:
    """One zlib stream (gzip or deflate), inflated at most ``STEP`` bytes at a time."""

    def __init__(self, wbits: int) -> None:
        self._wbits = wbits
        self._d = zlib.decompressobj(wbits)
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        while True:
            try:
                out = self._d.decompress(data, STEP)
            except zlib.error as exc:
                if self._wbits == zlib.MAX_WBITS and not self._started:  # raw deflate, no header
                    self._wbits, self._d = -zlib.MAX_WBITS, zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise DecodingError(str(exc)) from exc
            self._started = True
            if out:
                yield out
            data = self._d.unconsumed_tail
            if self._d.eof:
                data = self._next_member()
                if not data:
                    return
            elif not data and len(out) < STEP:  # a full step may leave output pending: go on
                return

    def _next_member(self) -> bytes:
        """gzip allows several members back to back; anything else after the end is ignored."""
        rest = self._d.unused_data
        if self._wbits != _GZIP or not rest.startswith(b"\x1f\x8b"):
            return b""
        self._d = zlib.decompressobj(_GZIP)
        return rest


class _Identity:
    def feed(self, data: bytes) -> Iterator[bytes]:
        if data:
            yield data


class Decoder:
    """The decoders of a ``Content-Encoding`` header, applied last-first."""

    def __init__(self, steps: Iterable[_Inflate | _Identity]) -> None:
        self._steps = list(steps)

    def feed(self, data: bytes) -> Iterator[bytes]:
        pieces: Iterable[bytes] = [data]
        for step in self._steps:
            pieces = _through(step, pieces)
        yield from pieces


def _through(step: _Inflate | _Identity, pieces: Iterable[bytes]) -> Iterator[bytes]:
    for piece in pieces:
        yield from step.feed(piece)


def decoder_for(content_encoding: str | None) -> Decoder:
    """A decoder for the header's encodings (``gzip``, ``deflate``, ``identity``, combined)."""
    steps: list[_Inflate | _Identity] = []
    names = [n.strip().lower() for n in (content_encoding or "").split(",") if n.strip()]
    for name in reversed(names):
        if name in ("gzip", "x-gzip"):
            steps.append(_Inflate(_GZIP))
        elif name == "deflate":
            steps.append(_Inflate(zlib.MAX_WBITS))
        elif name == "identity":
            steps.append(_Identity())
        else:
            raise DecodingError(
                f"unsupported Content-Encoding '{name}' (asked for gzip or deflate)"
            )
    return Decoder(steps or [_Identity()])
