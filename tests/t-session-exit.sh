#!/bin/bash
# t-session-exit.sh - a session that ends anywhere but at its normal end
# leaves nothing behind: no named staging file in spool_dir/tmp, no
# dotlock (NAME.lock), no part of a message in a mailbox, no content
# filter still running.
#
#   - the client goes away right after DATA (the 354 cannot be written):
#     the session exits 0 and its named staging file tmp/ID.msg is gone;
#   - SIGTERM while it waits for bob's mailbox (a reader holds its fcntl
#     lock), with a named staging file: it dies of the signal, no reply
#     250, no bob.lock or alice.lock, nothing in tmp/, the
#     mailboxes unchanged;
#   - SIGTERM and SIGHUP in the middle of an append (a shim stops the
#     process inside its write to bob's mbox, after alice's copy was
#     written): alice's copy is taken back, no .lock, no 250;
#   - SIGTERM while a content filter runs (it sleeps): the filter's whole
#     process group is killed, tmp/ is empty.
# Where unnamed files cannot be made, the fault-injection shim
# (tests/faultinject.c) fails the first O_TMPFILE open with EOPNOTSUPP,
# so that the staging file has a name.
. "$(dirname "$0")/lib.sh"
plan $((2 + 3 + 7 + 2 * 6 + 4))

if ! out=$(cc -shared -fPIC -o "$T/fi.so" "$TOP/tests/faultinject.c" -ldl 2>&1); then
	nok "the fault-injection shim builds: $out"
	exit 0
fi
ok "the fault-injection shim builds"
# The stall shim: a write to the file STALL_PATH is made, then the
# process marks STALL_MARK and waits for a signal (in the middle of an
# append, as a slow disk would hold it).
cat >"$T/stall.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
static int stalled(int fd)
{
	char link[64], path[4096];
	const char *want = getenv("STALL_PATH");
	ssize_t n;
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	if (!want || (n = readlink(link, path, sizeof path - 1)) < 0)
		return 0;
	path[n] = '\0';
	return strcmp(path, want) == 0;
}
static void stall(void)
{
	const char *mark = getenv("STALL_MARK");
	int fd = mark ? open(mark, O_WRONLY | O_CREAT, 0600) : -1;
	if (fd >= 0)
		close(fd);
	for (;;)
		pause();
}
ssize_t writev(int fd, const struct iovec *v, int n)
{
	static ssize_t (*real)(int, const struct iovec *, int);
	if (!real)
		real = (ssize_t (*)(int, const struct iovec *, int))dlsym(RTLD_NEXT, "writev");
	ssize_t r = real(fd, v, n);
	if (stalled(fd))
		stall();
	return r;
}
ssize_t write(int fd, const void *b, size_t n)
{
	static ssize_t (*real)(int, const void *, size_t);
	if (!real)
		real = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	ssize_t r = real(fd, b, n);
	if (stalled(fd))
		stall();
	return r;
}
C
if ! out=$(cc -shared -fPIC -o "$T/stall.so" "$T/stall.c" -ldl 2>&1); then
	nok "the stall shim builds: $out"
	exit 0
fi
ok "the stall shim builds"

cat >"$T/filter" <<SH
#!/bin/sh
echo \$\$ >"$T/filter.pid"
cat >/dev/null
sleep 300
SH
chmod 755 "$T/filter"
tmp_empty() { [ -z "$(ls -A "$T/spool/tmp" 2>/dev/null)" ]; }
no_locks() { [ -z "$(ls -A "$T/mail" | grep '\.lock')" ]; }
fresh() {
	rm -rf "$T/spool" "$T/mail" "$T/log"; mkdir -p "$T/spool" "$T/mail"
	for u in alice bob; do
		printf 'From old@remote.example Mon Jan  5 10:00:00 2026\nSubject: old %s\n\nold\n\n' \
			"$u" >"$T/mail/$u"
		cp "$T/mail/$u" "$T/$u.before"
	done
}
unchanged() { cmp -s "$T/mail/alice" "$T/alice.before" && cmp -s "$T/mail/bob" "$T/bob.before"; }
ASAN_SHIM="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

