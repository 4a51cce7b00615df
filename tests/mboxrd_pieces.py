#!/usr/bin/python3
"""mboxrd_pieces.py DRIVER DIR - mboxrd quoting across the reads of a
text in a file (tests/mboxrd-pieces.c runs mboxrd.c on it).

A text held in a file is quoted in IO_BUF_SIZE pieces, so the start of a
line (its '>' run and "From ") may straddle two reads, or more. Each text
below puts From-like lines across those boundaries at every split
position, followed by another From-like line, and the copy is compared
octet for octet with the quoting done line by line here; each text is
also quoted from memory (one piece). With --count, prints how many
"ok"/"not ok" lines a run prints, and nothing else.
"""
import os
import re
import subprocess
import sys

PIECE = 65536           # IO_BUF_SIZE (bounds.h)

# Line starts: a split after each of their octets is tried.
STARTS = ["From x", ">From y", ">>From z", ">>>From deep", "From", "From ",
          ">From", ">", ">>", "F", "Fro", "From:", "Fromage", ">Fromage",
          "From\tx", "FROM x", " From x", ">F>From x", "", ">>From "]
# What follows each: the line after must be quoted on its own merits.
AFTER = ["From after", "plain after", ">From after", "Fromage after", ""]


def quote(text):
    """The copy's text: ^>*From lines get one more '>'."""
    lines = text.split(b"\n")
    out = [b">" + ln if re.match(rb">*From ", ln) else ln for ln in lines]
    body = b"\n".join(out)
    return body + (b"\n" if not body.endswith(b"\n") else b"") + b"\n"


def filler(n):
    """N octets of ordinary lines (N >= 0), each ending in LF."""
    out = b""
    while n > 0:
        k = min(n, 72)
        out += b"y" * (k - 1) + b"\n" if k > 1 else b"\n"
        n -= k
    return out


def at_boundary(cases):
    """A text with each LINE starting SPLIT octets before a boundary."""
    text = b"Subject: pieces\n\n"
    k = 1
    for line, split in cases:
        start = k * PIECE - split
        if start < len(text):
            k += 1
            start = k * PIECE - split
        text += filler(start - len(text)) + line
        k += 1
    return text


def texts():
    """(name, text) of every case."""
    out = []
    cases = []
    n = 0
    for s in STARTS:
        line = s.encode()
        for split in range(0, len(line) + 2):
            cases.append((line + b"\n" + AFTER[n % len(AFTER)].encode() + b"\n", split))
            n += 1
    out.append(("every line start split at every octet", at_boundary(cases)))
    # A '>' run longer than two reads, then "From ", then a From line.
    out.append(("a '>' run across three reads",
                b"Subject: run\n\n" + b">" * (2 * PIECE + 100) + b"From x\nFrom y\nz\n"))
    # Texts that end inside a line start, the end in the next read.
    for end in [">>Fro", "From ", ">", "From", ">From", "From x"]:
        e = end.encode()
        head = b"Subject: end\n\n"
        out.append(("the text ends in '%s' across a read" % end,
                    head + filler(PIECE - len(head) - 2) + e))
    return out


def main():
    cases = texts()
    if sys.argv[1:2] == ["--count"]:
        print(2 * len(cases))
        return
    driver, tmp = sys.argv[1:3]
    for i, (name, text) in enumerate(cases):
        src = os.path.join(tmp, "text%d" % i)
        with open(src, "wb") as f:
            f.write(text)
        want = (b"From s@example.org Thu Jan  1 00:00:00 1970\nReturn-Path: <s@example.org>\n"
                b"Delivered-To: d@example.org\n" + quote(text))
        for mode in ("file", "mem"):
            mbox = os.path.join(tmp, "mbox%d.%s" % (i, mode))
            r = subprocess.run([driver, mode, src, mbox], capture_output=True, timeout=60)
            got = open(mbox, "rb").read() if os.path.exists(mbox) else b""
            if r.returncode == 0 and got == want:
                print("ok - %s (%s)" % (name, mode))
                continue
            print("not ok - %s (%s): exit %d %s" % (name, mode, r.returncode,
                                                     r.stderr.decode(errors="replace")))
            gl, wl = got.split(b"\n"), want.split(b"\n")
            for j in range(max(len(gl), len(wl))):
                g = gl[j] if j < len(gl) else None
                w = wl[j] if j < len(wl) else None
                if g != w:
                    print("#   line %d: got %r, want %r" % (j + 1, g and g[:80], w and w[:80]))
                    break
            sys.stdout.flush()


main()
