#!/usr/bin/python3
"""faults.py MODE BIN CONF MAILDIR SPOOLDIR - one smtp-session under a fault.

smtp-session runs on pipes (subprocess), so its PID is known exactly.
The message goes to alice@test.example and friend@far.example (one
local copy, one spool copy).

MODE:
  kill-data      send part of the text, wait until the staging file in
                 SPOOLDIR/tmp (named, or unnamed: found among the
                 session's descriptors) holds at least 128 KiB of it,
                 SIGKILL the session.
  kill-lockwait  hold an fcntl lock on MAILDIR/alice, send the whole
                 message, wait until the session sleeps between lock
                 attempts, SIGKILL it, release.
  wait-fcntl     hold an fcntl lock on MAILDIR/alice; once the session
                 waits for it, append a message of our own (as a mail
                 reader would) and release: the session must then answer
                 250 and append after our message.
  wait-dotlock   the same with a fresh MAILDIR/alice.lock dotlock (no
                 fcntl lock), removed after appending our message.
  stale-dotlock  an alice.lock 11 minutes old: removed, delivery at once.

Prints "ok - ..." / "not ok - ..." lines. For the wait modes it prints
the text it appended as "OWN <path>" and the reply time on stdout too.
"""
import fcntl
import glob
import os
import platform
import signal
import subprocess
import sys
import time

MODE, BIN, CONF, MAILDIR, SPOOLDIR = sys.argv[1:6]
MBOX = os.path.join(MAILDIR, "alice")
LOCK = MBOX + ".lock"
SLEEP_SYSCALLS = {"x86_64": ("35", "230"), "aarch64": ("101", "115")}.get(platform.machine(), ())


def result(good, what, detail=""):
    print(("ok - " if good else "not ok - ") + what)
    if not good and detail:
        print("   " + str(detail).replace("\n", "\n   ")[:2000])
    sys.stdout.flush()


