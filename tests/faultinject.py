#!/usr/bin/python3
"""faultinject.py BIN CONF FIDIR SHIM WORK SCENARIO CREATED RCPT... - fail each call.

FIDIR holds mail/ (mailbox_dir) and spool/ (spool_dir) of CONF; SHIM is
the LD_PRELOAD library built from tests/faultinject.c. One delivery of a
small message from <sender@remote.example> to the RCPTs is first made
without a fault, its file-system calls under FIDIR counted (trace in
WORK); then for N = 1..total the same delivery runs with call N failing
with EIO, each from the same starting state. CREATED names the mailboxes
(comma-separated, or "-" for none) that did not exist and that this
delivery must create with a copy in them. Every case must end in one of
two ways:

  4xx  every mbox byte-identical to before, spool env/ msg/ tmp/ empty,
       no NAME.lock (a file whose own unlink was the failed call may stay);
  250  every copy whole (the same text as the fault-free delivery), and
       the failed call one whose failure costs nothing (unlink, close,
       the pid written into a dotlock): an fsync, write or rename that
       failed must never be answered 250.

Then each write and fsync fails once more with ENOSPC: the reply must be
452 4.3.1.

How many calls a delivery makes is the program's business, not the
test's: the output is a fixed set of assertions (the fault-free
delivery; every call failing with EIO; every write and fsync failing with
ENOSPC; for each mailbox of CREATED, the fsync of mailbox_dir),
each failing call named on its own line under the one that failed.
Prints "ok - ..." / "not ok - ..." lines.
"""
import os
import re
import select
import subprocess
import sys
import time

BIN, CONF, FIDIR, SHIM, WORK, SCEN = sys.argv[1:7]
CREATED = [b for b in sys.argv[7].split(",") if b and b != "-"]
RCPTS = sys.argv[8:]
MAIL = os.path.join(FIDIR, "mail")
SPOOL = os.path.join(FIDIR, "spool")
TRACE = os.path.join(WORK, "fi.trace")
BODY = (b"From: sender@remote.example\r\nSubject: fault injection\r\n\r\n"
        b"first line\r\nFrom the middle, quoted\r\n..stuffed\r\nlast line\r\n")


def result(good, what, detail=""):
    print(("ok - " if good else "not ok - ") + SCEN + ": " + what)
    if not good and detail:
        print("   " + str(detail).replace("\n", "\n   ")[:6000])
    sys.stdout.flush()


def environ(fail, err):
    e = dict(os.environ)
    e.update(FI_DIR=FIDIR, FI_LOG=TRACE, LD_PRELOAD=SHIM, FI_ERRNO=err)
    e.pop("FI_FAIL", None)
    if fail:
        e["FI_FAIL"] = str(fail)
    if "asan" in BIN:
        # The shim is not the first library: tell ASan that is fine.
        e["ASAN_OPTIONS"] = ":".join(x for x in (e.get("ASAN_OPTIONS", ""),
                                                 "verify_asan_link_order=0") if x)
    return e


class Session:
    """one smtp-session on pipes, driven one command at a time"""

    def __init__(self, env):
        self.p = subprocess.Popen([BIN + "/smtp-session", "-c", CONF], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, env=env, bufsize=0)
        self.buf = b""

    def send(self, data):
        try:
            self.p.stdin.write(data)
        except BrokenPipeError:
            pass

    def reply(self, timeout=60):
        """the last line of the next reply, or [eof] / [timeout]"""
        end = time.time() + timeout
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                line = line.rstrip(b"\r").decode("latin-1")
                if len(line) < 4 or line[3] != "-":
                    return line
            left = end - time.time()
            if left <= 0:
                return "[timeout]"
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if r:
                chunk = os.read(self.p.stdout.fileno(), 65536)
                if not chunk:
                    return "[eof]"
                self.buf += chunk

    def close(self):
        try:
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        try:
            return self.p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            return "killed after 60 s"


