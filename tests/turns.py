#!/usr/bin/python3
"""turns.py MODE BIN CONF MAILDIR SPOOLDIR - our deliveries take turns on a
mailbox in the kernel (turnlock.c), and still interoperate with other
programs' dotlock + fcntl locking.

MODE:
  queue    a reader holds bob's mbox (dotlock and fcntl lock); session S1
           delivers to alice and bob: it waits for bob alone, holding
           his turn. Sessions S2 and S3, for bob only, must then wait for
           their turn blocked in fcntl(F_OFD_SETLKW), never sleeping
           between attempts; once the reader lets go, all three get 250,
           S1's copy first in bob's mbox.
  bound    this script holds alice's turn itself (a write lock on her byte
           of spool_dir/turns, the offset computed as turnlock.c does);
           a session for alice waits for it in fcntl, and after the 30 s
           lock wait answers 250 with alice's copy waiting in the spool.
  procmail four procmail deliveries (dotlock, then fcntl: procmail's
           own order) and four sessions, all at once, into alice's mbox:
           eight whole messages, none cut into another.
  lockfile procmail's lockfile(1) holds alice.lock; a session for alice
           waits, and delivers once the lock file is removed.

Prints "ok - ..." / "not ok - ..." lines.
"""
import fcntl
import mailbox
import os
import platform
import subprocess
import sys
import time

MODE, BIN, CONF, MAILDIR, SPOOLDIR = sys.argv[1:6]
ARCH = platform.machine()
FCNTL_NR = {"x86_64": "72", "aarch64": "25"}.get(ARCH)
SLEEP_NRS = {"x86_64": ("35", "230"), "aarch64": ("101", "115")}.get(ARCH, ())
F_OFD_SETLKW = "0x26"


def result(good, what, detail=""):
    print(("ok - " if good else "not ok - ") + what)
    if not good and detail:
        print("   " + str(detail).replace("\n", "\n   ")[:2000])
    sys.stdout.flush()


def dialogue(rcpts, subject, lines=20):
    return (b"EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\n" +
            b"".join(b"RCPT TO:<%s@test.example>\r\n" % r.encode() for r in rcpts) +
            b"DATA\r\nSubject: " + subject.encode() + b"\r\n\r\n" +
            b"".join(b"%s line %d\r\n" % (subject.encode(), i) for i in range(lines)) +
            b".\r\nQUIT\r\n")


