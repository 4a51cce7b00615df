#!/usr/bin/python3
"""adversarial.py MODE BIN T [ARG] - careless clients that need a socket,
timing or many sessions (the malformed commands, the limits and the
pipelined garbage are golden dialogues in tests/dialogues).

The configuration is T/conf (tests/lib.sh write_conf: test.example, users
alice bob carol, mailbox_dir T/mail, spool_dir T/spool); T/conf.slow has
"timeout 2s".

MODE:
  early     (ARG: a port) a client that sends its whole dialogue before
            the greeting, over a real socket (3 assertions)
  cuts      the input closed at every octet of a full dialogue (11)
  drip      one octet every 10 ms (3)
Prints "ok - ..." / "not ok - ..." lines.
"""
import os
import re
import select
import socket
import subprocess
import sys
import threading
import time

MODE, BIN, T = sys.argv[1:4]
ARG = sys.argv[4] if len(sys.argv) > 4 else ""
SESSION = BIN + "/smtp-session"
MAIL = os.path.join(T, "mail")
SPOOL = os.path.join(T, "spool")

GREETING = "220 mx.test.example ESMTP ready"
EHLO = ("250-mx.test.example\n250-PIPELINING\n250-SIZE 26214400\n250-8BITMIME\n"
        "250 ENHANCEDSTATUSCODES")
MAIL_OK = "250 2.1.0 Ok"
RCPT_OK = "250 2.1.5 Ok"
BYE = "221 2.0.0 Bye"
DATA_GO = "354 End data with <CR><LF>.<CR><LF>"
QUEUED = "250 2.0.0 Ok: queued as ID"


def result(good, what, detail=""):
    print(("ok - " if good else "not ok - ") + what)
    if not good and detail:
        print("   " + str(detail).replace("\n", "\n   ")[:3000])
    sys.stdout.flush()


def replies(out):
    """the replies in OUT, a multi-line reply joined with newlines"""
    res, cur = [], []
    for line in out.decode("latin-1").replace("\r", "").split("\n"):
        if line == "":
            continue
        cur.append(line)
        if len(line) < 4 or line[3] != "-":
            res.append("\n".join(cur))
            cur = []
    if cur:
        res.append("\n".join(cur))
    return res


def mask(s):
    s = re.sub(r"queued as [0-9A-Z]+", "queued as ID", s)
    return s


def run(data, conf="conf", timeout=60):
    """pipe DATA into one session; (replies, exit status, raw output)"""
    p = subprocess.run([SESSION, "-c", os.path.join(T, conf)], input=data,
                       stdout=subprocess.PIPE, timeout=timeout)
    return [mask(r) for r in replies(p.stdout)], p.returncode, p.stdout


def snapshot():
    state = {}
    for top in (MAIL, SPOOL):
        for d, _, files in os.walk(top):
            for f in files:
                p = os.path.join(d, f)
                with open(p, "rb") as fh:
                    state[os.path.relpath(p, T)] = fh.read()
    return state


def restore(state):
    for top in (MAIL, SPOOL):
        for d, _, files in os.walk(top):
            for f in files:
                os.unlink(os.path.join(d, f))
    for rel, data in state.items():
        with open(os.path.join(T, rel), "wb") as fh:
            fh.write(data)


def check_one_message(box, subject, body_lines, what, old=b""):
    """BOX holds OLD then exactly one message with SUBJECT and BODY_LINES"""
    try:
        data = open(os.path.join(MAIL, box), "rb").read()
    except OSError as e:
        result(False, what, e)
        return
    if not data.startswith(old):
        result(False, what, "the old content changed")
        return
    text = data[len(old):].decode("latin-1")
    msgs = re.split(r"(?m)^From \S+ \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\n", text)
    good = len(msgs) == 2 and msgs[0] == ""
    if good:
        head, _, body = msgs[1].partition("\n\n")
        good = ("\nSubject: %s\n" % subject) in ("\n" + head + "\n") and \
            body == "".join(l + "\n" for l in body_lines) + "\n"
    result(good, what, text[-1500:])


FULL = (b"EHLO client.example\r\nMAIL FROM:<sender@remote.example>\r\n"
        b"RCPT TO:<alice@test.example>\r\nRCPT TO:<friend@far.example>\r\nDATA\r\n"
        b"Subject: whole\r\nFrom: sender@remote.example\r\n\r\nline one\r\n"
        b"..dot\r\nline three\r\n.\r\nQUIT\r\n")
FULL_REPLIES = [GREETING, EHLO, MAIL_OK, RCPT_OK, RCPT_OK, DATA_GO, QUEUED, BYE]