def deliver(fail=0, err="EIO"):
    """one delivery; returns (replies before DATA, final reply, exit status)"""
    if os.path.exists(TRACE):
        os.unlink(TRACE)
    s = Session(environ(fail, err))
    early = [s.reply()]
    for cmd in [b"EHLO client.example", b"MAIL FROM:<sender@remote.example>"] + \
            [b"RCPT TO:<" + r.encode() + b">" for r in RCPTS]:
        s.send(cmd + b"\r\n")
        early.append(s.reply())
    s.send(b"DATA\r\n")
    final = s.reply()
    if final.startswith("354"):
        s.send(BODY + b".\r\n")
        final = s.reply()
    s.send(b"QUIT\r\n")
    s.reply()
    return early, final, s.close()


def snapshot():
    state = {}
    for top in (MAIL, SPOOL):
        for d, _, files in os.walk(top):
            for f in files:
                p = os.path.join(d, f)
                with open(p, "rb") as fh:
                    state[os.path.relpath(p, FIDIR)] = fh.read()
    return state


def restore(state):
    for top in (MAIL, SPOOL):
        for d, _, files in os.walk(top):
            for f in files:
                os.unlink(os.path.join(d, f))
    for rel, data in state.items():
        with open(os.path.join(FIDIR, rel), "wb") as fh:
            fh.write(data)


def read_trace():
    calls = []
    if os.path.exists(TRACE):
        with open(TRACE) as fh:
            for line in fh:
                f = line.rstrip("\n").split("\t")
                calls.append((int(f[0]), f[1], f[2], len(f) > 3 and f[3] == "FAIL"))
    return calls


ID = re.compile(r"[0-9A-F]{16,}")


def mask(data):
    t = data.decode("latin-1")
    t = ID.sub("ID", t)
    t = re.sub(r"(?m)^(From \S+) .*", r"\1 DATE", t)
    t = re.sub(r"(?m)^arrival \d+", "arrival TIME", t)
    t = re.sub(r"(?m)^(\s+)[A-Z][a-z]{2}, \d+ [A-Z][a-z]{2} \d{4} .*", r"\1DATE", t)
    return t


def short(path):
    return ID.sub("ID", os.path.relpath(path.split(" -> ")[0], FIDIR)) + \
        (" -> " + ID.sub("ID", os.path.relpath(path.split(" -> ")[1], FIDIR))
         if " -> " in path else "")


def spool_files(state, sub):
    return sorted(k for k in state if k.startswith("spool/" + sub + "/"))


