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
  8bit      offers 8BITMIME
  limit=N   answers MAIL with 421 and closes after N messages on one
            connection (Exchange's messages-per-connection limit)
  rcptmax=N answers RCPT with 452 4.5.3 beyond N per transaction
  rcpt552=N the same with 552 5.3.4
  closeafter closes the connection after each message it took
  soft      answers every RCPT with 451 4.7.1 (greylisting)
  slowdata=S waits S seconds before answering the end of data
  name=HOST names itself HOST in its greeting and EHLO reply
  longreply answers RCPT with a 250 line of 1200 octets
  refuse    greets with 554 and closes
Each command and event is appended to LOG as one JSON object per line;
a message taken is {"ev": "message", "rcpts": [...], "bytes": N, "text": T}
(T the text as received, latin-1); each connection logs {"ev": "open"}
and {"ev": "close"} with the time "t".
"""
import json
import socket
import sys
import threading
import time

host, port, mode, logf = sys.argv[1], int(sys.argv[2]), set(sys.argv[3].split(",")), sys.argv[4]
lock = threading.Lock()
opt = {}
for m in list(mode):
    if "=" in m:
        k, v = m.split("=", 1)
        opt[k] = v
name = opt.get("name", "mx")


def log(d):
    with lock, open(logf, "a") as f:
        f.write(json.dumps(d) + "\n")


def handle(c, n):
    f = c.makefile("rb")

    def send(s):
        c.sendall(s.encode() + b"\r\n")

    log({"conn": n, "ev": "open", "t": time.time()})
    try:
        serve(c, f, n, send)
    finally:
        log({"conn": n, "ev": "close", "t": time.time()})


def serve(c, f, n, send):
    taken = 0
    try:
        if "refuse" in mode:
            send("554 5.3.2 no service here")
            return
        if "dupgreet" in mode:
            send("220 mx ESMTP\r\n220 mx ESMTP (a second greeting)")
        else:
            send("220 %s ESMTP" % name)
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
                    ext += ["8BITMIME"] if "8bit" in mode else []
                    for e in [name] + ext[:-1]:
                        send("250-" + e)
                    send("250 " + (ext[-1] if ext else name))
            elif u.startswith("HELO"):
                send("250 mx")
            elif u.startswith("MAIL"):
                rcpts = []
                if "limit" in opt and taken >= int(opt["limit"]):
                    send("421 4.7.0 too many messages in this connection")
                    log({"conn": n, "ev": "421"})
                    return
                send("250 2.1.0 ok")
            elif u.startswith("RCPT"):
                if "rcptmax" in opt and len(rcpts) >= int(opt["rcptmax"]):
                    send("452 4.5.3 too many recipients")
                elif "rcpt552" in opt and len(rcpts) >= int(opt["rcpt552"]):
                    send("552 5.3.4 too many recipients")
                elif "soft" in mode:
                    send("451 4.7.1 greylisted, try again later")
                elif "longreply" in mode:
                    rcpts.append(cmd[8:].strip("<>"))
                    send("250 2.1.5 ok " + "x" * 1200)
                elif "later" in cmd:
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
                size, text = 0, b""
                while True:
                    d = f.readline()
                    if not d:
                        return
                    if d == b".\r\n":
                        break
                    size += len(d)
                    if len(text) < 1000000:
                        text += d[1:] if d.startswith(b".") else d
                if "slowdata" in opt:
                    time.sleep(float(opt["slowdata"]))
                log({"conn": n, "ev": "message", "rcpts": rcpts, "bytes": size,
                     "text": text.decode("latin1"), "t": time.time()})
                send("250 2.0.0 queued")
                taken += 1
                if "closeafter" in mode:
                    log({"conn": n, "ev": "closed after message"})
                    return
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
s.listen(128)
k = 0
while True:
    conn, _ = s.accept()
    k += 1
    threading.Thread(target=handle, args=(conn, k), daemon=True).start()
