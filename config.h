/*
 * config.h - the configuration file, read once (the users file: users.h).
 *
 * After config_load() the structure is read-only for the rest of the run.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

#include "bounds.h"

struct cidr {
	int family;                 /* AF_INET or AF_INET6 */
	unsigned char addr[16];     /* network address, network order */
	int prefix;                 /* prefix length in bits */
};

/* The configuration every program reads unless told otherwise (-c, -C);
 * the Makefile passes the installed SYSCONFDIR. */
#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define CONFIG_DEFAULT SYSCONFDIR "/smtp-session.conf"

struct user;

struct config {
	const char *file;               /* path of the configuration file */
	char hostname[DOMAIN_MAX + 1];
	char *domains[CONF_DOMAINS_MAX];    /* lower-cased */
	int ndomains;
	const char *users_file;         /* "system" under users system */
	int users_system;               /* users system: the host's accounts */
	const char *aliases_file;       /* "" when none */
	const char *mailbox_dir;
	const char *spool_dir;
	struct cidr relay_from[CONF_CIDRS_MAX];
	int nrelay_from;                /* 0 with relay_from none */
	const char *auth_file;          /* "" when unset */
	long max_message_size;          /* octets; 0 = no limit */
	long queue_minfree;             /* octets kept free in spool_dir */
	int max_recipients;
	int timeout;                    /* seconds */
	const char *log;                /* "syslog", "stderr" or a path */
	int log_transcript;
	struct sockaddr_storage nameservers[CONF_NAMESERVERS_MAX];
	int nnameservers;               /* 0: /etc/resolv.conf */
	int dns_timeout;                /* seconds */
	int remote_port;
	int connect_timeout;            /* seconds */
	int smtp_timeout;               /* seconds */
	char smarthost[DOMAIN_MAX + 1]; /* "" when unset */
	int smarthost_port;             /* 25 unless given */
	char smarthost_user[256];       /* "" when unset */
	char smarthost_password[1024];
	const char *smarthost_auth_file; /* "" when unset */
	const char *submit_socket;      /* sendmail's way in */
	const char *mkmbox_socket;      /* the mailbox helper */
	int tls_wrapped;
	int max_connections;
	int destination_concurrency;    /* deliveries at once to one destination */
	int address_connections;        /* connections at once to one address */
	int retry_min;                  /* seconds */
	int retry_max;                  /* seconds */
	int queue_lifetime;             /* seconds */
	int session_limit;              /* seconds: longest session */
	int require_auth;               /* MAIL needs a successful AUTH */
	char filter_line[CONF_LINE_MAX];/* the filter command as written */
	char *filter_argv[FILTER_ARGS_MAX + 1]; /* its words (in filter_words);
	                                   filter_argv[0] NULL when unset */
	char filter_words[CONF_LINE_MAX];
	int filter_timeout;             /* seconds */

	struct user *users;             /* sorted by lower-cased name */
	int nusers;

	/* The path values above point at a default or into STRINGS, where
	 * each value read is kept: one small area instead of an array of
	 * CONF_PATH_MAX per key, so that a program touches (and faults in)
	 * only the pages its values fill. Never NULL after config_load. */
	size_t strings_used;
	char strings[CONF_STRINGS_MAX];
};

/*
 * What config_load reads and requires. CONFIG_FULL: everything (domains,
 * the users or aliases file, the credentials files). CONFIG_DEBUG
 * (smtp-session -d): a missing file means the defaults, no domain or
 * users needed. CONFIG_CLIENT (sendmail, smtp-mkmbox, run by anyone):
 * the main file only; no other file is opened or required.
 */
enum config_mode { CONFIG_FULL, CONFIG_DEBUG, CONFIG_CLIENT };

/*
 * config_load - read FILE (and the users file it names) into CF.
 * Returns 0, or -1 with a message "FILE:LINE: what" in ERR.
 * In CONFIG_DEBUG mode a missing FILE is not an error (defaults apply).
 */
int config_load(struct config *cf, const char *file, enum config_mode mode,
                char *err, size_t errsz);

/*
 * config_load_fresh - config_load into a CF known to be all zeros (static
 * storage, or calloc'ed): it is not cleared again, so the pages of the
 * settings a file never sets are never touched (each first touch of a
 * page costs a page fault, in every process).
 */
int config_load_fresh(struct config *cf, const char *file, enum config_mode mode,
                      char *err, size_t errsz);

/* config_defaults - fill CF with every default. */
void config_defaults(struct config *cf);

/* config_minfree - octets that must stay free in spool_dir's file system
 * before a message is taken: queue_minfree, and at least 1.5 times
 * max_message_size (Postfix's rule). */
long long config_minfree(const struct config *cf);

/* config_is_local_domain - whether DOMAIN (any case) is one of ours. */
int config_is_local_domain(const struct config *cf, const char *domain);

/* config_relay_allowed - whether the peer address may relay. */
int config_relay_allowed(const struct config *cf, const struct sockaddr *sa);

/* config_addr_in_cidr - whether SA lies in C. */
int config_addr_in_cidr(const struct cidr *c, const struct sockaddr *sa);

/* config_error - "FILE:LINE: text" (LINE 0: "FILE: text") into ERR; -1. */
int config_error(char *err, size_t errsz, const char *file, int line,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* config_read_line - one line of F into BUF: 1, 0 at EOF, -1 too long
 * (the rest of that line is skipped). */
int config_read_line(FILE *f, char *buf, size_t bufsz);

/* config_trim - strip leading and trailing blanks (and a CR) in place. */
char *config_trim(char *s);

/* config_valid_domain - a host or domain name we accept in files. */
int config_valid_domain(const char *d);

/*
 * config_set_reporter - where the warnings found while reading the files
 * go (an unsupported alias, an ignored .forward line), and each error of
 * a file that can have several (the aliases file): FN(PRIO, TEXT), PRIO a
 * syslog priority. Without one they go nowhere.
 */
void config_set_reporter(void (*fn)(int prio, const char *text));

/* config_report - one warning or error line to the reporter. */
void config_report(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* config_free - release what config_load allocated. */
void config_free(struct config *cf);

#endif
