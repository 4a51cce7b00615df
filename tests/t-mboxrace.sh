#!/bin/bash
# t-mboxrace.sh - a mail reader that rewrites or removes the mbox while a
# delivery waits for its lock (Python's mailbox.mbox flush renames a new
# file over the old; mutt may delete an emptied mbox): the delivery must
# land in the file that is at the path afterwards, never in the old inode.
. "$(dirname "$0")/lib.sh"
plan 3
write_conf

race() {   # race MODE: rewrite | remove
	$PY - "$BIN/smtp-session" "$T/conf" "$T/mail/alice" "$1" <<-'PY'
	import mailbox, os, subprocess, sys, time
	prog, conf, path, mode = sys.argv[1:5]
	if os.path.exists(path):
	    os.unlink(path)
	mb = mailbox.mbox(path)
	mb.add(b"From: a\n\nfirst\n")
	mb.add(b"From: b\n\nsecond\n")
	mb.flush(); mb.close()
	mb = mailbox.mbox(path)
	mb.lock()
	if mode == "rewrite":
	    mb.remove(list(mb.keys())[0])   # a reader deleting one message
	d = (b"EHLO x\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<alice@test.example>\r\n"
	     b"DATA\r\nSubject: NEWMSG\r\n\r\nhello\r\n.\r\nQUIT\r\n")
	p = subprocess.Popen([prog, "-c", conf], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
	p.stdin.write(d); p.stdin.close()
	# Ready when the session holds the mbox open (it then waits for the lock).
	end = time.time() + 10
	held = False
	while time.time() < end and not held:
	    try:
	        held = any(os.readlink("/proc/%d/fd/%s" % (p.pid, f)) == path
	                   for f in os.listdir("/proc/%d/fd" % p.pid))
	    except OSError:
	        pass
	    time.sleep(0.01)
	if mode == "rewrite":
	    mb.flush()          # writes a new file and renames it over the old
	    mb.unlock(); mb.close()
	else:
	    # removed while still locked, as mutt removes an emptied mbox
	    # (removed after the unlock, a delivery could land in it first)
	    os.unlink(path)
	    mb.unlock(); mb.close()
	out = p.stdout.read().decode(); p.wait(timeout=40)
	print("held" if held else "never held")
	print([l for l in out.split("\r\n") if l.startswith(("250 2.0", "4"))][0][:9])
	data = open(path, "rb").read()
	print("NEWMSG" if b"NEWMSG" in data else "lost")
	print(len(mailbox.mbox(path)))
	PY
}
expect_eq "mbox rewritten by Python's mailbox while we wait: the message is in the new file" \
	"$(race rewrite)" "held
250 2.0.0
NEWMSG
2"
expect_eq "mbox removed while we wait: a new mbox holds the message" \
	"$(race remove)" "held
250 2.0.0
NEWMSG
1"
check "no lock left behind" test ! -e "$T/mail/alice.lock"
