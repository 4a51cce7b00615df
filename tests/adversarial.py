#!/usr/bin/python3
"""adversarial.py MODE BIN T [ARG] - hostile clients for smtp-session.

The configuration is T/conf (tests/lib.sh write_conf: test.example, users
alice bob carol, mailbox_dir T/mail, spool_dir T/spool); T/conf.auth adds
an auth_file, T/conf.slow has "timeout 2s".

MODE:
  table     every command with malformed arguments, one (line, reply) pair
            each, a few per session (fewer than 10 errors), each session
            ended by NOOP and QUIT to show it survived
  limits    inputs at exactly each limit and one octet over
  pipeline  garbage pipelined around a transaction, in one write
  early     (ARG: a port) a client that sends its whole dialogue before
            the greeting, over a real socket
  cuts      the input closed at every octet of a full dialogue
  drip      one octet every 10 ms
Prints "ok - ..." / "not ok - ..." lines.
"""
import os
import re
import select
import socket
import subprocess
import sys
import threading
import time

MODE, BIN, T = sys.argv[1:4]
ARG = sys.argv[4] if len(sys.argv) > 4 else ""
SESSION = BIN + "/smtp-session"
MAIL = os.path.join(T, "mail")
SPOOL = os.path.join(T, "spool")

GREETING = "220 mx.test.example ESMTP ready"
EHLO = ("250-mx.test.example\n250-PIPELINING\n250-SIZE 26214400\n250-8BITMIME\n"
        "250 ENHANCEDSTATUSCODES")
EHLO_AUTH = EHLO.replace("250-8BITMIME\n", "250-8BITMIME\n250-AUTH PLAIN LOGIN\n")
OK = "250 2.0.0 Ok"
MAIL_OK = "250 2.1.0 Ok"
RCPT_OK = "250 2.1.5 Ok"
BYE = "221 2.0.0 Bye"
SYN_MAIL = "501 5.5.4 Syntax: MAIL FROM:<address>"
SYN_PARAM = "501 5.5.4 Syntax: MAIL FROM:<address> [parameters]"
SYN_RCPT = "501 5.5.4 Syntax: RCPT TO:<address>"
LONG_S = "501 5.5.4 Sender address too long"
LONG_R = "501 5.5.4 Recipient address too long"
NONASCII = "553 5.6.7 Non-ASCII addresses are not supported (no SMTPUTF8)"
UNKNOWN = "500 5.5.2 Error: command not recognized"
TOOLONG = "500 5.5.2 Error: line too long"
NESTED = "503 5.5.1 Error: nested MAIL command"
NEED_MAIL = "503 5.5.1 Error: need MAIL command"
NEED_HELO = "503 5.5.1 Error: send HELO/EHLO first"
VRFY = "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery"
HELP = "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP"
DATA_GO = "354 End data with <CR><LF>.<CR><LF>"
QUEUED = "250 2.0.0 Ok: queued as ID"
# An unknown parameter is named in the reply, but a reply never carries
# 8-bit or control octets (RFC 5321 2.4: replies are US-ASCII).
ASCII_555 = "re:555 5.5.4 Unsupported parameter[ -~]*"


def result(good, what, detail=""):
    print(("ok - " if good else "not ok - ") + what)
    if not good and detail:
        print("   " + str(detail).replace("\n", "\n   ")[:3000])
    sys.stdout.flush()


def show(b):
    """a printable rendering of a command line"""
    s = repr(b)[2:-1]
    return s if len(s) <= 70 else s[:40] + "...(%d octets)" % len(b)


def replies(out):
    """the replies in OUT, a multi-line reply joined with newlines"""
    res, cur = [], []
    for line in out.decode("latin-1").replace("\r", "").split("\n"):
        if line == "":
            continue
        cur.append(line)
        if len(line) < 4 or line[3] != "-":
            res.append("\n".join(cur))
            cur = []
    if cur:
        res.append("\n".join(cur))
    return res


def mask(s):
    s = re.sub(r"queued as [0-9A-Z]+", "queued as ID", s)
    return s


def run(data, conf="conf", timeout=60):
    """pipe DATA into one session; (replies, exit status, raw output)"""
    p = subprocess.run([SESSION, "-c", os.path.join(T, conf)], input=data,
                       stdout=subprocess.PIPE, timeout=timeout)
    return [mask(r) for r in replies(p.stdout)], p.returncode, p.stdout


def snapshot():
    state = {}
    for top in (MAIL, SPOOL):
        for d, _, files in os.walk(top):
            for f in files:
                p = os.path.join(d, f)
                with open(p, "rb") as fh:
                    state[os.path.relpath(p, T)] = fh.read()
    return state


