#!/usr/bin/python3
"""relay-spool.py - put one message into a relay spool, as smtp-session
would (the envelope format is spool.c's, version 1), for relay-agent tests.

usage: relay-spool.py SPOOL_DIR [--id ID] [--sender ADDR] [--rcpt ADDR]...
                      [--age SECONDS] [--body FILE] [--subject TEXT]
                      [--rcpt-line 'STATE\tATTEMPTS\tNEXT\tLAST\tORIG\tADDR\tREPLY']...
Prints the queue id. The message text is read from FILE (LF line ends,
kept byte for byte) or made up from the subject.
"""
import argparse
import os
import random
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("spool")
    ap.add_argument("--id")
    ap.add_argument("--sender", default="alice@test.example")
    ap.add_argument("--rcpt", action="append", default=[])
    ap.add_argument("--rcpt-line", action="append", default=[])
    ap.add_argument("--age", type=int, default=0)
    ap.add_argument("--body")
    ap.add_argument("--subject", default="test")
    a = ap.parse_args()

    qid = a.id or "%X%06X" % (int(time.time()), random.getrandbits(24))
    for sub in ("tmp", "msg", "env"):
        os.makedirs(os.path.join(a.spool, sub), mode=0o700, exist_ok=True)
    if a.body:
        with open(a.body, "rb") as f:
            text = f.read()
    else:
        text = ("Received: from client (127.0.0.1) by mx.test.example id %s\n"
                "From: <%s>\nTo: <%s>\nSubject: %s\nMessage-ID: <%s@test>\n\n"
                "Hello from %s.\n" % (qid, a.sender, ", ".join(a.rcpt), a.subject, qid,
                                      qid)).encode()
    arrival = int(time.time()) - a.age
    env = ["version 1", "id " + qid, "arrival %d" % arrival, "sender " + a.sender,
           "body 8BITMIME", "auth ", "client 127.0.0.1", "helo client.test"]
    for r in a.rcpt:
        env.append("rcpt pending\t0\t0\t0\t%s\t%s\t" % (r, r))
    for line in a.rcpt_line:
        env.append("rcpt " + line)
    msg_tmp = os.path.join(a.spool, "tmp", qid + ".msg")
    env_tmp = os.path.join(a.spool, "tmp", qid + ".env")
    with open(msg_tmp, "wb") as f:
        f.write(text)
    with open(env_tmp, "w") as f:
        f.write("\n".join(env) + "\n")
    os.rename(msg_tmp, os.path.join(a.spool, "msg", qid))
    os.rename(env_tmp, os.path.join(a.spool, "env", qid))
    print(qid)


main()
