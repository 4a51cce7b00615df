#!/usr/bin/python3
"""make-corpus.py - write the debug sink's test messages into this directory.

    /usr/bin/python3 tests/debug/make-corpus.py

ok-*.eml are well-formed messages made with Python's email package;
bad-*.eml are malformed by hand. Each is staged as smtp-session stages a
message: our Received header first, LF line ends. The expected reports
(NAME.out) are reviewed by hand and kept next to them; the generator is
kept so the messages can be remade, not run by the tests.
"""
import os
from email.message import EmailMessage
from email.headerregistry import Address
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.mime.base import MIMEBase
from email.header import Header
from email import encoders, policy

HERE = os.path.dirname(os.path.abspath(__file__))
RECEIVED = (b"Received: from client.example ([127.0.0.1])\n"
            b"\tby mx.test.example with ESMTP id 0123456789AB\n"
            b"\tfor <bob@test.example>; Mon, 01 Jan 2024 10:00:00 +0000\n")
DATE = "Mon, 01 Jan 2024 09:59:58 +0000"


def stage(msg):
    """bytes of MSG as smtp-session stages them."""
    if isinstance(msg, bytes):
        raw = msg
    else:
        raw = msg.as_bytes(policy=msg.policy.clone(linesep="\n"))
    return RECEIVED + raw.replace(b"\r\n", b"\n")


def write(name, msg):
    with open(os.path.join(HERE, name + ".eml"), "wb") as f:
        f.write(stage(msg))


def fixed_boundaries(msg, prefix="b"):
    """Give every multipart a boundary of its own, not a random one."""
    n = 0
    for part in msg.walk():
        if part.get_content_maintype() == "multipart":
            n += 1
            part.set_boundary("%s%d-=_boundary" % (prefix, n))
    return msg


def ok_alternative():
    m = EmailMessage()
    m["From"] = Address("Алиса Иванова", "alice", "example.org")
    m["To"] = "bob@test.example, \"Zoë Ärger\" <zoe@test.example>"
    m["Cc"] = "carol@test.example"
    m["Date"] = DATE
    m["Subject"] = "Привет, мир! Ünïcödé subject"
    m.set_content("Hello, Wörld!\nВторая строка.\n\n-- \nAlice\n",
                  charset="utf-8", cte="base64")
    m.add_alternative("<html><body><p>Hello, <b>W&ouml;rld</b>!</p>"
                      "<p>Вторая строка.</p></body></html>\n",
                      subtype="html", charset="utf-8", cte="base64")
    write("ok-alternative", fixed_boundaries(m))


def ok_cp1251_qp():
    m = EmailMessage()
    m["From"] = str(Header("Борис", "koi8-r")) + " <boris@example.ru>"
    m["To"] = "bob@test.example"
    m["Date"] = DATE
    m["Subject"] = Header("Отчёт за квартал", "koi8-r").encode()
    m.set_content("Добрый день!\nЭто письмо в кодировке windows-1251, "
                  "закодировано quoted-printable; строка достаточно длинная, "
                  "чтобы её разбили мягкими переносами строк.\n"
                  "Trailing spaces here:   \nКонец.\n",
                  charset="windows-1251", cte="quoted-printable")
    write("ok-cp1251-qp", m)


def ok_koi8_subjects():
    m = MIMEText("Тело письма в KOI8-R.\n", "plain", "koi8-r")
    m["From"] = Header("Дмитрий Петров", "koi8-r").encode() + \
        " <dmitry@example.ru>"
    m["To"] = Header("Ирина", "iso-8859-5").encode() + " <irina@test.example>"
    # Q encoding in koi8-r, then two adjacent B words, then plain text.
    subj = Header("Совещание", "koi8-r", header_name="Subject")
    q = "=?koi8-r?q?" + "".join("=%02X" % c for c in "Срочно:".encode("koi8-r")) + "?="
    m["Subject"] = q + " " + subj.encode() + " (" + \
        Header("в понедельник", "windows-1251").encode() + ") ok"
    m["Date"] = DATE
    write("ok-koi8-subjects", m)


