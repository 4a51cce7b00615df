#!/usr/bin/python3
"""relay-script.py - a scripted SMTP server for relay-agent fault tests.

usage: relay-script.py HOST PORT MODE LOG

Every server: 220 greeting, EHLO 250, MAIL 250, RCPT 250 except a
recipient containing "bad" (550 5.1.1) or "later" (451 4.2.2), DATA 354,
the message, 250. MODE, a comma-separated list, changes things:
  plain     nothing
  dropdata  closes the connection when DATA comes, without a reply
  dupgreet  sends the 220 greeting twice (two replies)
  ehlo220   answers EHLO with 220 instead of 250
  data250   answers DATA with 250 instead of 354
  slowread  answers DATA with 354, then never reads again
  trickle   a tiny receive buffer; after 354 reads 600 octets every 2.4 s
            (250 octets/s), then answers 250
  pipe      offers PIPELINING
  size      offers SIZE
Each command and event is appended to LOG as one JSON object per line;
a message taken is {"ev": "message", "rcpts": [...], "bytes": N}.
"""
import json
import socket
import sys
import threading
import time

host, port, mode, logf = sys.argv[1], int(sys.argv[2]), set(sys.argv[3].split(",")), sys.argv[4]
lock = threading.Lock()


def log(d):
    with lock, open(logf, "a") as f:
        f.write(json.dumps(d) + "\n")


def handle(c, n):
    f = c.makefile("rb")

    def send(s):
        c.sendall(s.encode() + b"\r\n")

    try:
        if "dupgreet" in mode:
            send("220 mx ESMTP\r\n220 mx ESMTP (a second greeting)")
        else:
            send("220 mx ESMTP")
        rcpts = []
        while True:
            line = f.readline()
            if not line:
                log({"conn": n, "ev": "eof"})
                return
            cmd = line.decode("latin1").rstrip("\r\n")
            u = cmd.upper()
            log({"conn": n, "cmd": cmd})
            if u.startswith("EHLO"):
                if "ehlo220" in mode:
                    send("220 mx ESMTP")
                else:
                    ext = ["PIPELINING"] if "pipe" in mode else []
                    ext += ["SIZE 10000000"] if "size" in mode else []
                    for e in ["mx"] + ext[:-1]:
                        send("250-" + e)
                    send("250 " + (ext[-1] if ext else "mx"))
            elif u.startswith("HELO"):
                send("250 mx")
            elif u.startswith("MAIL"):
                rcpts = []
                send("250 2.1.0 ok")
            elif u.startswith("RCPT"):
                if "later" in cmd:
                    send("451 4.2.2 try later")
                elif "bad" in cmd:
                    send("550 5.1.1 <%s> user unknown" % cmd[8:].strip("<>"))
                else:
                    rcpts.append(cmd[8:].strip("<>"))
                    send("250 2.1.5 ok")
            elif u == "DATA":
                if "data250" in mode:
                    send("250 2.0.0 thanks")
                    continue
                if "dropdata" in mode:
                    log({"conn": n, "ev": "drop at DATA"})
                    return
                send("354 go")
                if "trickle" in mode:
                    got = b""
                    while not got.endswith(b"\r\n.\r\n"):
                        time.sleep(2.4)
                        d = c.recv(600)
                        if not d:
                            log({"conn": n, "ev": "eof in DATA", "bytes": len(got)})
                            return
                        got += d
                    log({"conn": n, "ev": "message", "rcpts": rcpts, "bytes": len(got)})
                    send("250 2.0.0 queued")
                    continue
                if "slowread" in mode:
                    log({"conn": n, "ev": "not reading"})
                    time.sleep(600)
                    return
                size = 0
                while True:
                    d = f.readline()
                    if not d:
                        return
                    if d == b".\r\n":
                        break
                    size += len(d)
                log({"conn": n, "ev": "message", "rcpts": rcpts, "bytes": size})
                send("250 2.0.0 queued")
            elif u == "RSET":
                send("250 2.0.0 ok")
            elif u == "QUIT":
                send("221 bye")
                return
            else:
                send("502 5.5.2 what")
    except OSError:
        pass
    finally:
        c.close()


s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if "trickle" in mode:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
s.bind((host, port))
s.listen(50)
k = 0
while True:
    conn, _ = s.accept()
    k += 1
    threading.Thread(target=handle, args=(conn, k), daemon=True).start()