def restore(state):
    for top in (MAIL, SPOOL):
        for d, _, files in os.walk(top):
            for f in files:
                os.unlink(os.path.join(d, f))
    for rel, data in state.items():
        with open(os.path.join(T, rel), "wb") as fh:
            fh.write(data)


def same(got, want):
    """GOT equals WANT, or fully matches it when WANT is re:REGEX"""
    if want.startswith("re:"):
        return re.fullmatch(want[3:], got) is not None
    return got == want


def group(title, cases, conf="conf", greeted=True):
    """one session: EHLO (unless not GREETED), the CASES, then NOOP and QUIT"""
    pre = [(b"EHLO client.example", EHLO_AUTH if conf == "conf.auth" else EHLO)] if greeted else []
    post = [(b"NOOP", OK), (b"QUIT", BYE)]
    allc = pre + [(line, want) for _, line, want in cases] + post
    errors = sum(1 for _, w in allc if w.startswith("5"))
    assert errors < 10, "%s: %d errors in one session" % (title, errors)
    got, rc, raw = run(b"".join(line + b"\r\n" for line, _ in allc), conf)
    want = [GREETING] + [w for _, w in allc]
    i = 1 + len(pre)
    for what, line, w in cases:
        g = got[i] if i < len(got) else "[no reply]"
        result(same(g, w), "%s: %s (%s) -> %s" % (title, show(line), what, w.split("\n")[-1]),
               "got: %r" % g)
        i += 1
    # (each reply was judged above: here only that none is missing or
    # extra and that the session went on to the end)
    result(len(got) == len(want) and got[-2:] == [OK, BYE] and rc == 0,
           "%s: the session survives: NOOP and QUIT answered, exit 0" % title,
           "exit %s\n%s" % (rc, "\n".join(repr(a) for a in got)))
    bad = [c for c in raw.decode("latin-1").replace("\r\n", "") if not (" " <= c <= "~")]
    result(not bad, "%s: every reply is printable US-ASCII" % title,
           "non-ASCII or control octets sent to the client: %r" % "".join(bad))


def dom(n):
    """a syntactically valid domain of exactly N octets (labels <= 63)"""
    labels = []
    while n > 0:
        k = min(63, n)
        if n - k == 1:
            k -= 1
        labels.append("d" * k)
        n -= k + 1
    return ".".join(labels)


