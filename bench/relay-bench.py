#!/usr/bin/python3
"""relay-bench.py - the load of bench/relay-bench.sh.

  relay-bench.py dialogue N DOMAINS FILE [DOMAIN]  an SMTP dialogue of N
                                           messages (one session) for
                                           smtp-session
  relay-bench.py inject N DOMAINS HOST PORT [DOMAIN]  the same N messages
                                           to an SMTP server over one
                                           connection
  relay-bench.py count DIR                 messages smtp-sink dumped in DIR

Message i goes to u<i>@d<i mod DOMAINS + 1>.example (u<i>@DOMAIN when a
DOMAIN is given), from bench@test.example, about 1 KiB.
"""
import glob
import smtplib
import sys


def message(i, domains, domain=None):
    rcpt = "u%d@%s" % (i, domain or "d%d.example" % (i % domains + 1))
    lines = ["From: <bench@test.example>", "To: <%s>" % rcpt,
             "Subject: relay bench %d" % i, "Message-ID: <bench.%d@test.example>" % i, ""]
    lines += [("line %02d " % k) + "x" * 62 for k in range(13)]
    return rcpt, "\r\n".join(lines) + "\r\n"


def main():
    mode = sys.argv[1]
    if mode == "count":
        print(len(glob.glob(sys.argv[2] + "/*")))
        return
    n, domains = int(sys.argv[2]), int(sys.argv[3])
    if mode == "dialogue":
        domain = sys.argv[5] if len(sys.argv) > 5 else None
        with open(sys.argv[4], "w", newline="") as f:
            f.write("EHLO bench.test\r\n")
            for i in range(n):
                rcpt, text = message(i, domains, domain)
                f.write("MAIL FROM:<bench@test.example>\r\nRCPT TO:<%s>\r\nDATA\r\n" % rcpt)
                f.write(text + ".\r\n")
            f.write("QUIT\r\n")
    elif mode == "inject":
        domain = sys.argv[6] if len(sys.argv) > 6 else None
        s = smtplib.SMTP(sys.argv[4], int(sys.argv[5]))
        s.ehlo("bench.test")
        for i in range(n):
            rcpt, text = message(i, domains, domain)
            s.sendmail("bench@test.example", [rcpt], text)
        s.quit()


main()
