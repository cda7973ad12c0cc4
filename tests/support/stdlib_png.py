"""PNG files made with the Python standard library alone, for the Python harnesses (the contract run's hooks,
the instruction-count driver), which run under different interpreters and so share no installed package."""

import struct
import zlib


def rgb_png(width, height, pixel):
    """An 8-bit RGB PNG, width x height, whose pixel (x, y) is `pixel(x, y)`, an (r, g, b) triple of 0-255."""
    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