class Session:
    def __init__(self):
        self.p = subprocess.Popen([BIN + "/smtp-session", "-c", CONF], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, bufsize=0)
        self.buf = b""
        os.set_blocking(self.p.stdout.fileno(), False)

    def send(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def reply(self, timeout=20):
        """the next final reply line, or '[timeout]' / '[eof]'"""
        end = time.time() + timeout
        while True:
            while b"\r\n" in self.buf:
                line, self.buf = self.buf.split(b"\r\n", 1)
                line = line.decode(errors="replace")
                if len(line) < 4 or line[3] != "-":
                    return line
            if time.time() > end:
                return "[timeout]"
            try:
                d = os.read(self.p.stdout.fileno(), 65536)
            except BlockingIOError:
                time.sleep(0.01)
                continue
            if not d:
                return "[eof]"
            self.buf += d

    def drain(self):
        """whatever the session has written so far, without waiting"""
        try:
            while True:
                d = os.read(self.p.stdout.fileno(), 65536)
                if not d:
                    break
                self.buf += d
        except BlockingIOError:
            pass
        return self.buf

    def start(self):
        """greeting, EHLO, MAIL, two RCPT, DATA: True when all went as expected"""
        got = [self.reply()]
        self.send(b"EHLO client.example\r\nMAIL FROM:<sender@remote.example>\r\n"
                  b"RCPT TO:<alice@test.example>\r\nRCPT TO:<friend@far.example>\r\nDATA\r\n")
        got += [self.reply() for _ in range(5)]
        want = ["220", "250", "250", "250", "250", "354"]
        good = [g[:3] for g in got] == want
        result(good, "%s: session reached DATA" % MODE, "\n".join(got))
        return good

    def staged(self):
        """the sizes of the files in SPOOLDIR/tmp the session holds open"""
        sizes = []
        fds = "/proc/%d/fd" % self.p.pid
        try:
            for f in os.listdir(fds):
                try:
                    if os.readlink(os.path.join(fds, f)).startswith(SPOOLDIR + "/tmp/"):
                        sizes.append(os.stat(os.path.join(fds, f)).st_size)
                except OSError:
                    pass
        except OSError:
            pass
        return sizes

    def sleeping(self):
        """the session is in nanosleep (between lock attempts)"""
        try:
            with open("/proc/%d/syscall" % self.p.pid) as f:
                return f.read().split()[0] in SLEEP_SYSCALLS
        except OSError:
            return False

    def wait_sleeping(self, timeout=20):
        end = time.time() + timeout
        n = 0
        while time.time() < end:
            # several sightings in a row: not a passing moment
            n = n + 1 if self.sleeping() else 0
            if n >= 3:
                return True
            time.sleep(0.005)
        return False

    def kill(self):
        self.p.kill()   # SIGKILL, this PID only
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            pass
        result(self.p.returncode == -signal.SIGKILL, "%s: smtp-session died of SIGKILL" % MODE,
               "returncode %r" % self.p.returncode)

    def finish(self):
        try:
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        try:
            self.p.wait(20)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def body(n):
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\r\n"
    return b"Subject: fault " + MODE.encode() + b"\r\n\r\n" + line * n


def own_message():
    return (b"From reader@test.example Mon Jan  5 10:00:00 2026\n"
            b"Subject: written by another holder of the lock\n\n"
            b"own text\n>From quoted by the reader\n\n")


if not SLEEP_SYSCALLS and MODE in ("kill-lockwait", "wait-fcntl", "wait-dotlock"):
    result(False, "%s: no nanosleep syscall number known for %s" % (MODE, platform.machine()))
    sys.exit(0)

s = Session()
try:
    if MODE == "kill-data":
        if s.start():
            s.send(body(1000))   # about 72 KiB
            s.send(body(3000))   # about 216 KiB more, no final dot
            end = time.time() + 20
            staged = 0
            while time.time() < end:
                staged = max([os.path.getsize(f) for f in glob.glob(SPOOLDIR + "/tmp/*.msg")] +
                             s.staged() + [0])
                if staged >= 128 * 1024:
                    break
                time.sleep(0.01)
            result(staged >= 128 * 1024, "kill-data: the staging file grew to %d octets" % staged)
        s.kill()

    elif MODE == "kill-lockwait":
        fd = os.open(MBOX, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.lockf(fd, fcntl.LOCK_EX)
        if s.start():
            s.send(body(200) + b".\r\n")
            result(s.wait_sleeping(), "kill-lockwait: the session waits for the mailbox lock")
        s.kill()
        os.close(fd)

    elif MODE in ("wait-fcntl", "wait-dotlock"):
        if MODE == "wait-fcntl":
            fd = os.open(MBOX, os.O_RDWR | os.O_APPEND)
            fcntl.lockf(fd, fcntl.LOCK_EX)
        else:
            lk = os.open(LOCK, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(lk)
            fd = os.open(MBOX, os.O_RDWR | os.O_APPEND)
        if s.start():
            s.send(body(50) + b".\r\n")
            waiting = s.wait_sleeping()
            result(waiting, "%s: the session waits for the mailbox lock" % MODE)
            # still no reply while the lock is held
            time.sleep(0.3)
            early = s.drain()
            result(early == b"", "%s: no reply while the lock is held" % MODE, repr(early))
            os.write(fd, own_message())
            os.fsync(fd)
            released = time.time()
            if MODE == "wait-fcntl":
                fcntl.lockf(fd, fcntl.LOCK_UN)
            else:
                os.unlink(LOCK)
            r = s.reply(15)
            took = time.time() - released
            result(r.startswith("250 2.0.0 Ok: queued as "), "%s: 250 2.0.0 once the lock is released" % MODE, r)
            result(took < 5, "%s: delivered %.2f s after the release (< 5 s)" % (MODE, took))
            s.send(b"QUIT\r\n")
            result(s.reply() == "221 2.0.0 Bye", "%s: 221 after QUIT" % MODE)
        os.close(fd)

    elif MODE == "stale-dotlock":
        lk = os.open(LOCK, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(lk, b"99999\n")
        os.close(lk)
        old = time.time() - 11 * 60
        os.utime(LOCK, (old, old))
        if s.start():
            t0 = time.time()
            s.send(body(10) + b".\r\n")
            r = s.reply(15)
            took = time.time() - t0
            result(r.startswith("250 2.0.0 Ok: queued as "), "stale-dotlock: 250 2.0.0", r)
            result(took < 5, "stale-dotlock: delivered at once (%.2f s)" % took)
            s.send(b"QUIT\r\n")
            result(s.reply() == "221 2.0.0 Bye", "stale-dotlock: 221 after QUIT")
    else:
        result(False, "faults.py: unknown mode " + MODE)
finally:
    if s.p.poll() is None:
        s.finish()
