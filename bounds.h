/*
 * bounds.h - every limit of the product, named, with its unit.
 *
 * Network input is hostile: each buffer that holds client or server text
 * has its size here, and the code checks against these names only.
 */
#ifndef BOUNDS_H
#define BOUNDS_H

/* SMTP line lengths, in octets including the CRLF (RFC 5321 4.5.3.1). */
#define SMTP_CMD_MAX        512     /* ordinary command line */
#define SMTP_MAILRCPT_MAX   1000    /* MAIL/RCPT with parameters */
#define SMTP_AUTH_MAX       12288   /* AUTH lines (RFC 4954 section 4) */
#define SMTP_REPLY_MAX      512     /* one reply line we send or read */
#define SMTP_TEXT_LINE_MAX  1000    /* text line, relay-agent folds longer */
#define LINE_BUF_MAX        (SMTP_AUTH_MAX + 2) /* largest line we keep */

/* Address parts (RFC 5321 4.5.3.1). */
#define LOCALPART_MAX       64      /* octets */
#define DOMAIN_MAX          255     /* octets */
#define ADDR_MAX            256     /* octets, path without brackets */
#define HELO_MAX            255     /* octets kept of the HELO argument */

/* Session. */
#define SESSION_ERRORS_MAX  10      /* 5xx replies before 421 and close */
#define RCPT_OVERSHOOT_MAX  1000    /* RCPTs past the recipient limit in one
                                       transaction before each further one
                                       counts as an error (Postfix's
                                       smtpd_recipient_overshoot_limit) */
#define AUTH_FAILURES_MAX   3       /* failed AUTH attempts before 421 */
#ifndef AUTH_FAIL_DELAY_MS
#define AUTH_FAIL_DELAY_MS  1000    /* ms of pause before each 535 */
#endif
#define AUTH_FIELD_MAX      255     /* octets of a user name or password
                                       (RFC 4616) */
#define HOPS_MAX            50      /* Received headers before 554 5.4.6 */
#define JUNK_COMMANDS_MAX   100     /* NOOP, RSET, VRFY, HELP and repeated
                                       HELO/EHLO since the last accepted
                                       message before 421 4.7.0 */
#define FD_SPARE            64      /* descriptors kept beyond the mailboxes
                                       of one message (log, spool, filter) */
#define RCPT_EXPAND_MAX     1000    /* addresses one recipient may expand to */
#define INJECT_TARGETS_MAX  RCPT_EXPAND_MAX /* distinct mailboxes and foreign
                                       targets of one message */
#define IO_BUF_SIZE         65536   /* octets: every streaming buffer */
#define LR_BUF_SIZE         16384   /* octets the line reader reads at once
                                       (lines may be longer: they are
                                       copied out piece by piece) */
#define QUEUE_ID_MAX        32      /* octets of a queue id, with NUL */
#define STAGE_MEM_MAX       65536   /* octets of a message's stored text
                                       (our Received header included) kept
                                       in memory, not in a staging file */

/* Content filter (filter.c). */
#define FILTER_ARGS_MAX     32      /* words of the filter command line */
#define FILTER_ERR_MAX      200     /* octets kept of its first stderr line */
#define FILTER_RCPTS_ENV_MAX 65536  /* octets of SMTP_RECIPIENTS (whole lines;
                                       the kernel takes at most 128 KiB in
                                       one environment string) */

/* Configuration. */
#define CONF_LINE_MAX       4096    /* octets of one configuration line */
#define CONF_PATH_MAX       4096    /* octets of a configured path, with NUL */
#define FILE_PATH_MAX       (CONF_PATH_MAX + 128) /* a configured directory
                                       and a name below it, with NUL */
#define CONF_STRINGS_MAX    (12 * CONF_PATH_MAX) /* octets of the path values
                                       of one configuration, NULs included
                                       (each of them given at most once) */
#define CONF_DOMAINS_MAX    64      /* domain lines */
#define CONF_CIDRS_MAX      64      /* relay_from networks */
#define CONF_NAMESERVERS_MAX 6      /* udns limit (dns_add_serv_s) */
#define USERS_MAX           10000   /* entries in the users file */
#define ALIAS_TARGETS_MAX   100     /* targets of one alias line */
#define ALIAS_DEPTH_MAX     10      /* nesting of aliases */
#define USER_NAME_MAX       64      /* octets of a mailbox name */
#define ALIASES_LINE_MAX    65536   /* octets of one aliases(5) entry with
                                       its continuation lines */