def table():
    S = b"MAIL FROM:<sender@remote.example>"
    group("HELO/EHLO arguments", [
        ("no argument", b"HELO", "501 5.5.4 Syntax: HELO hostname"),
        ("only blanks", b"EHLO    ", "501 5.5.4 Syntax: EHLO hostname"),
        ("control octet refused", b"HELO a\x01b.example", "501 5.5.4 Syntax: HELO hostname"),
        ("ESC and DEL refused", b"EHLO a\x1b[31m\x7f.example", "501 5.5.4 Syntax: EHLO hostname"),
        ("8-bit name refused", b"HELO \xc3\xa9.example", "501 5.5.4 Syntax: HELO hostname"),
        ("address literal", b"HELO [127.0.0.1]", "250 mx.test.example"),
        ("several words refused", b"EHLO a b c", "501 5.5.4 Syntax: EHLO hostname"),
        ("TAB instead of SP after the verb", b"HELO\tclient.example", UNKNOWN),
        ("leading blank before the verb", b" HELO client.example", UNKNOWN),
    ], greeted=False)
    group("MAIL: brackets and blanks", [
        ("missing brackets", b"MAIL FROM:sender@remote.example", SYN_MAIL),
        ("missing closing bracket", b"MAIL FROM:<sender@remote.example", SYN_MAIL),
        ("missing opening bracket", b"MAIL FROM:sender@remote.example>", SYN_MAIL),
        ("blank inside before the address", b"MAIL FROM:< sender@remote.example>", SYN_MAIL),
        ("blank inside after the address", b"MAIL FROM:<sender@remote.example >", SYN_MAIL),
        ("blank before @", b"MAIL FROM:<sender @remote.example>", SYN_MAIL),
        ("blank before the colon", b"MAIL FROM :<sender@remote.example>", SYN_MAIL),
        ("junk right after the path", b"MAIL FROM:<sender@remote.example>x", SYN_PARAM),
        ("blank after the colon is tolerated", b"MAIL FROM: <sender@remote.example>", MAIL_OK),
    ])
    group("MAIL: keyword and case", [
        ("no FROM:", b"MAIL <sender@remote.example>", SYN_MAIL),
        ("nothing at all", b"MAIL", SYN_MAIL),
        ("TO: instead of FROM:", b"MAIL TO:<sender@remote.example>", SYN_MAIL),
        ("two paths", b"MAIL FROM:<a@remote.example> <b@remote.example>",
         "555 5.5.4 Unsupported parameter <b@remote.example>"),
        ("bare local part (not postmaster)", b"MAIL FROM:<sender>", SYN_MAIL),
        ("lower case verb and keyword", b"mail from:<sender@remote.example>", MAIL_OK),
        ("trailing blanks", b"RSET   ", OK),
        ("null sender", b"MAIL FROM:<>", MAIL_OK),
    ])
    group("MAIL: quoted local parts", [
        ("quoted with a blank", b'MAIL FROM:<"john smith"@remote.example>', MAIL_OK),
        ("reset", b"RSET", OK),
        ("quoted-pair \\\"", b'MAIL FROM:<"a\\"b"@remote.example>', MAIL_OK),
        ("reset", b"RSET", OK),
        ("empty quoted string", b'MAIL FROM:<""@remote.example>', MAIL_OK),
        ("reset", b"RSET", OK),
        ("unterminated quote", b'MAIL FROM:<"john@remote.example>', SYN_MAIL),
        ("backslash at the end of the quote", b'MAIL FROM:<"john\\">', SYN_MAIL),
        ("backslash as the last octet", b'MAIL FROM:<"john\\', SYN_MAIL),
        ("quote in the middle of a dot-string", b'MAIL FROM:<jo"hn@remote.example>', SYN_MAIL),
        ("control octet inside the quotes", b'MAIL FROM:<"a\x01b"@remote.example>', SYN_MAIL),
        ("8-bit inside the quotes", b'MAIL FROM:<"\xc3\xa9"@remote.example>', NONASCII),
    ])
    group("MAIL: address literals", [
        ("IPv4 literal", b"MAIL FROM:<a@[192.0.2.1]>", MAIL_OK),
        ("reset", b"RSET", OK),
        ("IPv6 literal", b"MAIL FROM:<a@[IPv6:2001:db8::1]>", MAIL_OK),
        ("reset", b"RSET", OK),
        ("IPv6 literal, v4-mapped", b"MAIL FROM:<a@[IPv6:::ffff:192.0.2.1]>", MAIL_OK),
        ("reset", b"RSET", OK),
        ("octet over 255", b"MAIL FROM:<a@[300.1.1.1]>", SYN_MAIL),
        ("three octets", b"MAIL FROM:<a@[192.0.2]>", SYN_MAIL),
        ("unclosed literal", b"MAIL FROM:<a@[192.0.2.1>", SYN_MAIL),
        ("IPv6 without the tag", b"MAIL FROM:<a@[2001:db8::1]>", SYN_MAIL),
        ("bad IPv6", b"MAIL FROM:<a@[IPv6:2001:db8::zz]>", SYN_MAIL),
        ("empty literal", b"MAIL FROM:<a@[]>", SYN_MAIL),
        ("nine IPv6 groups", b"MAIL FROM:<a@[IPv6:1:2:3:4:5:6:7:8:9]>", SYN_MAIL),
    ])
    group("MAIL: 8-bit and control octets", [
        ("UTF-8 local part", b"MAIL FROM:<j\xc3\xb6rg@remote.example>", NONASCII),
        ("8-bit domain", b"MAIL FROM:<a@r\xe9mote.example>", NONASCII),
        ("\\x01 in the local part", b"MAIL FROM:<a\x01b@remote.example>", SYN_MAIL),
        ("ESC in the domain", b"MAIL FROM:<a@remote\x1b.example>", SYN_MAIL),
        ("DEL in the local part", b"MAIL FROM:<a\x7f@remote.example>", SYN_MAIL),
        ("TAB inside the path", b"MAIL FROM:<a\t@remote.example>", SYN_MAIL),
        ("TAB before the path", b"MAIL FROM:\t<a@remote.example>", SYN_MAIL),
        ("TAB after the verb", b"MAIL\tFROM:<a@remote.example>", UNKNOWN),
        ("8-bit parameter value", b"MAIL FROM:<a@remote.example> BODY=8BIT\xc3\xa9",
         "501 5.5.4 Bad BODY parameter (7BIT or 8BITMIME)"),
    ])
    group("MAIL: 8-bit and control octets in unknown parameters", [
        ("8-bit parameter name", b"MAIL FROM:<a@remote.example> X\xc3\xa9=1",
         ASCII_555),
        ("ESC in a parameter name", b"MAIL FROM:<a@remote.example> X\x1b[2J=1",
         ASCII_555),
    ])
    group("RCPT: malformed paths", [
        ("sender first", S, MAIL_OK),
        ("missing brackets", b"RCPT TO:alice@test.example", SYN_RCPT),
        ("missing closing bracket", b"RCPT TO:<alice@test.example", SYN_RCPT),
        ("blank inside", b"RCPT TO:< alice@test.example>", SYN_RCPT),
        ("no TO:", b"RCPT <alice@test.example>", SYN_RCPT),
        ("null recipient", b"RCPT TO:<>", SYN_RCPT),
        ("unterminated quote", b'RCPT TO:<"alice@test.example>', SYN_RCPT),
        ("8-bit local part", b"RCPT TO:<\xc3\xa9@test.example>", NONASCII),
        ("ESC in the local part", b"RCPT TO:<al\x1bice@test.example>", SYN_RCPT),
        ("accepted after all that", b"RCPT TO:<alice@test.example>", RCPT_OK),
    ])
    group("RCPT: more malformed paths", [
        ("sender first", S, MAIL_OK),
        ("DEL in the domain", b"RCPT TO:<alice@test\x7f.example>", SYN_RCPT),
        ("\\x01 after the path", b"RCPT TO:<alice@test.example>\x01", SYN_RCPT),
        ("8-bit parameter after a space", b"RCPT TO:<alice@test.example> \xc3\xa9",
         ASCII_555),
        ("'>' inside a quoted local part", b'RCPT TO:<"a>b"@far.example>', RCPT_OK),
        ("a parameter", b"RCPT TO:<alice@test.example> NOTIFY=NEVER",
         "555 5.5.4 Unsupported parameter NOTIFY=NEVER"),
        ("bad IPv4 literal", b"RCPT TO:<x@[1.2.3.256]>", SYN_RCPT),
        ("valid IPv4 literal (relaying allowed here)", b"RCPT TO:<x@[192.0.2.1]>", RCPT_OK),
        ("valid IPv6 literal", b"RCPT TO:<x@[IPv6:2001:db8::1]>", RCPT_OK),
        ("bare postmaster, any case", b"RCPT TO:<PostMaster>", RCPT_OK),
        ("bare local part", b"RCPT TO:<alice>", SYN_RCPT),
        ("unknown local user", b"RCPT TO:<nobody@test.example>",
         "550 5.1.1 <nobody@test.example>: Recipient address rejected: User unknown"),
    ])
    group("RCPT: 8-bit after the path", [
        ("sender first", S, MAIL_OK),
        ("8-bit octets after the path", b"RCPT TO:<alice@test.example> \xc3\xa9",
         ASCII_555),
    ])
    # RFC 5322 3.2.4: the quotes are not part of the local part, so
    # "alice" and al\ice name the same mailbox as alice (Postfix agrees).
    group("RCPT: quoted forms of a local user", [
        ("sender first", S, MAIL_OK),
        ('"alice" is alice', b'RCPT TO:<"alice"@test.example>', RCPT_OK),
        ('"al\\ice" is alice', b'RCPT TO:<"al\\ice"@test.example>', RCPT_OK),
        ('"Bob+tag" is bob', b'RCPT TO:<"Bob+tag"@test.example>', RCPT_OK),
        ("quoted unknown user", b'RCPT TO:<"alice smith"@test.example>',
         '550 5.1.1 <"alice smith"@test.example>: Recipient address rejected: User unknown'),
    ])
    group("DATA, RSET, NOOP, HELP, VRFY, QUIT arguments", [
        ("DATA with an argument", b"DATA now", "501 5.5.4 Syntax: DATA"),
        ("DATA without MAIL", b"DATA", NEED_MAIL),
        ("DATA with 8-bit argument", b"DATA \xff", "501 5.5.4 Syntax: DATA"),
        ("RCPT without MAIL", b"RCPT TO:<alice@test.example>", NEED_MAIL),
        ("NOOP with a string", b"NOOP hello \x01 \xff", OK),
        ("HELP with a topic", b"HELP MAIL", HELP),
        ("HELP with control octets", b"HELP \x1b\x7f", HELP),
        ("VRFY without an argument", b"VRFY", "501 5.5.4 Syntax: VRFY address"),
        ("VRFY with blanks only", b"VRFY    ", "501 5.5.4 Syntax: VRFY address"),
        ("VRFY of a local user", b"VRFY alice", VRFY),
        ("VRFY with 8-bit and control octets", b"VRFY <\xc3\xa9\x01@test.example>", VRFY),
        ("EXPN", b"EXPN team", "502 5.5.1 EXPN not supported"),
        ("lower case verb", b"noop", OK),
        ("verb of five letters", b"NOOPS", UNKNOWN),
        ("verb with 8-bit octets", b"NO\xc3\x89P", UNKNOWN),
    ])
    group("DATA order and a transaction after errors", [
        ("MAIL", S, MAIL_OK),
        ("DATA without RCPT", b"DATA", "503 5.5.1 Error: need RCPT command"),
        ("MAIL again", S, NESTED),
        ("RSET with an argument", b"RSET now", "501 5.5.4 Syntax: RSET"),
        ("RSET", b"RSET", OK),
        ("MAIL after RSET", S, MAIL_OK),
        ("RCPT", b"RCPT TO:<alice@test.example>", RCPT_OK),
        ("RSET drops the transaction", b"RSET", OK),
        ("DATA after RSET", b"DATA", NEED_MAIL),
    ])
    group("AUTH arguments", [
        ("no mechanism", b"AUTH", "501 5.5.4 Syntax: AUTH mechanism [initial-response]"),
        ("blanks only", b"AUTH    ", "501 5.5.4 Syntax: AUTH mechanism [initial-response]"),
        ("mechanism of 16 octets", b"AUTH ABCDEFGHIJKLMNOP",
         "501 5.5.4 Syntax: AUTH mechanism [initial-response]"),
        ("control octet in the mechanism", b"AUTH PL\x01AIN",
         "504 5.5.4 Unrecognized authentication type"),
        ("8-bit initial response", b"AUTH PLAIN \xc3\xa9\xc3\xa9",
         "501 5.5.2 Error: cannot decode the initial response"),
        ("empty initial response", b"AUTH PLAIN =", "501 5.5.2 Error: malformed PLAIN response"),
        ("two initial responses", b"AUTH PLAIN AGFsaWNlAHg= AGFsaWNlAHg=",
         "501 5.5.2 Error: cannot decode the initial response"),
        ("AUTH in a transaction", S, MAIL_OK),
        ("refused", b"AUTH PLAIN", "503 5.5.1 Error: MAIL transaction in progress"),
    ], conf="conf.auth")
    group("AUTH before EHLO", [
        ("AUTH first", b"AUTH PLAIN AGFsaWNlAHg=", NEED_HELO),
        ("MAIL first", S, NEED_HELO),
        ("RCPT first", b"RCPT TO:<alice@test.example>", NEED_MAIL),
    ], conf="conf.auth", greeted=False)