def main():
    before = snapshot()
    early, final, rc = deliver()
    calls = read_trace()
    ref = snapshot()
    good = final.startswith("250 ") and rc == 0 and all(r.startswith(("220", "250")) for r in early)
    result(good, "without a fault the message is delivered (%d file-system calls)" % len(calls),
           "%s %s exit %s" % (early, final, rc))
    if not good or not calls:
        return
    boxes = sorted({k for k in set(before) | set(ref) if k.startswith("mail/")
                    and not k.endswith(".lock")})
    ref_new = {b: mask(ref.get(b, b"")[len(before.get(b, b"")):]) for b in boxes}
    ref_env = [mask(ref[k]) for k in spool_files(ref, "env")]
    ref_msg = [mask(ref[k]) for k in spool_files(ref, "msg")]
    restore(before)

    # Where the message becomes delivered: the last fsync before the
    # first call that only cleans up.
    commit = max(n for n, op, path, _ in calls if op == "fsync")
    later = [c for c in calls if c[0] > commit]

    def judge(n, op, path, err, final, rc, after):
        what = "call %d (%s %s) fails with %s" % (n, op, short(path), err)
        problems = []
        if rc != 0:
            problems.append("exit status %s" % rc)
        own = os.path.relpath(path, FIDIR) if op == "unlink" else None
        locks = [k for k in after if k.endswith(".lock") and k != own]
        # The staging file's name holds this run's queue id, not the
        # counting run's: a failed unlink of it may leave any one of them.
        tmp = [k for k in spool_files(after, "tmp")
               if k != own and not (own and own.startswith("spool/tmp/")
                                    and k.endswith(own[own.rfind("."):]))]
        if locks:
            problems.append("lock left: %s" % locks)
        if tmp:
            problems.append("tmp/ not empty: %s" % [short(os.path.join(FIDIR, k)) for k in tmp])
        if final[:1] == "4":
            for b in boxes:
                if after.get(b, b"") != before.get(b, b""):
                    problems.append("%s changed (%d -> %d octets)" % (
                        b, len(before.get(b, b"")), len(after.get(b, b""))))
            if spool_files(after, "env") or spool_files(after, "msg"):
                problems.append("spool not empty: %s" % (spool_files(after, "env") +
                                                        spool_files(after, "msg")))
            if n > commit:
                problems.append("a call after the commit point (%d) turned into a 4xx" % commit)
            outcome = "4xx, nothing delivered"
        elif final.startswith("250 "):
            benign = op in ("unlink", "close") or (op == "write" and path.endswith(".lock"))
            if not benign:
                problems.append("the failed %s was answered 250" % op)
            for b in boxes:
                old = before.get(b, b"")
                new = after.get(b, b"")
                if not new.startswith(old) or mask(new[len(old):]) != ref_new[b]:
                    problems.append("%s does not hold exactly one whole copy" % b)
            if [mask(after[k]) for k in spool_files(after, "env")] != ref_env or \
                    [mask(after[k]) for k in spool_files(after, "msg")] != ref_msg:
                problems.append("spool does not hold exactly the queued copy")
            outcome = "250, delivered whole"
        else:
            problems.append("reply %r: neither 4xx nor 250" % final)
            outcome = "a 4xx"
        shown = final if all(" " <= c <= "~" for c in final) else repr(final)
        return outcome, ("%s: %s (%s): %s" % (what, outcome, shown, "; ".join(problems))
                         if problems else None)

    outcomes, bad = [], []
    for n, op, path, _ in calls:
        early, final, rc = deliver(n, "EIO")
        failed = [c for c in read_trace() if c[3]]
        if failed and (failed[0][1], failed[0][0]) == (op, n):
            outcome, problem = judge(n, op, path, "EIO", final, rc, snapshot())
            outcomes.append(outcome)
            if problem:
                bad.append(problem)
        else:
            bad.append("call %d (%s %s): the same calls do not happen again; failed: %s" % (
                n, op, short(path), failed))
        restore(before)
    result(not bad, "each of the %d calls failing with EIO: 4xx and no trace, or 250 and every "
           "copy whole (%d and %d times)" % (len(calls), outcomes.count("4xx, nothing delivered"),
                                            outcomes.count("250, delivered whole")),
           "\n".join(bad))

    bad, tried = [], 0
    for n, op, path, _ in calls:
        if op not in ("write", "fsync") or path.endswith(".lock"):
            continue
        tried += 1
        early, final, rc = deliver(n, "ENOSPC")
        restore(before)
        if not final.startswith("452 4.3.1"):
            bad.append("call %d (%s %s) fails with ENOSPC: got %r" % (n, op, short(path), final))
    result(tried and not bad, "each of the %d writes and fsyncs failing with ENOSPC: 452 4.3.1"
           % tried, "\n".join(bad) or "no write or fsync to fail")

    print("# %s: commit point: call %d (%s %s); after it only %s" % (
        SCEN, commit, calls[commit - 1][1], short(calls[commit - 1][2]),
        ", ".join(sorted({c[1] for c in later})) or "nothing"))

    # A mailbox created by this delivery: its name must be durable too
    # (fsync of mailbox_dir) before 250, as the spool's renames are.
    # (the mailboxes this delivery must create come from the input,
    # CREATED, never from what happened: an mbox over quota is left
    # empty, its copy set aside for the spool, and holds nothing a crash
    # could lose, so it is not named there)
    created = ["mail/" + b for b in CREATED]
    for b in created:
        opened = [n for n, op, path, _ in calls if op == "open" and path == os.path.join(FIDIR, b)]
        dirsync = [n for n, op, path, _ in calls if op == "fsync" and path == MAIL]
        result(bool(opened) and any(d > opened[0] for d in dirsync),
               "%s created by this delivery: mailbox_dir fsynced before 250" % b,
               "calls on %s: %s; no fsync of %s follows (the new directory entry is "
               "not durable: a crash after 250 can lose the whole mbox)" % (
                   b, opened, os.path.relpath(MAIL, FIDIR)))


main()
