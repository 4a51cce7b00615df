#!/usr/bin/python3
"""dialogue.py - the escapes of the golden dialogue files (tests/README).

  dialogue.py send FILE     the octets a NAME.in file stands for, on stdout
  dialogue.py show [--crlf] stdin written as golden text, on stdout

send: each line of FILE is sent followed by CRLF, after these escapes are
decoded:
    \\r CR    \\n LF    \\t TAB    \\0 NUL    \\xHH the octet HH    \\\\ a backslash
    \\{N*TEXT}   TEXT (escapes allowed, no "}") N times: \\{20000*a}
    \\c          at the end of a line: no CRLF after it
A line starting with "#" is a comment and is not sent. Every other octet
is sent as it is (UTF-8 too).

show: the reverse, for replies and mailboxes: a backslash, CR, NUL and
every other control octet but TAB and LF are written with the escapes
above, and a run of more than 64 equal octets as \\{N*C}. With --crlf
(replies), CRLF is first taken as a line end.
"""
import re
import sys

SIMPLE = {b"r": b"\r", b"n": b"\n", b"t": b"\t", b"0": b"\0", b"\\": b"\\"}
TOKEN = re.compile(rb"\\x([0-9a-fA-F]{2})|\\\{(\d+)\*((?:[^}\\]|\\.)*)\}|\\(.)|([^\\]+)", re.S)
RUN = 64


def decode(text, where):
    """(octets, whether a CRLF follows) for TEXT, its escapes decoded"""
    out, pos, eol = [], 0, True
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.group(4) not in (None, *SIMPLE, b"c") or \
                m.group(4) == b"c" and m.end() != len(text):
            sys.exit("%s: bad escape at %r" % (where, text[pos:pos + 20]))
        if m.group(1):
            out.append(bytes([int(m.group(1), 16)]))
        elif m.group(2):
            out.append(decode(m.group(3), where)[0] * int(m.group(2)))
        elif m.group(4) == b"c":
            eol = False
        elif m.group(4):
            out.append(SIMPLE[m.group(4)])
        else:
            out.append(m.group(5))
        pos = m.end()
    return b"".join(out), eol


def send(path):
    out = sys.stdout.buffer
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for n, line in enumerate(lines, 1):
        if not line.startswith(b"#"):
            data, eol = decode(line, "%s:%d" % (path, n))
            out.write(data + b"\r\n" if eol else data)


def show(crlf):
    data = sys.stdin.buffer.read()
    if crlf:
        data = data.replace(b"\r\n", b"\n")
    out = []
    for m in re.finditer(rb"(.)\1{%d,}|." % RUN, data, re.S):
        c = m.group()[:1]
        if c == b"\\":
            s = b"\\\\"
        elif c == b"\r":
            s = b"\\r"
        elif c == b"\0":
            s = b"\\0"
        elif c in (b"\t", b"\n") or c[0] >= 0x20 and c[0] != 0x7f:
            s = c
        else:
            s = b"\\x%02x" % c[0]
        out.append(s if len(m.group()) == 1 else b"\\{%d*%s}" % (len(m.group()), s))
    sys.stdout.buffer.write(b"".join(out))


if len(sys.argv) == 3 and sys.argv[1] == "send":
    send(sys.argv[2])
elif sys.argv[1:] in (["show"], ["show", "--crlf"]):
    show(len(sys.argv) == 3)
else:
    sys.exit(__doc__)