def limits():
    def pad(prefix, total):
        """PREFIX padded with 'y' to TOTAL octets counting the CRLF"""
        return prefix + b"y" * (total - 2 - len(prefix))
    S = b"MAIL FROM:<sender@remote.example>"
    group("512-octet lines", [
        ("EHLO of 512 octets: a name over 255 octets", pad(b"EHLO ", 512), "501 5.5.4 Syntax: EHLO hostname"),
        ("EHLO of 513 octets", pad(b"EHLO ", 513), TOOLONG),
        ("HELO of 512 octets: a name over 255 octets", pad(b"HELO ", 512), "501 5.5.4 Syntax: HELO hostname"),
        ("HELO of 513 octets", pad(b"HELO ", 513), TOOLONG),
        ("VRFY of 512 octets", pad(b"VRFY ", 512), VRFY),
        ("VRFY of 513 octets", pad(b"VRFY ", 513), TOOLONG),
        ("HELP of 513 octets", pad(b"HELP ", 513), TOOLONG),
        ("RSET of 512 octets (blanks)", b"RSET" + b" " * 506, OK),
        ("RSET of 513 octets (blanks)", b"RSET" + b" " * 507, TOOLONG),
    ])
    group("DATA and QUIT lines over 512", [
        ("MAIL", S, MAIL_OK),
        ("RCPT", b"RCPT TO:<alice@test.example>", RCPT_OK),
        ("DATA of 513 octets", b"DATA" + b" " * 507, TOOLONG),
        ("QUIT of 513 octets", b"QUIT" + b" " * 507, TOOLONG),
    ])
    rcpt = b"RCPT TO:<alice@test.example>"
    group("RCPT lines of 1000 octets", [
        ("MAIL", S, MAIL_OK),
        ("RCPT of 1000 octets", rcpt + b" " * (998 - len(rcpt)), RCPT_OK),
        ("RCPT of 1001 octets", rcpt + b" " * (999 - len(rcpt)), TOOLONG),
    ])
    l64, l65 = b"l" * 64, b"l" * 65
    group("local part 64 and 65, path 256 and 257 (MAIL)", [
        ("local part of 64", b"MAIL FROM:<" + l64 + b"@remote.example>", MAIL_OK),
        ("reset", b"RSET", OK),
        ("local part of 65", b"MAIL FROM:<" + l65 + b"@remote.example>", LONG_S),
        ("quoted local part of 64 inside the quotes",
         b'MAIL FROM:<"' + b"q" * 64 + b'"@remote.example>', MAIL_OK),
        ("reset", b"RSET", OK),
        ("quoted local part of 65 inside the quotes",
         b'MAIL FROM:<"' + b"q" * 65 + b'"@remote.example>', LONG_S),
        ("path of 256 (64 + @ + 191)", b"MAIL FROM:<" + l64 + b"@" + dom(191).encode() + b">",
         MAIL_OK),
        ("reset", b"RSET", OK),
        ("path of 257 (64 + @ + 192)", b"MAIL FROM:<" + l64 + b"@" + dom(192).encode() + b">",
         LONG_S),
        ("domain of 254 (path 256)", b"MAIL FROM:<a@" + dom(254).encode() + b">", MAIL_OK),
        ("reset", b"RSET", OK),
        ("domain of 255 (path 257)", b"MAIL FROM:<a@" + dom(255).encode() + b">", LONG_S),
        ("domain of 256", b"MAIL FROM:<a@" + dom(256).encode() + b">", LONG_S),
        ("label of 63", b"MAIL FROM:<a@" + b"x" * 63 + b".example>", MAIL_OK),
        ("reset", b"RSET", OK),
        ("label of 64", b"MAIL FROM:<a@" + b"x" * 64 + b".example>", SYN_MAIL),
    ])
    group("local part 64, path 256 and 257 (RCPT)", [
        ("MAIL", S, MAIL_OK),
        ("local part of 64", b"RCPT TO:<" + l64 + b"@remote.example>", RCPT_OK),
        ("path of 256", b"RCPT TO:<" + l64 + b"@" + dom(191).encode() + b">", RCPT_OK),
        ("path of 257", b"RCPT TO:<" + l64 + b"@" + dom(192).encode() + b">", LONG_R),
        ("domain of 254", b"RCPT TO:<a@" + dom(254).encode() + b">", RCPT_OK),
        ("domain of 255", b"RCPT TO:<a@" + dom(255).encode() + b">", LONG_R),
    ])
    auth = b"AUTH PLAIN "
    group("AUTH lines of 12288 octets", [
        ("AUTH of 12288 octets", auth + b"A" * (12286 - len(auth)),
         "501 5.5.2 Error: cannot decode the initial response"),
        ("AUTH of 12289 octets", auth + b"A" * (12287 - len(auth)),
         "500 5.5.6 Error: authentication line too long"),
        ("NOOP of 12289 octets", b"NOOP " + b"y" * 12282, TOOLONG),
    ], conf="conf.auth")
    # The answer to a 334 challenge has the same limit.
    for n, want in ((12288, "501 5.5.2 Error: cannot decode the response"),
                    (12289, "500 5.5.6 Error: authentication response too long")):
        got, rc, _ = run(b"EHLO client.example\r\nAUTH PLAIN\r\n" + b"A" * (n - 2) +
                         b"\r\nNOOP\r\nQUIT\r\n", "conf.auth")
        result(got == [GREETING, EHLO_AUTH, "334 ", want, OK, BYE] and rc == 0,
               "AUTH response line of %d octets after 334 -> %s" % (n, want), got)


