#!/usr/bin/env python3
"""Decodes a PNG (8-bit RGB/RGBA, as chromium --screenshot writes) with zlib only and
prints "WIDTH HEIGHT DISTINCT_COLOURS" and, for each #RRGGBB given, how many pixels lie
within a small distance of it:  png_check.py FILE [#rrggbb ...]"""
import struct
import sys
import zlib


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit("not a PNG")
    pos, idat, width = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or colour not in (2, 6) or interlace:
                sys.exit("unsupported PNG format (depth %d colour %d interlace %d)" % (depth, colour, interlace))
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return width, height, bpp, rows


def main():
    width, height, bpp, rows = decode(sys.argv[1])
    counts = {}
    for line in rows:
        for x in range(0, len(line), bpp):
            key = bytes(line[x:x + 3])
            counts[key] = counts.get(key, 0) + 1
    out = [str(width), str(height), str(len(counts))]
    for want in sys.argv[2:]:
        rgb = bytes.fromhex(want.lstrip("#"))
        out.append(str(sum(n for k, n in counts.items() if max(abs(k[i] - rgb[i]) for i in range(3)) <= 12)))
    print(" ".join(out))


if __name__ == "__main__":
    main()