def ok_attachments():
    m = EmailMessage()
    m["From"] = "App <noreply@app.example>"
    m["To"] = "dev@test.example"
    m["Date"] = DATE
    m["Subject"] = "Your invoice"
    m.set_content("Please find the invoice attached.\n")
    m.add_attachment(bytes(range(256)) * 40, maintype="application",
                     subtype="pdf", filename="invoice-2024-01.pdf")
    m.add_attachment(b"\x89PNG\r\n\x1a\n" + b"\0" * 1200, maintype="image",
                     subtype="png", filename="логотип.png")
    m.add_attachment("a,b,c\n1,2,3\n", subtype="csv", filename="data.csv")
    m.add_attachment("notes as text\n", filename="notes.txt")
    write("ok-attachments", fixed_boundaries(m))


def ok_forward():
    inner = EmailMessage()
    inner["From"] = "Carol <carol@example.net>"
    inner["To"] = "alice@example.org"
    inner["Date"] = "Sun, 31 Dec 2023 23:00:00 +0100"
    inner["Subject"] = "Bonne année"
    inner.set_content("Bonne année à tous !\n", charset="iso-8859-1",
                      cte="quoted-printable")
    inner.add_alternative("<p>Bonne ann&eacute;e &agrave; tous !</p>",
                          subtype="html")
    inner.add_attachment(b"BEGIN:VCARD\nEND:VCARD\n", maintype="text",
                         subtype="vcard", filename="carol.vcf")
    fixed_boundaries(inner, "inner")
    m = EmailMessage()
    m["From"] = "Alice <alice@example.org>"
    m["To"] = "bob@test.example"
    m["Date"] = DATE
    m["Subject"] = "Fwd: Bonne année"
    m.set_content("See below.\n")
    m.add_attachment(inner)
    write("ok-forward", fixed_boundaries(m, "outer"))


def ok_html_only():
    m = EmailMessage()
    m["From"] = "news@example.com"
    m["To"] = "bob@test.example"
    m["Date"] = DATE
    m["Subject"] = "Newsletter"
    m.set_content("<!DOCTYPE html>\n<html><head><title>Hidden title</title>"
                  "<style>body { color: red }</style>\n"
                  "<script>var a = '<p>not text</p>';</script></head>\n"
                  "<body><!-- a comment <b>with tags</b> -->\n"
                  "<h1>Caf\u00e9   news</h1>\n"
                  "<p>Line one<br>line two<br><br>after a blank line</p>\n"
                  "<table><tr><td>cell 1</td><td>cell 2</td></tr></table>\n"
                  "<p>5 &lt; 6 &amp;&amp; 7 &gt; 3, &quot;quoted&quot; "
                  "&#8364;10 &#x41;&bogus; &amp</p>\n"
                  "<a href=\"http://x.example/?a=1&b=2\" title='a > b'>link</a>"
                  "</body></html>\n",
                  subtype="html", charset="iso-8859-1",
                  cte="quoted-printable")
    write("ok-html-only", m)


def ok_html_first():
    # An alternative with the HTML part first: text/plain still wins.
    m = MIMEMultipart("alternative")
    m["From"] = "odd@example.com"
    m["To"] = "bob@test.example"
    m["Date"] = DATE
    m["Subject"] = "HTML first"
    m.attach(MIMEText("<p>rich</p>", "html", "us-ascii"))
    m.attach(MIMEText("plain\n", "plain", "us-ascii"))
    write("ok-html-first", fixed_boundaries(m))


def ok_related():
    # alternative(plain, related(html, image)) inside mixed with a PDF.
    m = EmailMessage()
    m["From"] = "Mailer <m@example.com>"
    m["To"] = "bob@test.example"
    m["Date"] = DATE
    m["Subject"] = "Related parts"
    m.set_content("The plain version.\n")
    m.add_alternative("<p>The <img src=\"cid:logo\"> rich version.</p>",
                      subtype="html")
    m.get_payload()[1].add_related(b"GIF89a" + b"\0" * 30, "image", "gif",
                                   cid="<logo>")
    m.add_attachment(b"%PDF-1.4\n" * 10, maintype="application",
                     subtype="pdf", filename="a.pdf")
    write("ok-related", fixed_boundaries(m))


