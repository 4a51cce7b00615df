#!/usr/bin/python3
"""lock_alone.py BIN CONF MAILDIR SPOOLDIR - a delivery waiting for one
busy mailbox holds no other mailbox meanwhile.

A reader holds bob's mbox (dotlock and fcntl lock). Session S1 delivers
to alice and bob and waits for bob. While it waits (it holds bob's turn
in spool_dir/turns), a mail reader of alice's mbox takes and drops her
dotlock and fcntl lock again and again, each within a second, and
session S2, for alice alone, delivers at once. Once bob is free, S1
answers 250 with both copies in place, nothing in the spool.
Prints "ok - ..." / "not ok - ..." lines (9).
"""
import errno
import fcntl
import mailbox
import os
import subprocess
import sys
import time

BIN, CONF, MAILDIR, SPOOLDIR = sys.argv[1:5]


def result(good, what, detail=""):
    print(("ok - " if good else "not ok - ") + what)
    if not good and detail:
        print("   " + str(detail).replace("\n", "\n   ")[:2000])
    sys.stdout.flush()


def session(rcpts, subject):
    p = subprocess.Popen([BIN + "/smtp-session", "-c", CONF], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    p.stdin.write(b"EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\n" +
                  b"".join(b"RCPT TO:<%s@test.example>\r\n" % r.encode() for r in rcpts) +
                  b"DATA\r\nSubject: " + subject.encode() + b"\r\n\r\ntext\r\n.\r\nQUIT\r\n")
    p.stdin.close()
    return p


def final(p, timeout):
    """the reply to the end of data (its first nine characters)"""
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    got = [l for l in p.stdout.read().decode().split("\r\n")
           if l.startswith(("250 2.0.0", "4", "5"))]
    return got[0][:9] if got else "none"


def wait_for(cond, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False


def subjects(name):
    path = os.path.join(MAILDIR, name)
    return [m["Subject"] for m in mailbox.mbox(path)] if os.path.exists(path) else []


def turn_offset(name):
    """NAME's byte in spool_dir/turns: 62 bits of FNV-1a, as turnlock.c"""
    h = 0xcbf29ce484222325
    for c in name.encode():
        h = ((h ^ c) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h >> 2


def turn_taken(name):
    """whether a delivery holds NAME's turn (a test lock on its byte)"""
    try:
        fd = os.open(os.path.join(SPOOLDIR, "turns"), os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, turn_offset(name))
        return False
    except OSError as e:
        return e.errno in (errno.EAGAIN, errno.EACCES)
    finally:
        os.close(fd)


def read_locked(mbox, limit):
    """a mail reader's locks on MBOX (dotlock, then fcntl), each tried
    until LIMIT seconds have passed; whether both were had (then let go)"""
    end = time.time() + limit
    lock = mbox + ".lock"
    while True:
        try:
            os.close(os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            break
        except FileExistsError:
            if time.time() >= end:
                return False
            time.sleep(0.01)
    fd = os.open(mbox, os.O_RDWR)
    try:
        while True:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except OSError:
                if time.time() >= end:
                    return False
                time.sleep(0.01)
    finally:
        os.close(fd)
        os.unlink(lock)


bob = os.path.join(MAILDIR, "bob")
lock = os.open(bob + ".lock", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.close(lock)
hold = os.open(bob, os.O_RDWR)
fcntl.lockf(hold, fcntl.LOCK_EX)

s1 = session(["alice", "bob"], "first")
waiting = wait_for(lambda: turn_taken("bob"))
result(waiting, "S1 waits for bob, whom a reader holds (it holds his turn)")

# A reader of alice's mbox, 30 times over 3 s: never kept out.
tries = had = 0
end = time.time() + 3
while time.time() < end:
    tries += 1
    had += read_locked(os.path.join(MAILDIR, "alice"), 1.0)
    time.sleep(0.1)
result(tries >= 10 and had == tries,
       "a reader of alice's mbox gets its locks at once while S1 waits for bob",
       "%d of %d tries" % (had, tries))

s2 = session(["alice"], "second")
r2 = final(s2, 10)
result(r2 == "250 2.0.0", "S2, for alice alone, is answered 250 at once", r2)
result(subjects("alice") == ["old", "second"], "S2's copy is in alice's mbox at once",
       subjects("alice"))
result(s1.poll() is None and turn_taken("bob"), "S1 still waits for bob")

fcntl.lockf(hold, fcntl.LOCK_UN)
os.close(hold)
os.unlink(bob + ".lock")
r1 = final(s1, 20)
result(r1 == "250 2.0.0", "S1 is answered 250 once bob is free", r1)
result(subjects("alice") == ["old", "second", "first"], "alice holds S2's copy, then S1's",
       subjects("alice"))
result(subjects("bob") == ["old", "first"], "bob holds S1's copy", subjects("bob"))
envs = os.listdir(os.path.join(SPOOLDIR, "env")) if os.path.isdir(
    os.path.join(SPOOLDIR, "env")) else []
result(envs == [], "nothing waits in the spool: S1's copies went in together", envs)