def check_one_message(box, subject, body_lines, what, old=b""):
    """BOX holds OLD then exactly one message with SUBJECT and BODY_LINES"""
    try:
        data = open(os.path.join(MAIL, box), "rb").read()
    except OSError as e:
        result(False, what, e)
        return
    if not data.startswith(old):
        result(False, what, "the old content changed")
        return
    text = data[len(old):].decode("latin-1")
    msgs = re.split(r"(?m)^From \S+ \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\n", text)
    good = len(msgs) == 2 and msgs[0] == ""
    if good:
        head, _, body = msgs[1].partition("\n\n")
        good = ("\nSubject: %s\n" % subject) in ("\n" + head + "\n") and \
            body == "".join(l + "\n" for l in body_lines) + "\n"
    result(good, what, text[-1500:])


def pipeline():
    os.makedirs(MAIL, exist_ok=True)
    for f in os.listdir(MAIL):
        os.unlink(os.path.join(MAIL, f))
    dialogue = [
        (b"EHLO client.example", EHLO),
        (b"XYZZY plugh", UNKNOWN),
        (b"MAIL FROM:<sender@remote.example>", MAIL_OK),
        (b"\x01\x02\x1b garbage \xff", UNKNOWN),
        (b"RCPT TO:<nobody@test.example>",
         "550 5.1.1 <nobody@test.example>: Recipient address rejected: User unknown"),
        (b"NO\0OP", "500 5.5.2 Error: bare CR or NUL in command"),
        (b"RCPT TO:<alice@test.example>", RCPT_OK),
        (b"MAIL FROM:<second@remote.example>", NESTED),
        (b"DATA", DATA_GO),
        (b"Subject: pipelined\r\n\r\nQUIT\r\nRSET\r\nMAIL FROM:<evil@remote.example>\r\n"
         b"RCPT TO:<bob@test.example>\r\n..stuffed\r\n.", QUEUED),
        (b"GARBAGE after the message", UNKNOWN),
        (b"RCPT TO:<bob@test.example>", NEED_MAIL),
        (b"DATA", NEED_MAIL),
        (b"NOOP", OK),
        (b"QUIT", BYE),
    ]
    got, rc, _ = run(b"".join(l + b"\r\n" for l, _ in dialogue))
    want = [GREETING] + [w for _, w in dialogue]
    expect = "\n".join(want)
    result(got == want and rc == 0, "garbage around a transaction, one write: replies in order",
           "got:\n%s\nwant:\n%s" % ("\n".join(got), expect))
    check_one_message("alice", "pipelined",
                      ["QUIT", "RSET", "MAIL FROM:<evil@remote.example>",
                       "RCPT TO:<bob@test.example>", ".stuffed"],
                      "garbage around a transaction: exactly one message, with the right body")
    result(not os.path.exists(os.path.join(MAIL, "bob")), "garbage around a transaction: nothing for bob")
    result(os.listdir(os.path.join(SPOOL, "env")) == [] and os.listdir(os.path.join(SPOOL, "tmp")) == [],
           "garbage around a transaction: nothing spooled, no staging file")

    # A DATA refused (no recipient): the pipelined text is read as commands.
    os.unlink(os.path.join(MAIL, "alice"))
    dialogue = [
        (b"EHLO client.example", EHLO),
        (b"MAIL FROM:<sender@remote.example>", MAIL_OK),
        (b"RCPT TO:<nobody@test.example>",
         "550 5.1.1 <nobody@test.example>: Recipient address rejected: User unknown"),
        (b"DATA", "503 5.5.1 Error: need RCPT command"),
        (b"Subject: lost", UNKNOWN),
        (b"", UNKNOWN),
        (b"lost text", UNKNOWN),
        (b".", UNKNOWN),
        (b"RCPT TO:<alice@test.example>", RCPT_OK),
        (b"DATA", DATA_GO),
        (b"Subject: second\r\n\r\nsecond text\r\n.", QUEUED),
        (b"QUIT", BYE),
    ]
    got, rc, _ = run(b"".join(l + b"\r\n" for l, _ in dialogue))
    want = [GREETING] + [w for _, w in dialogue]
    result(got == want and rc == 0,
           "a refused DATA with its text pipelined: the text answered as commands, in order",
           "got:\n%s\nwant:\n%s" % ("\n".join(got), "\n".join(want)))
    check_one_message("alice", "second", ["second text"],
                      "a refused DATA with its text pipelined: only the later message delivered")