def ok_digest():
    m = MIMEMultipart("digest")
    m["From"] = "list@example.com"
    m["To"] = "bob@test.example"
    m["Date"] = DATE
    m["Subject"] = "Digest, Vol 1"
    for i in (1, 2):
        inner = MIMEText("Digest entry %d.\n" % i, "plain", "us-ascii")
        inner["From"] = "poster%d@example.com" % i
        inner["Subject"] = "Entry %d" % i
        part = MIMEBase("message", "rfc822")
        part.set_payload([inner])
        del part["MIME-Version"]
        del part["Content-Type"]       # the digest default
        part.set_default_type("message/rfc822")
        m.attach(part)
    write("ok-digest", fixed_boundaries(m))


def ok_long_lines():
    m = EmailMessage()
    m["From"] = "long@example.com"
    m["To"] = "bob@test.example"
    m["Date"] = DATE
    m["Subject"] = "Long " * 150
    m.set_content("short line\n" + "x" * 1200 + "\n" + "ж" * 700 + "\n" +
                  "\t tab\tand\x07bell\x1b[31mescape\u202eRLO\u0085NEL\n",
                  charset="utf-8", cte="8bit")
    write("ok-long-lines", m)


def bad(name, data):
    with open(os.path.join(HERE, name + ".eml"), "wb") as f:
        f.write(RECEIVED + data)


