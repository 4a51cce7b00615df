#!/usr/bin/python3
"""session-bench.py - timing and memory helpers for bench/session-bench.sh.

    session-bench.py load MBOX[,MBOX...] COUNT TIMEOUT -- CMD... [+++ CMD...]
        Run the load commands (smtp-source) side by side, then wait until
        the MBOXes hold COUNT messages in all (lines starting with "From ";
        smtp-source's body is lines of X, so no body line does). Prints
        one line:
            ok|fail SECONDS_TO_ACCEPT SECONDS_TO_DELIVER MESSAGES_FOUND RC
        SECONDS_TO_ACCEPT ends when the last load command exits (every
        message answered 250); SECONDS_TO_DELIVER when the last message is
        in its MBOX; RC is the first non-zero exit status, else 0.

    session-bench.py count MBOX
        Print the number of messages in MBOX (0 when it does not exist).

    session-bench.py rss BYTES -- smtp-session ARGS...
        Run smtp-session on a pipe, feed it one dialogue whose message body
        is BYTES octets of 78-X lines, and print
            PEAK_RSS_KIB REPLY_AFTER_DATA EXIT_STATUS
        PEAK_RSS_KIB is the session's VmHWM read once the reply to the end
        of data has arrived (the message is then delivered), before QUIT.

    session-bench.py send HOST PORT BYTES FROM TO
        Send one message of BYTES octets over SMTP; print the reply to the
        end of data.

    session-bench.py hwm PID...
        Print "PID NAME VmHWM_KIB" for each PID (for Postfix's daemons).
"""
import os
import socket
import subprocess
import sys
import threading
import time

LINE = b"X" * 78 + b"\r\n"


class MboxCounter:
    """Count "From " lines of a growing file, reading only what is new."""

    def __init__(self, path):
        self.path = path
        self.fd = None
        self.ino = None
        self.count = 0
        self.tail = b"\n"   # the file's start counts as a line start

    def poll(self):
        if self.fd is None:
            try:
                self.fd = os.open(self.path, os.O_RDONLY)
            except FileNotFoundError:
                return self.count
        while True:
            data = os.read(self.fd, 1 << 20)
            if not data:
                return self.count
            buf = self.tail + data
            self.count += buf.count(b"\nFrom ")
            # keep enough to see a "\nFrom " split across reads
            self.tail = buf[-5:]


def cmd_count(args):
    c = MboxCounter(args[0])
    print(c.poll())


def cmd_load(args):
    mboxes, want, timeout = args[0].split(","), int(args[1]), float(args[2])
    cmds, cmd = [], []
    for a in args[args.index("--") + 1:] + ["+++"]:
        if a == "+++":
            cmds.append(cmd)
            cmd = []
        else:
            cmd.append(a)
    counters = [MboxCounter(m) for m in mboxes]

    def count():
        return sum(c.poll() for c in counters)
    t0 = time.monotonic()
    procs = [subprocess.Popen(c, stdout=subprocess.DEVNULL) for c in cmds]
    rcs = [p.wait() for p in procs]
    rc = next((r for r in rcs if r != 0), 0)
    t_accept = time.monotonic() - t0
    # smtp-source stopped early (it aborts on an unexpected reply): what
    # was accepted is already there, or soon will be
    deadline = time.monotonic() + (timeout if rc == 0 else 5)
    n = count()
    while n < want and time.monotonic() < deadline:
        time.sleep(0.005)
        n = count()
    t_deliver = time.monotonic() - t0
    # a late extra copy would show as n > want: give it a moment to appear
    time.sleep(0.2)
    n = count()
    status = "ok" if n == want and rc == 0 else "fail"
    print("%s %.4f %.4f %d %d" % (status, t_accept, t_deliver, n, rc))


def body_chunks(size):
    """Yield the message (headers + body of 78-X lines) in large chunks."""
    yield (b"From: bench@test.example\r\nTo: bench@test.example\r\n"
           b"Subject: big\r\n\r\n")
    per = (1 << 20) // len(LINE)
    chunk = LINE * per
    left = size
    while left >= len(chunk):
        yield chunk
        left -= len(chunk)
    while left > 0:
        yield LINE
        left -= len(LINE)
    yield b".\r\n"


def vm_hwm(pid):
    """VmHWM of PID in KiB, or -1 when it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def cmd_rss(args):
    size = int(args[0])
    cmd = args[args.index("--") + 1:]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    replies = []
    after_data = threading.Event()

    def reader():
        seen_354 = False
        for line in p.stdout:
            line = line.decode("latin-1").rstrip("\r\n")
            replies.append(line)
            if line.startswith("354"):
                seen_354 = True
            elif seen_354 and line[3:4] != "-":
                after_data.set()
        after_data.set()
    t = threading.Thread(target=reader)
    t.start()
    w = p.stdin
    w.write(b"EHLO client.test.example\r\n"
            b"MAIL FROM:<bench@test.example>\r\n"
            b"RCPT TO:<bench@test.example>\r\nDATA\r\n")
    for c in body_chunks(size):
        w.write(c)
    w.flush()
    # The message is delivered (or refused) once its reply is out; the
    # session then waits for the next command with its memory high-water
    # mark final. ru_maxrss from wait4() would not do: it also counts the
    # pages of this (much larger) Python process that the child had
    # between fork and exec.
    after_data.wait(600)
    hwm = vm_hwm(p.pid)
    final = replies[-1] if replies else "?"
    w.write(b"QUIT\r\n")
    w.close()
    p.wait()
    t.join()
    print("%d %s %d" % (hwm, final.replace(" ", "_"), p.returncode))


def smtp_reply(f):
    lines = []
    while True:
        line = f.readline().decode("latin-1").rstrip("\r\n")
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            return lines


def cmd_send(args):
    host, port, size, frm, to = args[0], int(args[1]), int(args[2]), args[3], args[4]
    s = socket.create_connection((host, port))
    f = s.makefile("rb")
    smtp_reply(f)
    for c in ("EHLO client.test.example", "MAIL FROM:<%s>" % frm,
              "RCPT TO:<%s>" % to, "DATA"):
        s.sendall(c.encode() + b"\r\n")
        r = smtp_reply(f)
    if not r[-1].startswith("354"):
        print(r[-1])
        sys.exit(1)
    for c in body_chunks(size):
        s.sendall(c)
    r = smtp_reply(f)
    s.sendall(b"QUIT\r\n")
    smtp_reply(f)
    s.close()
    print(r[-1])


def cmd_hwm(args):
    for pid in args:
        name, hwm = "?", "?"
        try:
            with open("/proc/%s/status" % pid) as f:
                for line in f:
                    if line.startswith("Name:"):
                        name = line.split()[1]
                    elif line.startswith("VmHWM:"):
                        hwm = line.split()[1]
        except OSError:
            continue
        print(pid, name, hwm)


def main():
    cmds = {"load": cmd_load, "count": cmd_count, "rss": cmd_rss,
            "send": cmd_send, "hwm": cmd_hwm}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