FULL = (b"EHLO client.example\r\nMAIL FROM:<sender@remote.example>\r\n"
        b"RCPT TO:<alice@test.example>\r\nRCPT TO:<friend@far.example>\r\nDATA\r\n"
        b"Subject: whole\r\nFrom: sender@remote.example\r\n\r\nline one\r\n"
        b"..dot\r\nline three\r\n.\r\nQUIT\r\n")
FULL_REPLIES = [GREETING, EHLO, MAIL_OK, RCPT_OK, RCPT_OK, DATA_GO, QUEUED, BYE]


def early():
    port = int(ARG)
    before = snapshot()
    s = socket.create_connection(("127.0.0.1", port), 10)
    s.sendall(FULL)             # before the greeting, all of it
    s.settimeout(30)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        out += b"[timeout]"
    s.close()
    got = [mask(r) for r in replies(out)]
    result(got == FULL_REPLIES, "a client that sends before the greeting is served normally (socket)",
           "got: %r" % got)
    check_one_message("alice", "whole", ["line one", ".dot", "line three"],
                      "sent before the greeting: one whole copy for alice",
                      before.get("mail/alice", b""))
    result(len(os.listdir(os.path.join(SPOOL, "env"))) == 1,
           "sent before the greeting: one copy spooled for friend@far.example")
    restore(before)