#define TIMEOUT_MAX_SEC     86400   /* longest timeout key (1 day) */

/* Local delivery. */
#define LOCK_WAIT_MAX_MS    30000   /* give up on a mailbox lock (451 4.2.0) */
#define LOCK_RETRY_MIN_MS   5       /* random back-off between lock tries */
#define LOCK_RETRY_MAX_MS   50
#define DOTLOCK_STALE_SEC   600     /* a dotlock older than this is removed */
#define TURN_REARM_MS       20      /* ms between the signals that end a wait
                                       for a turn once its deadline passed */
#define DELIVER_FD_SPARE    8       /* descriptors a delivery needs besides
                                       its mailboxes (dotlock, spool commit) */

/* Spool. */
#define SPOOL_RCPTS_MAX     RCPT_EXPAND_MAX /* recipients in one envelope */
#define SPOOL_TMP_STALE_SEC 86400   /* staging file left by a crash */
#define SPOOL_REPLY_MAX     SMTP_REPLY_MAX  /* last reply kept per recipient */

/* relay-agent. */
#define DNS_MX_MAX          16      /* MX hosts kept per domain */
#define DNS_ADDRS_MAX       8       /* addresses kept per MX host */
#define SMTP_REPLY_LINES_MAX 100    /* lines of one multi-line server reply */
#define RELAY_ACTIVE_MAX    1000    /* messages locked at once in one pass */
#define RELAY_TXN_RCPTS_MAX 100     /* RCPTs in one transaction (RFC 5321
                                       4.5.3.1.8: the minimum a server takes) */
#define RELAY_ADDRS_TRIED_MAX 5     /* addresses tried per delivery (Postfix's
                                       smtp_mx_address_limit) */
#define RELAY_CONCURRENCY_START 5   /* deliveries at once to a new destination
                                       (Postfix's initial_destination_
                                       concurrency); grows by one per
                                       delivery a server accepts a
                                       recipient of */
#define RELAY_ADDR_FAILS_MAX 3      /* failed connections in a row to an
                                       address that worked in this pass, with
                                       no other open to it, before it is down
                                       for the pass */
#define RELAY_LOCAL_WORKERS 4       /* processes delivering queued mail to
                                       local mailboxes at once (one mailbox
                                       at a time each) */
#define RELAY_LOCAL_LOCK_WAIT_MS 3000 /* ms a queued local copy waits for its
                                       mailbox's lock before it is deferred
                                       (it stays queued: no need for the
                                       30 s a client is given); also the
                                       pickup's sessions' wait, whose busy
                                       copies then wait in the queue */
#define RELAY_FLUSH_MS      500     /* ms at most between a reply and its
                                       outcome written to the envelope */
