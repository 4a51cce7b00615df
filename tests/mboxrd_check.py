#!/usr/bin/python3
"""mboxrd_check.py BIN CONF MBOX - mboxrd quoting of local delivery.

Sends messages whose bodies hold every kind of From-like line through
one piped smtp-session, then checks the raw mbox bytes: each ^>*From
line gained exactly one '>', every other line is unchanged, removing one
'>' from ^>+From lines gives back the body sent, every message ends with
an empty line, and python's mailbox.mbox counts the right number.
Prints "ok - ..." / "not ok - ..." lines.
"""
import mailbox
import random
import re
import subprocess
import sys

BIN, CONF, MBOX = sys.argv[1:4]

TRICKY = [
    "From x",
    ">From y",
    ">>From z",
    ">>>>>From deep",
    "From",
    "From:",
    "From: not a header here",
    "From  two spaces",
    "From ",
    ">From",
    ">>From",
    "From\tx",
    "from lower",
    "FROM upper",
    "Fromage",
    " From indented",
    "x From inside",
    ">",
    ">>",
    "> From spaced",
    ".From",
    "..From",
    ".",
    "..",
    "...",
    ". From",
    ".>From dot",
    "",
    "From x at the end? no, a line",
    "F",
    "Fr",
    ">Fro",
    "last line",
]


def big_body(seed):
    """many From-like lines of varied length, so that line starts fall on
    every offset of the 64 KiB buffers, including inside a '>*From ' prefix"""
    rnd = random.Random(seed)
    prefixes = ["From ", ">From ", ">>From ", ">>>From ", "From", ">Fro", "", "x", ".", ">"]
    lines = []
    size = 0
    i = 0
    while size < 400 * 1024:
        p = rnd.choice(prefixes)
        line = p + "%d " % i + "y" * rnd.randrange(0, 200)
        lines.append(line)
        size += len(line) + 1
        i += 1
    return lines


def prefix_body():
    """lines that are nothing but (part of) a '>*From ' prefix: every
    buffer boundary falls inside one"""
    cycle = [">>>>>>From ", ">>>From ", "From ", ">>>>>>>>>>", ">>>Fro", "From", ">From ",
             ">", "F", ">>From x"]
    return [cycle[i % len(cycle)] for i in range(60000)]


def quote(body):
    return re.sub(rb"(?m)^(>*From )", rb">\1", body)


def unquote(body):
    return re.sub(rb"(?m)^>(>*From )", rb"\1", body)


def stuff(lines):
    """SMTP text: CRLF line ends and dot-stuffing"""
    return "".join(("." + l if l.startswith(".") else l) + "\r\n" for l in lines)


# (sender, subject, body lines)
messages = [
    ("a@remote.example", "tricky", TRICKY),
    ("b@remote.example", "ends quoted", ["first", ">>From the end"]),
    ("c@remote.example", "ends with From", ["From the very end"]),
    ("d@remote.example", "big", big_body(1)),
    ("e@remote.example", "big2", big_body(2)),
    ("f@remote.example", "prefixes", prefix_body()),
]

dialogue = "EHLO client.example\r\n"
for sender, subject, lines in messages:
    dialogue += "MAIL FROM:<%s>\r\nRCPT TO:<carol@test.example>\r\nDATA\r\n" % sender
    dialogue += "Subject: %s\r\n\r\n" % subject
    dialogue += stuff(lines) + ".\r\n"
dialogue += "QUIT\r\n"

res = subprocess.run([BIN + "/smtp-session", "-c", CONF], input=dialogue.encode(),
                     stdout=subprocess.PIPE, timeout=120)
replies = [l for l in res.stdout.decode(errors="replace").split("\r\n") if l]
want = ["220", "250"] + ["250", "250", "354", "250"] * len(messages) + ["221"]
got = [l[:3] for l in replies if len(l) < 4 or l[3] != "-"]
failed = 0


def result(good, what, detail=""):
    global failed
    print(("ok - " if good else "not ok - ") + what)
    if not good:
        failed += 1
        if detail:
            print("   " + detail.replace("\n", "\n   ")[:3000])


result(res.returncode == 0 and got == want, "mboxrd: every message accepted (exit %d)" % res.returncode,
       "\n".join(replies))

raw = open(MBOX, "rb").read()
# The raw mbox: split at our separator lines, which are the only lines
# starting with "From " once quoting is right.
seps = [m.start() for m in re.finditer(rb"(?m)^From ", raw)]
result(len(seps) == len(messages), "mboxrd: exactly %d unquoted From lines in the raw mbox (got %d)"
       % (len(messages), len(seps)))
chunks = [raw[a:b] for a, b in zip(seps, seps[1:] + [len(raw)])]
result(raw.startswith(b"From ") and all(c.endswith(b"\n\n") for c in chunks),
       "mboxrd: every message ends with an empty line")
result(b"\r" not in raw, "mboxrd: LF line ends only")

for (sender, subject, lines), chunk in zip(messages, chunks):
    body = "".join(l + "\n" for l in lines).encode()
    head, sep, rest = chunk.partition(b"\n\n")   # our headers + Subject, then the body
    first = head.split(b"\n", 1)[0]
    result(re.fullmatch(rb"From " + re.escape(sender.encode()) +
                        rb" [A-Z][a-z]{2} [A-Z][a-z]{2} [ 1-3][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}",
                        first) is not None, "mboxrd %s: separator line" % subject, repr(first))
    result(head.endswith(b"\nSubject: " + subject.encode()), "mboxrd %s: headers intact" % subject,
           repr(head[-200:]))
    stored = rest[:-1]   # the final empty line is the mbox's, not the message's
    exp = quote(body)
    if stored == exp:
        result(True, "mboxrd %s: raw bytes have exactly one more '>' on ^>*From lines" % subject)
    else:
        sl, el = stored.split(b"\n"), exp.split(b"\n")
        diff = [(i, s, e) for i, (s, e) in enumerate(zip(sl, el)) if s != e][:5]
        result(False, "mboxrd %s: raw bytes have exactly one more '>' on ^>*From lines" % subject,
               "lines %d vs %d; first differences (line, stored, expected): %r" % (len(sl), len(el), diff))
    result(unquote(stored) == body, "mboxrd %s: un-quoting gives back the body sent" % subject)

box = mailbox.mbox(MBOX, create=False)
n = len(box.keys())
result(n == len(messages), "mboxrd: mailbox.mbox sees %d messages (got %d)" % (len(messages), n))
subjects = [m["subject"] for m in box]
result(subjects == [m[1] for m in messages], "mboxrd: mailbox.mbox subjects in order", repr(subjects))
sys.exit(0)