def cuts():
    before = snapshot()
    end = FULL.index(b"\r\n.\r\n") + 5      # after the final ".\r\n"
    named = {
        0: "right after the greeting (nothing sent)",
        FULL.index(b"EHLO") + 2: "in the middle of the EHLO line",
        FULL.index(b"RCPT"): "after MAIL",
        FULL.index(b"DATA"): "after RCPT",
        FULL.index(b"Subject"): "after DATA",
        FULL.index(b"Subject") + 5: "in the middle of a header",
        FULL.index(b"line one") + 4: "in the middle of the body",
        end - 3: "just before the final .CRLF",
        end - 1: "after the final .CR, no LF",
        end: "right after the final .CRLF (the message is accepted)",
    }
    failures = []
    for k in range(len(FULL) + 1):
        got, rc, _ = run(FULL[:k])
        after = snapshot()
        problems = []
        if rc != 0:
            problems.append("exit %s" % rc)
        n = len(got)
        if got != FULL_REPLIES[:n]:
            problems.append("replies %r" % got)
        delivered = k >= end
        if not delivered:
            if after != before:
                problems.append("traces left: %s" % sorted(set(after) ^ set(before) |
                                                           {f for f in after if after[f] != before.get(f)}))
            if k > FULL.index(b"DATA") + 6 and QUEUED in got:
                problems.append("250 without the end of data")
        else:
            new = {f for f in after if f not in before}
            alice_new = after.get("mail/alice", b"")[len(before.get("mail/alice", b"")):]
            if not after.get("mail/alice", b"").startswith(before.get("mail/alice", b"")) or \
                    alice_new.count(b"\nFrom ") + alice_new.startswith(b"From ") != 1 or \
                    b"\nline three\n\n" not in alice_new:
                problems.append("alice does not hold exactly one new copy")
            if len([f for f in new if f.startswith("spool/env/")]) != 1 or \
                    len([f for f in new if f.startswith("spool/msg/")]) != 1 or \
                    [f for f in new if f.startswith("spool/tmp/") or f.endswith(".lock")]:
                problems.append("spool: %s" % sorted(new))
            if QUEUED not in got:
                problems.append("no 250 after the end of data")
        if k in named:
            result(not problems, "input closed %s (after %d octets): %s, exit 0" % (
                named[k], k, "delivered once" if delivered else "no trace in mbox or spool"),
                "; ".join(problems))
        elif problems:
            failures.append("%d: %s" % (k, "; ".join(problems)))
        restore(before)
    result(not failures, "input closed at every one of the %d octet positions: no trace before "
           "the final .CRLF, one copy after it, exit 0" % (len(FULL) + 1), "\n".join(failures))