# first_tmp_open DIALOGUE-FILE - the number of the first open in
# spool_dir/tmp (the staging file) in a traced run of the dialogue.
first_tmp_open() {
	fresh
	rm -f "$T/trace"
	env FI_DIR="$T/spool" FI_LOG="$T/trace" LD_PRELOAD="$T/fi.so" ASAN_OPTIONS="$ASAN_SHIM" \
		timeout 60 "$BIN/smtp-session" -c "$T/conf" <"$1" >/dev/null
	awk -F'\t' -v p="$T/spool/tmp" '$2 == "open" && $3 == p { print $1; exit }' "$T/trace"
}

cat >"$T/run.py" <<'PY'
import os, signal, subprocess, sys, time
# run.py MODE PROG CONF T [SIGNAL]: one session, ended as MODE says;
# prints what happened, one line per fact.
mode, prog, conf, t = sys.argv[1:5]
sig = getattr(signal, sys.argv[5]) if len(sys.argv) > 5 else signal.SIGTERM
p = subprocess.Popen([prog, "-c", conf], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
head = b"EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\n"

def replies_until(code):
    got = b""
    end = time.time() + 20
    while time.time() < end and not any(l.startswith(code) for l in got.split(b"\r\n")):
        b = os.read(p.stdout.fileno(), 4096)
        if not b:
            break
        got += b
    return got

def wait_for(cond):
    end = time.time() + 20
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False

def sleeping():
    try:
        with open("/proc/%d/syscall" % p.pid) as f:
            return f.read().split()[0] in ("35", "230", "34")
    except OSError:
        return False

def finish():
    p.send_signal(sig)
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        print("still running")
        return
    rest = p.stdout.read()
    print("died of the signal" if p.returncode == -sig else "exit %r" % p.returncode)
    print("a 250 after DATA" if b"queued as" in rest else "no 250 after DATA")

if mode == "gone":
    # The client reads up to RCPT's reply, then goes away and sends DATA.
    p.stdin.write(head + b"RCPT TO:<alice@test.example>\r\n")
    p.stdin.flush()
    replies_until(b"250 2.1.5")
    p.stdout.close()
    p.stdin.write(b"DATA\r\n")
    p.stdin.flush()
    p.wait(20)
    print("exit %r" % p.returncode)
elif mode == "lockwait":
    # bob's mbox is held by a reader (its fcntl lock): the session lets go
    # of alice and waits for bob alone, taking bob's dotlock for each try
    # and dropping it again while it sleeps between tries.
    import fcntl
    holder = os.open(t + "/mail/bob", os.O_RDWR)
    fcntl.lockf(holder, fcntl.LOCK_EX)
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\r\n"
    p.stdin.write(head + b"RCPT TO:<alice@test.example>\r\nRCPT TO:<bob@test.example>\r\n"
                  b"DATA\r\nSubject: big\r\n\r\n" + line * 1500 + b".\r\n")
    p.stdin.flush()
    ok = wait_for(lambda: sleeping())
    print("waiting for bob's fcntl lock" if ok else "never waited")
    finish()
    os.close(holder)
elif mode == "append":
    p.stdin.write(head + b"RCPT TO:<alice@test.example>\r\nRCPT TO:<bob@test.example>\r\n"
                  b"DATA\r\nSubject: cut\r\n\r\nbody\r\n.\r\n")
    p.stdin.flush()
    ok = wait_for(lambda: os.path.exists(t + "/stalled"))
    grew = os.path.getsize(t + "/mail/alice") > os.path.getsize(t + "/alice.before")
    print("stopped in bob's append, alice's copy written" if ok and grew else
          "never stopped there (%r %r)" % (ok, grew))
    finish()
elif mode == "filter":
    p.stdin.write(head + b"RCPT TO:<alice@test.example>\r\nDATA\r\nSubject: f\r\n\r\nx\r\n.\r\n")
    p.stdin.flush()
    ok = wait_for(lambda: os.path.exists(t + "/filter.pid") and
                  os.path.getsize(t + "/filter.pid") > 0)
    print("the filter runs" if ok else "no filter")
    finish()
PY

# --- the client is gone when the 354 is written ------------------------------
write_conf "filter $T/filter"
printf 'EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@test.example>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n' >"$T/d1"
n=$(first_tmp_open "$T/d1")
fresh
got=$(FI_DIR="$T/spool" FI_LOG="$T/trace1" FI_FAIL=${n:-0} FI_ERRNO=95 LD_PRELOAD="$T/fi.so" \
	ASAN_OPTIONS="$ASAN_SHIM" timeout 60 $PY "$T/run.py" gone "$BIN/smtp-session" "$T/conf" "$T")
expect_eq "client gone at the 354: the session exits 0" "$got" "exit 0"
check "... its named staging file tmp/ID.msg was made (no unnamed files)" \
	grep -q "$T/spool/tmp/[0-9A-F]*\.msg" "$T/trace1"
check "... and is gone" tmp_empty

# --- SIGTERM while waiting for a busy mailbox --------------------------------
write_conf
printf 'EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@test.example>\r\nRCPT TO:<bob@test.example>\r\nDATA\r\n%s\r\n.\r\nQUIT\r\n' \
	"$(head -c 80000 /dev/zero | tr '\0' x | fold -w 76 | sed 's/$/\r/')" >"$T/d2"
n=$(first_tmp_open "$T/d2")
fresh
got=$(FI_DIR="$T/spool" FI_LOG="$T/trace2" FI_FAIL=${n:-0} FI_ERRNO=95 LD_PRELOAD="$T/fi.so" \
	ASAN_OPTIONS="$ASAN_SHIM" timeout 60 $PY "$T/run.py" lockwait "$BIN/smtp-session" "$T/conf" "$T")
expect_eq "SIGTERM while it waits for bob's reader: dies of it, no 250" "$got" \
	"waiting for bob's fcntl lock
died of the signal
no 250 after DATA"
check "... the message was staged in a named file tmp/ID.msg" \
	grep -q "$T/spool/tmp/[0-9A-F]*\.msg" "$T/trace2"
check "... no dotlock is left" no_locks
check "... nothing is left in tmp/" tmp_empty
check "... the mailboxes are unchanged" unchanged
check "... nothing is queued" bash -c "[ -z \"\$(ls -A '$T/spool/msg' '$T/spool/env' 2>/dev/null | grep -v ':\$')\" ]"
check "... the log says nothing was accepted" bash -c "! grep -q 'nrcpt=' '$T/log'"

# --- SIGTERM / SIGHUP in the middle of an append ----------------------------
for sig in SIGTERM SIGHUP; do
	write_conf
	fresh
	rm -f "$T/stalled"
	got=$(STALL_PATH="$T/mail/bob" STALL_MARK="$T/stalled" LD_PRELOAD="$T/stall.so" \
		ASAN_OPTIONS="$ASAN_SHIM" timeout 60 $PY "$T/run.py" append "$BIN/smtp-session" \
		"$T/conf" "$T" "$sig")
	expect_eq "$sig in bob's append: dies of it, no 250" "$got" \
		"stopped in bob's append, alice's copy written
died of the signal
no 250 after DATA"
	check "$sig in the append: alice's copy is taken back" cmp -s "$T/mail/alice" "$T/alice.before"
	check "$sig in the append: bob's part is taken back" cmp -s "$T/mail/bob" "$T/bob.before"
	check "$sig in the append: no dotlock is left" no_locks
	check "$sig in the append: nothing is left in tmp/" tmp_empty
	check "$sig in the append: nothing is queued" \
		bash -c "[ -z \"\$(ls -A '$T/spool/msg' 2>/dev/null)\" ]"
done

# --- SIGTERM while the content filter runs ----------------------------------
write_conf "filter $T/filter"
printf 'EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@test.example>\r\nDATA\r\nSubject: f\r\n\r\nx\r\n.\r\nQUIT\r\n' >"$T/d3"
n=$(first_tmp_open "$T/d3")
fresh
rm -f "$T/filter.pid"
got=$(FI_DIR="$T/spool" FI_FAIL=${n:-0} FI_ERRNO=95 LD_PRELOAD="$T/fi.so" ASAN_OPTIONS="$ASAN_SHIM" \
	timeout 60 $PY "$T/run.py" filter "$BIN/smtp-session" "$T/conf" "$T")
expect_eq "SIGTERM while the filter runs: dies of it, no 250" "$got" "the filter runs
died of the signal
no 250 after DATA"
gone() {   # gone PID - no such process (or a zombie) within 5 s
	for _ in $(seq 100); do
		[ -e "/proc/$1" ] || return 0
		grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
fpid=$(cat "$T/filter.pid" 2>/dev/null)
check "... the filter's process group is killed" gone "${fpid:-0}"
check "... nothing is left in tmp/ (its named files tmp/ID.msg, tmp/ID.new)" tmp_empty
check "... the mailbox is unchanged" cmp -s "$T/mail/alice" "$T/alice.before"
[ -n "$fpid" ] && kill -9 -- "-$fpid" 2>/dev/null
exit 0