def bad_messages():
    hdr = (b"From: a@example.com\nTo: b@test.example\nDate: " +
           DATE.encode() + b"\n")
    bad("bad-no-closing-boundary", hdr +
        b"Subject: no closing boundary\nContent-Type: multipart/mixed; boundary=XX\n\n"
        b"preamble\n--XX\nContent-Type: text/plain\n\nfirst part\n--XX\n"
        b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
        b"AAECAwQF\n")
    bad("bad-wrong-boundary", hdr +
        b"Subject: wrong boundary\nContent-Type: multipart/alternative; boundary=\"right\"\n\n"
        b"--wrong\nContent-Type: text/plain\n\nthe text is still shown\n--wrong--\n")
    bad("bad-no-boundary-param", hdr +
        b"Subject: no boundary\nContent-Type: multipart/mixed\n\n"
        b"--x\nContent-Type: text/plain\n\nhello\n--x--\n")
    bad("bad-base64", hdr +
        b"Subject: bad base64\nContent-Type: multipart/mixed; boundary=B\n\n"
        b"--B\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
        b"SGVsbG8s!!IHdvcmxk\n*** not base64 ***\nIQ\n"
        b"--B\nContent-Type: application/zip; name=x.zip\nContent-Transfer-Encoding: base64\n\n"
        b"UEsDBA=\n=\nx\n--B--\n")
    bad("bad-base64-padding", hdr +
        b"Subject: =?utf-8?b?w6k=w6k=?= and =?utf-8?b?w6k?=\n"
        b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
        b"SGVsbG8=LCB3b3JsZA==\nIQ=\n")
    bad("bad-qp", hdr +
        b"Subject: bad qp\nContent-Type: text/plain; charset=iso-8859-1\n"
        b"Content-Transfer-Encoding: quoted-printable\n\n"
        b"caf=E9 =ZZ =4 end=\nsoft =  \nbreak=3d=3D ok=\n")
    bad("bad-charsets", hdr +
        b"Subject: =?x-klingon?q?qapla=27?= and =?utf-8?b?!!!?= and "
        b"=?utf-8?z?zzz?= and =?utf-8?q?unterminated\n"
        b"Content-Type: multipart/mixed; boundary=C\n\n"
        b"--C\nContent-Type: text/plain; charset=x-unknown-8bit\n\n"
        b"caf\xc3\xa9 and raw \xe9\n"
        b"--C\nContent-Type: text/plain; charset=\"us-ascii\"\n\n"
        b"8-bit in ascii: caf\xc3\xa9\n"
        b"--C\nContent-Type: text/plain; charset=utf-8\n\n"
        b"bad utf-8: \xff\xfe \xed\xa0\x80 \xc3 end\n"
        b"--C\nContent-Type: text/plain; charset=ks_c_5601-1987\n\n" +
        "Korean, as Outlook labels it: 안녕\n".encode("cp949") +
        b"--C\nContent-Type: text/plain; charset=\"utf-8//TRANSLIT\"\n\n"
        b"odd name\n--C--\n")
    deep = hdr + b"Subject: deep nesting\n"
    for i in range(30):
        deep += b"Content-Type: multipart/mixed; boundary=L%d\n\n--L%d\n" % (i, i)
    deep += b"Content-Type: text/plain\n\ndeepest text\n"
    for i in reversed(range(30)):
        deep += b"--L%d--\n" % i
    bad("bad-deep-nesting", deep)
    deepmsg = b""
    for i in range(25):
        deepmsg += b"Subject: level %d\nContent-Type: message/rfc822\n\n" % i
    bad("bad-deep-messages", hdr + deepmsg + b"Subject: bottom\n\nbottom text\n")
    bad("bad-no-blank-line", b"From: a@example.com\nSubject: x\nthis line is not a header\n"
        b"second body line\n")
    bad("bad-controls", b"From: evil\x1b[2J@example.com\nSubject: nul\x00byte and \xe2\x80\xae"
        b"bidi\r and cr\nTo: \x7fdel\n\nbody with nul \x00 and cr\r in line\r\n"
        b"crlf line\r\n\x1b]0;title\x07\n")
    bad("bad-truncated-base64", hdr + b"Subject: truncated\n"
        b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
        b"0J/RgNC40LLQtdGC\n0L")
    bad("bad-truncated-headers", b"From: a@example.com\nSubject: =?utf-8?b?0J/R")
    bad("bad-empty", b"")
    bad("bad-headers-only", hdr + b"Subject: only headers\n")
    long_subject = b"Subject: " + b"=?utf-8?b?0J/RgNC40LLQtdGC?= " * 400 + b"\n"
    bad("bad-huge-header", hdr + long_subject + b"X-Long: " + b"y" * 20000 +
        b"\n\tcontinued\n\nbody\n")
    bad("bad-long-line", hdr + b"Subject: a line longer than the reader's piece\n\n" +
        b"z" * 9000 + b"\n--not-a-boundary\n")
    bad("bad-boundary-prefix", hdr +
        b"Subject: boundary prefixes\nContent-Type: multipart/mixed; boundary=ab\n\n"
        b"--ab\nContent-Type: multipart/alternative; boundary=abc\n\n"
        b"--abc\nContent-Type: text/plain\n\ninner\n--abc--\n--ab\n"
        b"Content-Type: text/plain\n\nouter\n--ab--  \nepilogue\n")
    bad("bad-header-in-boundary", hdr +
        b"Subject: part without body\nContent-Type: multipart/mixed; boundary=\"q\"\n\n"
        b"--q\nContent-Type: text/plain\n--q\nContent-Type: message/rfc822\n--q\n"
        b"Content-Type: bogus\n\nbogus type body\n--q\n"
        b"Content-Type: text/html\nContent-Transfer-Encoding: x-uuencode\n\n<p>x</p>\n--q--\n")
    bad("bad-crlf", (hdr + b"Subject: CRLF throughout\nContent-Type: multipart/mixed; boundary=\"c\"\n\n"
        b"--c\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
        b"line one\nline two=\n joined=C3=A9\n--c--\n").replace(b"\n", b"\r\n"))
    bad("bad-rfc2231", hdr +
        b"Subject: file names\nContent-Type: multipart/mixed; boundary=F\n\n"
        b"--F\nContent-Type: application/octet-stream\n"
        b"Content-Disposition: attachment; filename*0*=utf-8''%D0%BE%D1%82; filename*1*=%D1%87%D1%91%D1%82;\n"
        b" filename*2=\".txt\"\n\nabc\n"
        b"--F\nContent-Type: application/octet-stream; name=\"=?utf-8?q?=C3=A9t=C3=A9.bin?=\"\n\nxyz\n"
        b"--F\nContent-Type: application/octet-stream; name=\"quo\\\"te\\\\.bin\"\n\n\n"
        b"--F\nContent-Type: application/octet-stream\n"
        b"Content-Disposition: attachment; filename*=x-nope''%E9t%E9.bin\n\nq\n--F--\n")


def main():
    ok_alternative()
    ok_cp1251_qp()
    ok_koi8_subjects()
    ok_attachments()
    ok_forward()
    ok_html_only()
    ok_html_first()
    ok_related()
    ok_digest()
    ok_long_lines()
    bad_messages()


if __name__ == "__main__":
    main()