def drip():
    before = snapshot()
    p = subprocess.Popen([SESSION, "-c", os.path.join(T, "conf.slow")], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, bufsize=0)
    t0 = time.time()

    def feed():
        try:
            for i in range(len(FULL)):
                p.stdin.write(FULL[i:i + 1])
                time.sleep(0.01)
            p.stdin.close()
        except BrokenPipeError:
            pass
    th = threading.Thread(target=feed, daemon=True)
    th.start()
    out = b""
    end = time.time() + 60
    while time.time() < end:
        r, _, _ = select.select([p.stdout], [], [], end - time.time())
        if not r:
            break
        chunk = os.read(p.stdout.fileno(), 65536)
        if not chunk:
            break
        out += chunk
    try:
        rc = p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = "killed"
    took = time.time() - t0
    got = [mask(r) for r in replies(out)]
    result(got == FULL_REPLIES and rc == 0,
           "one octet every 10 ms (%d octets in %.1f s, timeout 2s): served normally, exit 0" % (
               len(FULL), took), "exit %s, got %r" % (rc, got))
    check_one_message("alice", "whole", ["line one", ".dot", "line three"],
                      "slow drip: one whole copy for alice", before.get("mail/alice", b""))
    result(len(os.listdir(os.path.join(SPOOL, "env"))) == 1, "slow drip: one copy spooled")
    restore(before)


{"table": table, "limits": limits, "pipeline": pipeline, "early": early, "cuts": cuts,
 "drip": drip}[MODE]()
