#!/usr/bin/env python3
"""Writes the variable-length training data of examples/classify_lengths.rnn
and examples/tag_lengths.rnn (docs/training.md, "Examples of different
lengths").  Synthetic, generated here (no outside source; the project's
licence): deterministic, the same files every time.

  python3 examples/data/make_lengths.py

reviews.txt  one review a line, LABEL<TAB>WORDS: 'pos' when it has more
             words from the good list than from the bad, else 'neg'
             (never a tie); 2 to 40 words, among neutral ones.
tagged.txt   one sentence a line, TAGS<TAB>WORDS, from a small grammar;
             'saw', 'run', 'watch' and 'fly' are nouns after a determiner
             or adjective and verbs after a noun, so a word's tag depends
             on the words before it.
reverse_*.npy  an encoder-decoder's data, lengths on both sides
             (examples/reverse_lengths.rnn): digit strings of 1 to 7
             digits (src [7, N], src_len [N]) and the same reversed,
             the decoder's input BOS (10) then the reversed digits
             (tgt_in [8, N], tgt_in_len [N] = src_len + 1) and its
             target the reversed digits then EOS (11) (tgt_out [8, N]);
             int32, time-major, 0 at the padded steps.
"""
import os
import struct

class Lcg:
    """Knuth's MMIX LCG, the top 31 bits: no dependence on Python's random."""
    def __init__(self, seed):
        self.s = seed
    def below(self, n):
        self.s = (self.s * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        return (self.s >> 33) % n

HERE = os.path.dirname(os.path.abspath(__file__))
GOOD = ["good", "great", "fine", "superb", "lovely", "fun"]
BAD = ["bad", "awful", "dull", "poor", "boring", "weak"]
NEUTRAL = ["the", "film", "plot", "was", "and", "a", "cast", "it", "very", "music", "ending", "quite"]

def reviews(r, n):
    lines = []
    for _ in range(n):
        length = 2 + r.below(39)
        while True:
            words = []
            for _ in range(length):
                k = r.below(10)
                words.append(GOOD[r.below(6)] if k < 2 else BAD[r.below(6)] if k < 4 else NEUTRAL[r.below(12)])
            g = sum(w in GOOD for w in words)
            b = sum(w in BAD for w in words)
            if g != b:
                break
        lines.append(("pos" if g > b else "neg") + "\t" + " ".join(words))
    return lines

DET = ["the", "a", "every", "my"]
ADJ = ["big", "old", "red", "quick"]
NOUN = ["dog", "cat", "bird", "man", "child"]
VERB = ["sees", "likes", "finds", "chases"]
AMBIG = ["saw", "run", "watch", "fly"]  # noun after DET/ADJ, verb after a noun

def noun_phrase(r, out):
    out.append((DET[r.below(4)], "DET"))
    for _ in range(r.below(3)):
        out.append((ADJ[r.below(4)], "ADJ"))
    out.append((AMBIG[r.below(4)] if r.below(3) == 0 else NOUN[r.below(5)], "NOUN"))

def sentence(r):
    out = []
    noun_phrase(r, out)
    for _ in range(1 + r.below(3)):
        out.append((AMBIG[r.below(4)] if r.below(2) == 0 else VERB[r.below(4)], "VERB"))
        noun_phrase(r, out)
    return out

def tagged(r, n):
    lines = []
    for _ in range(n):
        s = sentence(r)
        lines.append(" ".join(t for _, t in s) + "\t" + " ".join(w for w, _ in s))
    return lines

def write(name, lines):
    with open(os.path.join(HERE, name), "w") as f:
        f.write("\n".join(lines) + "\n")

def write_npy(name, shape, values):
    """An int32 .npy array (C order) of the row-major values."""
    header = "{'descr': '<i4', 'fortran_order': False, 'shape': (%s), }" % (
        "".join("%d, " % d for d in shape) if len(shape) == 1 else ", ".join("%d" % d for d in shape))
    header += " " * (63 - (10 + len(header)) % 64) + "\n"  # the data starts at a multiple of 64
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%di" % len(values), *values))

def reverse(r, n, tmax=7):
    src = [[r.below(10) for _ in range(r.below(tmax) + 1)] for _ in range(n)]
    tin = [[10] + s[::-1] for s in src]
    tout = [s[::-1] + [11] for s in src]
    def padded(seqs, T):  # [T, N], time-major
        return [seqs[b][t] if t < len(seqs[b]) else 0 for t in range(T) for b in range(n)]
    write_npy("reverse_src.npy", (tmax, n), padded(src, tmax))
    write_npy("reverse_src_len.npy", (n,), [len(s) for s in src])
    write_npy("reverse_tgt_in.npy", (tmax + 1, n), padded(tin, tmax + 1))
    write_npy("reverse_tgt_in_len.npy", (n,), [len(s) for s in tin])
    write_npy("reverse_tgt_out.npy", (tmax + 1, n), padded(tout, tmax + 1))

write("reviews.txt", reviews(Lcg(1), 480))
write("tagged.txt", tagged(Lcg(2), 480))
reverse(Lcg(3), 600)
