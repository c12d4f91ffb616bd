#!/usr/bin/env python3
"""Write a small byte-level BPE vocabulary (vocab-only GGUF, no tensors) for
the fuzz corpus: the 256 GPT-2 byte tokens, merges that build a few English
words, control tokens and one user-defined token; pre-tokenizer llama-bpe.
`make fuzz` turns it into a model with `kllm make-model --vocab-from`.

usage: make_bpe_vocab.py OUT.gguf
"""
import struct
import sys


def byte_chars():
    out, extra = [], 0
    for b in range(256):
        if 0x21 <= b <= 0x7E or 0xA1 <= b <= 0xAC or b >= 0xAE:
            out.append(chr(b))
        else:
            out.append(chr(256 + extra))
            extra += 1
    return out


def gguf_str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def kv(key, vtype, payload):
    return gguf_str(key) + struct.pack("<I", vtype) + payload


def main():
    tokens = byte_chars()
    G = "\u0120"  # the code point of byte 0x20
    merges = []
    for word in ["the", G + "the", G + "a", "ing", G + "is", "er", G + "hello", G + "world"]:
        # left-to-right merges: w[0] w[1], w[0:2] w[2], ...
        for i in range(1, len(word)):
            left, right = word[:i], word[i]
            merges.append(left + " " + right)
            if left + right not in tokens:
                tokens.append(left + right)
    n_normal = len(tokens)
    special = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|im_start|>", "<|im_end|>"]
    tokens += special + ["<think>"]
    types = [1] * n_normal + [3] * len(special) + [4]
    bos = tokens.index("<|begin_of_text|>")
    eos = tokens.index("<|end_of_text|>")
    kvs = [
        kv("tokenizer.ggml.model", 8, gguf_str("gpt2")),
        kv("tokenizer.ggml.pre", 8, gguf_str("llama-bpe")),
        kv("tokenizer.ggml.tokens", 9,
           struct.pack("<IQ", 8, len(tokens)) + b"".join(gguf_str(t) for t in tokens)),
        kv("tokenizer.ggml.token_type", 9,
           struct.pack("<IQ", 5, len(types)) + struct.pack("<%di" % len(types), *types)),
        kv("tokenizer.ggml.merges", 9,
           struct.pack("<IQ", 8, len(merges)) + b"".join(gguf_str(m) for m in merges)),
        kv("tokenizer.ggml.bos_token_id", 4, struct.pack("<I", bos)),
        kv("tokenizer.ggml.eos_token_id", 4, struct.pack("<I", eos)),
        kv("tokenizer.ggml.add_bos_token", 7, b"\x01"),
    ]
    with open(sys.argv[1], "wb") as f:
        f.write(struct.pack("<4sIQQ", b"GGUF", 3, 0, len(kvs)))
        f.write(b"".join(kvs))


if __name__ == "__main__":
    main()
