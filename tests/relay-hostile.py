#!/usr/bin/python3
"""relay-hostile.py - SMTP servers that misbehave, for relay-agent tests.

usage: relay-hostile.py HOST PORT MODE LOG

MODE:
  garbage   greets, then answers EHLO with text that is no reply code
  endless   a multi-line greeting that never ends
  silent    accepts the connection and never says a word
  longline  a greeting line of 4000 octets
  dropdata  a plain server that closes the connection in the middle of DATA
  noehlo    refuses EHLO (500), then serves HELO and takes the message
  loginonly offers only AUTH LOGIN and requires it (user "user", password
            "secret") before MAIL
Every line received is appended to LOG (one per line, CRLF shown as is),
and a message taken in noehlo mode to LOG.msg.
"""
import socket
import sys
import threading
import time

host, port, mode, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
lock = threading.Lock()


def note(line):
    with lock, open(log, "ab") as f:
        f.write(line + b"\n")


def serve(c):
    f = c.makefile("rb")
    try:
        if mode == "silent":
            time.sleep(600)
            return
        if mode == "endless":
            while True:
                c.sendall(b"220-still greeting you\r\n")
                time.sleep(0.005)
        if mode == "longline":
            c.sendall(b"220 " + b"x" * 4000 + b"\r\n")
            time.sleep(600)
            return
        c.sendall(b"220 hostile.test ESMTP\r\n")
        while True:
            line = f.readline()
            if not line:
                return
            note(line.rstrip(b"\n"))
            cmd = line[:4].upper()
            if mode == "garbage":
                c.sendall(b"hello there, how are you\r\n")
                continue
            if cmd == b"EHLO" and mode == "loginonly":
                c.sendall(b"250-hostile.test\r\n250 AUTH LOGIN\r\n")
            elif cmd == b"EHLO":
                c.sendall(b"500 5.5.2 what?\r\n" if mode == "noehlo"
                          else b"250-hostile.test\r\n250 8BITMIME\r\n")
            elif cmd == b"AUTH" and mode == "loginonly":
                c.sendall(b"334 VXNlcm5hbWU6\r\n")
                user = f.readline().strip()
                c.sendall(b"334 UGFzc3dvcmQ6\r\n")
                password = f.readline().strip()
                good = (user, password) == (b"dXNlcg==", b"c2VjcmV0")
                note(b"AUTH-RESULT " + (b"ok" if good else b"bad"))
                c.sendall(b"235 2.7.0 ok\r\n" if good else b"535 5.7.8 no\r\n")
            elif cmd == b"DATA":
                c.sendall(b"354 go ahead\r\n")
                body = b""
                while True:
                    d = f.readline()
                    if not d:
                        return
                    if mode == "dropdata":
                        c.close()
                        return
                    if d == b".\r\n":
                        break
                    body += d
                with lock, open(log + ".msg", "ab") as m:
                    m.write(body)
                c.sendall(b"250 2.0.0 taken\r\n")
            elif cmd == b"QUIT":
                c.sendall(b"221 2.0.0 bye\r\n")
                return
            else:
                c.sendall(b"250 2.0.0 ok\r\n")
    except OSError:
        pass
    finally:
        c.close()


s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, port))
s.listen(64)
while True:
    conn, _ = s.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
