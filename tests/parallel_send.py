#!/usr/bin/python3
"""parallel_send.py PORT MAILDIR [CLIENTS MESSAGES] - concurrent delivery.

CLIENTS threads each open one SMTP connection to 127.0.0.1:PORT and send
MESSAGES messages over it. Every message goes to alice; the messages of
odd-numbered clients also go to bob (RCPT bob first), so two mailboxes
are locked together while other sessions want one of them. Each message
has a unique Message-ID and body lines naming it; sizes vary from a few
lines to about 150 KiB.

Then checks MAILDIR/alice and MAILDIR/bob: the exact number of messages,
each intact (its Message-ID once, its body lines all present, in order
and contiguous, nothing else in between), every message ending with an
empty line, python's mailbox.mbox agreeing on the count, and no .lock
left. Prints "ok - ..." / "not ok - ..." lines.
"""
import mailbox
import os
import re
import smtplib
import sys
import threading
import time

PORT = int(sys.argv[1])
MAILDIR = sys.argv[2]
CLIENTS = int(sys.argv[3]) if len(sys.argv) > 3 else 20
MESSAGES = int(sys.argv[4]) if len(sys.argv) > 4 else 25
DEADLINE = time.time() + 150   # the whole run, whatever happens


def nlines(c, m):
    """body length: mostly short, now and then long"""
    k = (c * 31 + m * 7) % 25
    return 3000 if k == 0 else (600 if k < 3 else 5 + k)


def body_lines(c, m):
    tag = "c%02dm%02d" % (c, m)
    return ["%s line %04d %s" % (tag, i, "z" * ((i * 13) % 40)) for i in range(nlines(c, m))]


def message(c, m):
    tag = "c%02dm%02d" % (c, m)
    head = ("From: client%02d@remote.example\r\n"
            "To: alice@test.example\r\n"
            "Subject: parallel %s\r\n"
            "Message-ID: <%s@parallel.example>\r\n\r\n" % (c, tag, tag))
    return head + "".join(l + "\r\n" for l in body_lines(c, m))


errors = []
lock = threading.Lock()


def client(c):
    try:
        s = smtplib.SMTP("127.0.0.1", PORT, timeout=60)
        s.ehlo("client%02d.example" % c)
        for m in range(MESSAGES):
            if time.time() > DEADLINE:
                raise RuntimeError("out of time")
            rcpts = ["alice@test.example"]
            if c % 2:
                rcpts = ["bob@other.example", "alice@test.example"]
            try:
                refused = s.sendmail("client%02d@remote.example" % c, rcpts, message(c, m))
                if refused:
                    raise RuntimeError("refused %r" % refused)
            except smtplib.SMTPException as e:
                with lock:
                    errors.append("client %d message %d: %r" % (c, m, e))
                if isinstance(e, smtplib.SMTPServerDisconnected):
                    return
        s.quit()
    except Exception as e:   # noqa: BLE001 - any failure is reported
        with lock:
            errors.append("client %d: %r" % (c, e))


threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(CLIENTS)]
t0 = time.time()
for t in threads:
    t.start()
for t in threads:
    t.join(max(0.1, DEADLINE - time.time()))
alive = sum(t.is_alive() for t in threads)
took = time.time() - t0
failed = 0


def result(good, what, detail=""):
    global failed
    print(("ok - " if good else "not ok - ") + what)
    if not good:
        failed += 1
        if detail:
            print("   " + detail.replace("\n", "\n   ")[:3000])


result(alive == 0, "parallel: all %d clients finished (%.1f s)" % (CLIENTS, took),
       "%d still running" % alive)
result(not errors, "parallel: every message got 250 (%d errors)" % len(errors), "\n".join(errors[:10]))


def check_box(name, expected):
    """expected: the set of (c, m) that must be in mailbox NAME exactly once"""
    path = os.path.join(MAILDIR, name)
    try:
        raw = open(path, "rb").read()
    except OSError as e:
        result(False, "parallel %s: mailbox readable" % name, repr(e))
        return
    seps = [m.start() for m in re.finditer(rb"(?m)^From ", raw)]
    result(len(seps) == len(expected), "parallel %s: exactly %d messages (got %d)"
           % (name, len(expected), len(seps)))
    chunks = [raw[a:b] for a, b in zip(seps, seps[1:] + [len(raw)])]
    result(raw.startswith(b"From ") and all(ch.endswith(b"\n\n") for ch in chunks),
           "parallel %s: every message starts with From and ends with an empty line" % name)
    seen = {}
    bad = []
    for ch in chunks:
        ids = re.findall(rb"(?m)^Message-ID: <c(\d\d)m(\d\d)@parallel\.example>$", ch)
        if len(ids) != 1:
            bad.append("a message with %d Message-IDs: %r" % (len(ids), ch[:300]))
            continue
        c, m = int(ids[0][0]), int(ids[0][1])
        seen[(c, m)] = seen.get((c, m), 0) + 1
        head, sep, rest = ch.partition(b"\n\n")
        want = "".join(l + "\n" for l in body_lines(c, m)).encode() + b"\n"
        if not sep or rest != want:
            bad.append("c%02dm%02d: body differs (%d octets, want %d)" % (c, m, len(rest), len(want)))
        if not head.endswith(b"\nMessage-ID: <c%02dm%02d@parallel.example>" % (c, m)):
            bad.append("c%02dm%02d: header differs: %r" % (c, m, head[-300:]))
    result(not bad, "parallel %s: every message intact, nothing interleaved" % name, "\n".join(bad[:10]))
    dups = [k for k, v in seen.items() if v != 1]
    missing = sorted(expected - set(seen))
    extra = sorted(set(seen) - expected)
    result(not dups and not missing and not extra,
           "parallel %s: each expected Message-ID exactly once" % name,
           "duplicated %r missing %r unexpected %r" % (dups[:10], missing[:10], extra[:10]))
    n = len(mailbox.mbox(path, create=False).keys())
    result(n == len(expected), "parallel %s: mailbox.mbox counts %d (got %d)" % (name, len(expected), n))


check_box("alice", {(c, m) for c in range(CLIENTS) for m in range(MESSAGES)})
check_box("bob", {(c, m) for c in range(CLIENTS) if c % 2 for m in range(MESSAGES)})
locks = [f for f in os.listdir(MAILDIR) if f.endswith(".lock")]
result(not locks, "parallel: no .lock file left", repr(locks))
sys.exit(0)