#define RELAY_STOP_GRACE_MS 3000    /* ms workers get to report after SIGTERM */
#define RELAY_REPLY_LINE_MAX 2048   /* octets of a server reply line read
                                       (Postfix's line_length_limit);
                                       only SMTP_REPLY_MAX are kept */
#define RELAY_ADMIN_LOCK_WAIT_MS 10000 /* ms a queue command waits for a
                                       message another pass delivers */
#define MIME7_LEAVES_MAX    1024    /* body parts of a message made 7-bit */
#define MIME7_PIECE_MAX     1024    /* octets of a line looked at at once
                                       when making a message 7-bit */
#define DNS_INFLIGHT_MAX    150     /* DNS queries outstanding at once */
#define DNS_RCVBUF          (1024 * 1024) /* octets of the resolver's UDP
                                       receive buffer asked for */
#define DNS_SELF_ADDRS_MAX  64      /* addresses of this host remembered */
#define RELAY_CONN_REUSE_MAX 100    /* messages sent over one connection
                                       before QUIT and a new one (Postfix's
                                       smtp_connection_reuse_count_limit) */
#define RELAY_QUIT_TIMEOUT  5       /* seconds to wait for the reply to QUIT */
#define RELAY_DATA_RATE_MIN 1024    /* octets/s a server must take the message
                                       text at, on average (smtp-client.c) */
#define BOUNCE_HEADERS_MAX  65536   /* octets of original headers in a DSN */
#define SPOOL_ORPHAN_STALE_SEC 3600 /* msg/ file without env/ kept this long */

/* The host's own mail: sendmail, the maildrop, the pickup, system users. */
#define SENDMAIL_HEADER_MAX 1048576 /* octets of a message's header section
                                       sendmail holds (for -t and the
                                       headers it adds); longer: refused */
#define MAILDROP_FILE_MAX   (1L << 30) /* octets smtp-postdrop takes at most */
#define MAILDROP_FRAMING_MAX ((RCPT_EXPAND_MAX + 4) * SMTP_MAILRCPT_MAX) /* octets
                                       of SMTP around the message in a
                                       dropped file (EHLO, MAIL, RCPTs,
                                       DATA, the dot, QUIT): smtp-postdrop
                                       takes max_message_size and this */
#define PICKUP_ROUNDS_MAX   10      /* maildrop listings in one pickup run */
#define PICKUP_NAMES_MAX    10000   /* names one maildrop listing keeps */
#define PICKUP_REAP_MS      5000    /* ms a pickup waits for its session
                                       (and its writer) to end, then kills */
#define PICKUP_FEEDS_MAX    10      /* transactions one dropped file may
                                       take in one pickup run (recipients
                                       refused for now are fed again) */
#define FORWARD_FILE_MAX    8192    /* octets of a ~/.forward file */
#define FORWARD_REASON_MAX  256     /* octets of why a ~/.forward was not
                                       read, in the helper's answer */
#define EXPAND_STEPS_MAX    (10 * RCPT_EXPAND_MAX) /* alias and .forward
                                       targets and names looked at while
                                       expanding one recipient (users
                                       system); past it: 452 4.5.3 */
#define CONF_REPORTS_MAX    20      /* errors reported from one aliases file */
#define MKMBOX_LINE_MAX     128     /* octets of a mailbox helper request or
                                       answer, with the LF */
#define MKMBOX_WAIT_MS      10000   /* wait for the mailbox helper's answer */

#define QUEUE_MINFREE_MAX   (1L << 50) /* octets: the largest queue_minfree */

/* Defaults of the configuration keys. */
#define DEF_MAX_MESSAGE_SIZE 26214400L  /* octets */
#define DEF_MAX_RECIPIENTS   100
#define DEF_TIMEOUT          300        /* seconds */
#define DEF_DNS_TIMEOUT      30         /* seconds */
#define DEF_CONNECT_TIMEOUT  30         /* seconds */
#define DEF_SMTP_TIMEOUT     300        /* seconds */
#define DEF_MAX_CONNECTIONS  20
#define DEF_DESTINATION_CONCURRENCY 20 /* Postfix's default_destination_
                                           concurrency_limit */
#define DEF_ADDRESS_CONNECTIONS 20
#define DEF_RETRY_MIN        900        /* seconds */
#define DEF_RETRY_MAX        14400      /* seconds */
#define DEF_QUEUE_LIFETIME   432000     /* seconds (5 days) */
#define DEF_REMOTE_PORT      25
#define DEF_SESSION_LIMIT    1800       /* seconds (30 minutes) */
#define DEF_FILTER_TIMEOUT   300        /* seconds */
#define DEF_SUBMIT_SOCKET    "/run/smtp-session/submit.sock"
#define DEF_MKMBOX_SOCKET    "/run/smtp-session/mkmbox.sock"
#define DEF_ALIASES_FILE     "/etc/aliases"     /* under users system */

/* Debug sink's message reader (mime.c): fixed-size state per message. */
#define MIME_DEPTH_MAX      16      /* nested multiparts and messages walked */
#define MIME_LINE_MAX       4096    /* octets of an input line looked at at
                                       once; longer lines come in pieces */
#define MIME_HEADER_MAX     4096    /* octets kept of one unfolded field */
#define MIME_BOUNDARY_MAX   200     /* octets of a boundary (RFC 2046: 70) */
#define MIME_PARAM_MAX      1024    /* octets of a decoded parameter value */
#define MIME_OUT_LINE_MAX   512     /* octets of one reported line; longer
                                       lines are split */
#define MIME_TEXT_MAX       1048576 /* octets of text shown per message */
#define MIME_PARTS_MAX      1000    /* body parts listed per message */
#define MIME_SERIALS_MAX    4096    /* containers remembered between the
                                       reader's two passes */
#define MIME_TYPE_MAX       128     /* octets of "type/subtype", NUL
                                       included; longer is a bad type */
#define MIME_CHARSET_MAX    48      /* octets of a charset name, NUL
                                       included; longer is unknown */
#define MIME_QP_WS_MAX      64      /* octets of white space the
                                       quoted-printable decoder holds back
                                       to drop it before a line end */

#endif
