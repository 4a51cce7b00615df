#!/usr/bin/python3
"""relay-dsn.py - summarise the RFC 3464 bounces in an mbox (or one message
file with --file) through Python's email package, one line per fact:

  DSN <report-type> <part types> <Reporting-MTA>
  RCPT <final recipient> <Action> <Status>
  HDR <Subject of the original message, from text/rfc822-headers>

A message that is no multipart/report prints "NOTDSN <Subject>".
"""
import email
import email.policy
import mailbox
import sys


def summarise(msg):
    if msg.get_content_type() != "multipart/report":
        print("NOTDSN", msg.get("Subject"))
        return
    parts = msg.get_payload()
    print("DSN", msg.get_param("report-type"),
          ",".join(p.get_content_type() for p in parts),
          end=" ")
    status = [p for p in parts if p.get_content_type() == "message/delivery-status"][0]
    blocks = status.get_payload()
    print(blocks[0].get("Reporting-MTA"))
    for b in blocks[1:]:
        rcpt = b.get("Final-Recipient", "").split(";", 1)[-1].strip()
        print("RCPT", rcpt, b.get("Action"), b.get("Status"))
    for p in parts:
        if p.get_content_type() == "text/rfc822-headers":
            hdrs = email.message_from_string(p.get_payload(), policy=email.policy.compat32)
            print("HDR", hdrs.get("Subject"))


if sys.argv[1] == "--file":
    with open(sys.argv[2], "rb") as f:
        summarise(email.message_from_binary_file(f, policy=email.policy.compat32))
else:
    for m in mailbox.mbox(sys.argv[1]):
        summarise(email.message_from_bytes(m.as_bytes(), policy=email.policy.compat32))
