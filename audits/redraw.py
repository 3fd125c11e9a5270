"""Re-draws one stratum of a csc-audit sample without csc-audit, from the method written in
its manifest ("rng"): for an inspector who wants to check the draw by other means.

    python3 audits/redraw.py SEED "STRATUM NAME" N n

prints the positions (0-based, in the stratum's cases sorted by case_id, byte order) of the
n cases drawn, in selection order. Needs `pip install cryptography` (for ChaCha20).
"""
import hashlib
import struct
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms


def words(seed, stratum):
    """The stratum's stream as 64-bit words (two little-endian 32-bit words, low first)."""
    key = hashlib.sha256(
        b"csc-audit/sample/v1\0" + str(seed).encode() + b"\0" + stratum.encode()
    ).digest()
    enc = Cipher(algorithms.ChaCha20(key, b"\0" * 16), mode=None).encryptor()
    while True:
        for lo, hi in struct.iter_unpack("<II", enc.update(b"\0" * 4096)):
            yield lo | (hi << 32)


def below(stream, n):
    """Lemire's unbiased integer in 0..n."""
    threshold = (-n) % (1 << 64) % n
    while True:
        m = next(stream) * n
        if m & ((1 << 64) - 1) >= threshold:
            return m >> 64


def select(seed, stratum, big_n, n):
    stream = words(seed, stratum)
    perm = list(range(big_n))
    for i in range(min(n, big_n)):
        j = i + below(stream, big_n - i)
        perm[i], perm[j] = perm[j], perm[i]
    return perm[: min(n, big_n)]


if __name__ == "__main__":
    seed, stratum, big_n, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    print(" ".join(str(p) for p in select(seed, stratum, big_n, n)))
