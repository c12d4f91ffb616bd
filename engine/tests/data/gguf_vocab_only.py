#!/usr/bin/env python3
"""Copy a GGUF file's header and metadata (key/value section) verbatim, with
no tensors: a vocabulary-only GGUF for tokenizer tests, a fraction of the size.

usage: gguf_vocab_only.py IN.gguf OUT.gguf
"""
import struct
import sys

FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def skip_value(buf, off, vtype):
    if vtype == 8:  # string: u64 length + bytes
        (n,) = struct.unpack_from("<Q", buf, off)
        return off + 8 + n
    if vtype == 9:  # array: u32 element type, u64 count, elements
        etype, n = struct.unpack_from("<IQ", buf, off)
        off += 12
        if etype in FIXED:
            return off + n * FIXED[etype]
        for _ in range(n):
            off = skip_value(buf, off, etype)
        return off
    return off + FIXED[vtype]


def main():
    src, dst = sys.argv[1], sys.argv[2]
    buf = open(src, "rb").read()
    magic, version, _n_tensors, n_kv = struct.unpack_from("<4sIQQ", buf, 0)
    if magic != b"GGUF":
        sys.exit(f"{src}: not a GGUF file")
    off = 24
    for _ in range(n_kv):
        off = skip_value(buf, off, 8)  # key
        (vtype,) = struct.unpack_from("<I", buf, off)
        off = skip_value(buf, off + 4, vtype)
    with open(dst, "wb") as f:
        f.write(struct.pack("<4sIQQ", magic, version, 0, n_kv))
        f.write(buf[24:off])


if __name__ == "__main__":
    main()