def early():
    port = int(ARG)
    before = snapshot()
    s = socket.create_connection(("127.0.0.1", port), 10)
    s.sendall(FULL)             # before the greeting, all of it
    s.settimeout(30)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        out += b"[timeout]"
    s.close()
    got = [mask(r) for r in replies(out)]
    result(got == FULL_REPLIES, "a client that sends before the greeting is served normally (socket)",
           "got: %r" % got)
    check_one_message("alice", "whole", ["line one", ".dot", "line three"],
                      "sent before the greeting: one whole copy for alice",
                      before.get("mail/alice", b""))
    result(len(os.listdir(os.path.join(SPOOL, "env"))) == 1,
           "sent before the greeting: one copy spooled for friend@far.example")
    restore(before)


def cuts():
    before = snapshot()
    end = FULL.index(b"\r\n.\r\n") + 5      # after the final ".\r\n"
    named = {
        0: "right after the greeting (nothing sent)",
        FULL.index(b"EHLO") + 2: "in the middle of the EHLO line",
        FULL.index(b"RCPT"): "after MAIL",
        FULL.index(b"DATA"): "after RCPT",
        FULL.index(b"Subject"): "after DATA",
        FULL.index(b"Subject") + 5: "in the middle of a header",
        FULL.index(b"line one") + 4: "in the middle of the body",
        end - 3: "just before the final .CRLF",
        end - 1: "after the final .CR, no LF",
        end: "right after the final .CRLF (the message is accepted)",
    }
    failures = []
    for k in range(len(FULL) + 1):
        got, rc, _ = run(FULL[:k])
        after = snapshot()
        problems = []
        if rc != 0:
            problems.append("exit %s" % rc)
        n = len(got)
        if got != FULL_REPLIES[:n]:
            problems.append("replies %r" % got)
        delivered = k >= end
        if not delivered:
            if after != before:
                problems.append("traces left: %s" % sorted(set(after) ^ set(before) |
                                                           {f for f in after if after[f] != before.get(f)}))
            if k > FULL.index(b"DATA") + 6 and QUEUED in got:
                problems.append("250 without the end of data")
        else:
            new = {f for f in after if f not in before}
            alice_new = after.get("mail/alice", b"")[len(before.get("mail/alice", b"")):]
            if not after.get("mail/alice", b"").startswith(before.get("mail/alice", b"")) or \
                    alice_new.count(b"\nFrom ") + alice_new.startswith(b"From ") != 1 or \
                    b"\nline three\n\n" not in alice_new:
                problems.append("alice does not hold exactly one new copy")
            if len([f for f in new if f.startswith("spool/env/")]) != 1 or \
                    len([f for f in new if f.startswith("spool/msg/")]) != 1 or \
                    [f for f in new if f.startswith("spool/tmp/") or f.endswith(".lock")]:
                problems.append("spool: %s" % sorted(new))
            if QUEUED not in got:
                problems.append("no 250 after the end of data")
        if k in named:
            result(not problems, "input closed %s (after %d octets): %s, exit 0" % (
                named[k], k, "delivered once" if delivered else "no trace in mbox or spool"),
                "; ".join(problems))
        elif problems:
            failures.append("%d: %s" % (k, "; ".join(problems)))
        restore(before)
    result(not failures, "input closed at every one of the %d octet positions: no trace before "
           "the final .CRLF, one copy after it, exit 0" % (len(FULL) + 1), "\n".join(failures))


def drip():
    before = snapshot()
    p = subprocess.Popen([SESSION, "-c", os.path.join(T, "conf.slow")], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, bufsize=0)
    t0 = time.time()

    def feed():
        try:
            for i in range(len(FULL)):
                p.stdin.write(FULL[i:i + 1])
                time.sleep(0.01)
            p.stdin.close()
        except BrokenPipeError:
            pass
    th = threading.Thread(target=feed, daemon=True)
    th.start()
    out = b""
    end = time.time() + 60
    while time.time() < end:
        r, _, _ = select.select([p.stdout], [], [], end - time.time())
        if not r:
            break
        chunk = os.read(p.stdout.fileno(), 65536)
        if not chunk:
            break
        out += chunk
    try:
        rc = p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = "killed"
    took = time.time() - t0
    got = [mask(r) for r in replies(out)]
    result(got == FULL_REPLIES and rc == 0,
           "one octet every 10 ms (%d octets in %.1f s, timeout 2s): served normally, exit 0" % (
               len(FULL), took), "exit %s, got %r" % (rc, got))
    check_one_message("alice", "whole", ["line one", ".dot", "line three"],
                      "slow drip: one whole copy for alice", before.get("mail/alice", b""))
    result(len(os.listdir(os.path.join(SPOOL, "env"))) == 1, "slow drip: one copy spooled")
    restore(before)


{"early": early, "cuts": cuts, "drip": drip}[MODE]()