def session(rcpts, subject, lines=20):
    p = subprocess.Popen([BIN + "/smtp-session", "-c", CONF], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    p.stdin.write(dialogue(rcpts, subject, lines))
    p.stdin.close()
    return p


def final(p, timeout=60):
    """the reply to the end of data (its first nine characters)"""
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    out = p.stdout.read()
    got = [l for l in out.decode().split("\r\n") if l.startswith(("250 2.0.0", "4", "5"))]
    return got[0][:9] if got else "none"


def syscall(p):
    """the syscall P is blocked in: (number, second argument), or None"""
    try:
        with open("/proc/%d/syscall" % p.pid) as f:
            w = f.read().split()
        return (w[0], w[2] if len(w) > 2 else "")
    except OSError:
        return None


def wait_for(cond, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False


def in_turn_wait(p):
    s = syscall(p)
    return s is not None and s[0] == FCNTL_NR and s[1] == F_OFD_SETLKW


def sleeping(p):
    s = syscall(p)
    return s is not None and s[0] in SLEEP_NRS


class Reader:
    """a mail reader holding MBOX the usual way: dotlock, then fcntl"""

    def __init__(self, mbox):
        self.lock = mbox + ".lock"
        fd = os.open(self.lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        self.fd = os.open(mbox, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.lockf(self.fd, fcntl.LOCK_EX)

    def release(self):
        fcntl.lockf(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        os.unlink(self.lock)


def subjects(name):
    path = os.path.join(MAILDIR, name)
    if not os.path.exists(path):
        return []
    return [m["Subject"] for m in mailbox.mbox(path)]


def turn_offset(name):
    """alice's byte in spool_dir/turns: 62 bits of FNV-1a, as turnlock.c"""
    h = 0xcbf29ce484222325
    for c in name.encode():
        h = ((h ^ c) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h >> 2


if FCNTL_NR is None:
    result(False, "%s: no fcntl syscall number known for %s" % (MODE, ARCH))
    sys.exit(0)

if MODE == "queue":
    reader = Reader(os.path.join(MAILDIR, "bob"))
    s1 = session(["alice", "bob"], "first")
    # S1 holds bob's turn and polls for his locks: it sleeps between attempts
    held = wait_for(lambda: sleeping(s1))
    result(held, "queue: S1 polls for bob, whom a reader holds")
    s2 = session(["bob"], "second")
    s3 = session(["bob"], "third")
    queued = wait_for(lambda: in_turn_wait(s2) and in_turn_wait(s3))
    result(queued, "queue: S2 and S3 wait for bob in the kernel (fcntl F_OFD_SETLKW)",
           "S2 %r, S3 %r" % (syscall(s2), syscall(s3)))
    polled = 0
    for _ in range(50):
        polled += sleeping(s2) + sleeping(s3)
        time.sleep(0.01)
    result(polled == 0, "queue: S2 and S3 never sleep between attempts while they wait",
           "seen sleeping %d times" % polled)
    reader.release()
    replies = [final(s1), final(s2), final(s3)]
    result(replies == ["250 2.0.0"] * 3, "queue: all three answered 250 once bob was free",
           replies)
    got = subjects("bob")
    result(len(got) == 3 and got[0] == "first" and sorted(got[1:]) == ["second", "third"],
           "queue: bob holds S1's copy first, then S2's and S3's", got)
    result(subjects("alice") == ["first"], "queue: alice holds S1's copy", subjects("alice"))

elif MODE == "bound":
    fd = os.open(os.path.join(SPOOLDIR, "turns"), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.lockf(fd, fcntl.LOCK_EX, 1, turn_offset("alice"))
    t0 = time.time()
    s = session(["alice"], "bounded")
    waited = wait_for(lambda: in_turn_wait(s))
    result(waited, "bound: the session waits for alice's turn in fcntl", syscall(s))
    reply = final(s, timeout=90)
    took = time.time() - t0
    result(reply == "250 2.0.0" and took >= 29,
           "bound: after the 30 s lock wait it answers 250", "%r after %.1f s" % (reply, took))
    os.close(fd)
    envdir = os.path.join(SPOOLDIR, "env")
    rcpts = [l for f in os.listdir(envdir) for l in open(os.path.join(envdir, f))
             if l.startswith("rcpt")]
    result(len(rcpts) == 1 and "alice" in rcpts[0],
           "bound: alice's copy waits in the spool, for her mailbox", rcpts)
    result(subjects("alice") == [], "bound: alice's mbox was not written", subjects("alice"))

elif MODE == "procmail":
    rc = os.path.join(MAILDIR, "..", "procmailrc")
    with open(rc, "w") as f:
        f.write("VERBOSE=off\nLOGFILE=%s/../procmail.log\n:0:\n%s\n" %
                (MAILDIR, os.path.join(MAILDIR, "alice")))
    procs = []
    for i in range(4):
        msg = (b"From p@remote.example Mon Jan  5 10:00:00 2026\n"
               b"From: p@remote.example\nSubject: procmail %d\n\n" % i +
               b"".join(b"procmail %d line %d\n" % (i, k) for k in range(3000)))
        p = subprocess.Popen(["procmail", "-m", rc], stdin=subprocess.PIPE)
        procs.append((p, msg))
        s = session(["alice"], "session %d" % i, 3000)
        procs.append((s, None))
    for p, msg in procs:
        if msg is not None:
            p.stdin.write(msg)
            p.stdin.close()
    codes = []
    for p, msg in procs:
        if msg is None:
            codes.append(final(p))
        else:
            p.wait(60)
            codes.append(p.returncode)
    result(codes == [0, "250 2.0.0"] * 4, "procmail: four procmail runs exit 0, four sessions 250",
           codes)
    box = mailbox.mbox(os.path.join(MAILDIR, "alice"))
    whole = 0
    for m in box:
        lines = m.get_payload().strip("\n").split("\n")
        whole += len(lines) == 3000 and all(l.startswith(m["Subject"] + " line ")
                                            for l in lines)
    result(len(box) == 8 and whole == 8, "procmail: eight messages, each whole",
           "%d messages, %d whole" % (len(box), whole))

elif MODE == "lockfile":
    lock = os.path.join(MAILDIR, "alice.lock")
    rc = subprocess.call(["lockfile", "-r", "0", lock])
    result(rc == 0 and os.path.exists(lock), "lockfile: lockfile(1) holds alice.lock")
    s = session(["alice"], "after lockfile")
    waiting = wait_for(lambda: sleeping(s))
    result(waiting, "lockfile: the session waits for it")
    time.sleep(0.3)
    result(subjects("alice") == [], "lockfile: nothing written while it is held")
    os.unlink(lock)
    reply = final(s)
    result(reply == "250 2.0.0" and subjects("alice") == ["after lockfile"],
           "lockfile: once removed, the message is delivered", "%r %r" % (reply, subjects("alice")))
