"""Compression bombs for tests and the fault benchmark: small on the wire, huge inflated.

Built in a fraction of a second: after a full flush, deflate encodes each further MB of zeros
with the same bytes, so the middle is repeated rather than compressed; the trailers (CRC-32,
Adler-32, size) are computed as a real encoder would write them.
"""

from __future__ import annotations

import struct
import zlib
from functools import cache

_MB = bytes(1 << 20)


@cache
def inflating(megabytes: int, wrapper: str = "gzip") -> bytes:
    """About 1 MB that inflates to ``megabytes`` MB of zeros: a gzip member (``"gzip"``), a
    zlib stream (``"deflate"``, also a PDF's FlateDecode) or raw deflate (``"raw"``)."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    first = squeeze.compress(_MB) + squeeze.flush(zlib.Z_FULL_FLUSH)
    again = squeeze.compress(_MB) + squeeze.flush(zlib.Z_FULL_FLUSH)
    blocks = first + again * (megabytes - 1) + squeeze.flush()
    if wrapper == "raw":
        return blocks
    crc, adler = 0, 1
    for _ in range(megabytes):
        crc, adler = zlib.crc32(_MB, crc), zlib.adler32(_MB, adler)
    if wrapper == "gzip":
        size = (megabytes << 20) & 0xFFFFFFFF
        return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + blocks + struct.pack("<II", crc, size)
    return b"\x78\xda" + blocks + struct.pack(">I", adler)


def pdf_bomb(megabytes: int) -> bytes:
    """A one-page PDF whose content stream inflates to ``megabytes`` MB."""
    stream = inflating(megabytes, "deflate")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
