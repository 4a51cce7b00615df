#!/usr/bin/python3
"""relay-sink.py - a receiving SMTP server for relay-agent tests (aiosmtpd).

usage: relay-sink.py HOST PORT OUTDIR [--rcpt ADDR=REPLY]... [--data REPLY]
                     [--stall-data] [--auth USER:PASSWORD] [--pipelining]

Each accepted message is written to OUTDIR/N.eml (the bytes as received:
CRLF line ends, dot-stuffing undone) with OUTDIR/N.json (sender,
recipients, AUTH login). --rcpt answers RCPT TO for ADDR ('*' for every
address) with REPLY; --data answers the end of data with REPLY;
--stall-data creates OUTDIR/stalled and never answers the end of data.
--pipelining offers PIPELINING in the EHLO reply (aiosmtpd reads
pipelined commands in any case, but does not say so).
"""
import argparse
import asyncio
import json
import os
import signal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Handler:
    def __init__(self, args):
        self.a = args
        self.rules = {}
        for r in args.rcpt:
            addr, reply = r.split("=", 1)
            self.rules[addr.lower()] = reply
        self.n = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.rules.get(address.lower()) or self.rules.get("*")
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        if self.a.stall_data:
            open(os.path.join(self.a.outdir, "stalled"), "w").close()
            await asyncio.sleep(3600)
        if self.a.data:
            return self.a.data
        self.n += 1
        base = os.path.join(self.a.outdir, "%d.%d" % (os.getpid(), self.n))
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        login = getattr(session, "test_login", None)
        with open(base + ".json", "w") as f:
            json.dump({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                       "login": login.decode() if isinstance(login, bytes) else login,
                       "peer": session.peer[0]}, f)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 Ok: queued"


class PipeliningHandler(Handler):
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return responses[:-1] + ["250-PIPELINING", responses[-1]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("outdir")
    ap.add_argument("--rcpt", action="append", default=[])
    ap.add_argument("--data")
    ap.add_argument("--stall-data", action="store_true")
    ap.add_argument("--auth")
    ap.add_argument("--pipelining", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    kw = {}
    if a.auth:
        user, password = a.auth.split(":", 1)

        def check(server, session, envelope, mechanism, auth_data):
            ok = (auth_data.login.decode() == user and auth_data.password.decode() == password)
            if ok:
                session.test_login = mechanism + ":" + user
            return AuthResult(success=ok, handled=False)
        kw = dict(authenticator=check, auth_require_tls=False)
    handler = PipeliningHandler(a) if a.pipelining else Handler(a)
    c = Controller(handler, hostname=a.host, port=a.port, **kw)
    c.start()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.pause()


main()
