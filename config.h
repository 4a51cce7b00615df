/*
 * config.h - the configuration file and the users file, read once.
 *
 * After config_load() the structure is read-only for the rest of the run.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

#include "limits.h"

struct cidr {
	int family;                 /* AF_INET or AF_INET6 */
	unsigned char addr[16];     /* network address, network order */
	int prefix;                 /* prefix length in bits */
};

/* One line of the users file: a mailbox (ntargets == 0) or an alias. */
struct user {
	char name[USER_NAME_MAX + 1];   /* as written in the file */
	char **targets;                 /* alias targets as written */
	int ntargets;
	int line;                       /* line in the users file */
};

struct config {
	char file[4096];                /* path of the configuration file */
	char hostname[DOMAIN_MAX + 1];
	char *domains[CONF_DOMAINS_MAX];    /* lower-cased */
	int ndomains;
	char users_file[4096];
	char mailbox_dir[4096];
	char spool_dir[4096];
	struct cidr relay_from[CONF_CIDRS_MAX];
	int nrelay_from;                /* 0 with relay_from none */
	char auth_file[4096];           /* "" when unset */
	long max_message_size;          /* octets; 0 = no limit */
	int max_recipients;
	int timeout;                    /* seconds */
	char log[4096];                 /* "syslog", "stderr" or a path */
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
	int tls_wrapped;
	int max_connections;
	int retry_min;                  /* seconds */
	int retry_max;                  /* seconds */
	int queue_lifetime;             /* seconds */

	struct user *users;             /* sorted by lower-cased name */
	int nusers;
};

/* Whether local domains and the users file are required (not with -d). */
enum config_mode { CONFIG_FULL, CONFIG_DEBUG };

/*
 * config_load - read FILE (and the users file it names) into CF.
 * Returns 0, or -1 with a message "FILE:LINE: what" in ERR.
 * In CONFIG_DEBUG mode a missing FILE is not an error (defaults apply).
 */
int config_load(struct config *cf, const char *file, enum config_mode mode,
                char *err, size_t errsz);

/* config_defaults - fill CF with every default. */
void config_defaults(struct config *cf);

/* config_is_local_domain - whether DOMAIN (any case) is one of ours. */
int config_is_local_domain(const struct config *cf, const char *domain);

/* config_find_user - the users-file entry for NAME (any case), or NULL. */
const struct user *config_find_user(const struct config *cf, const char *name);

/* config_relay_allowed - whether the peer address may relay. */
int config_relay_allowed(const struct config *cf, const struct sockaddr *sa);

/* config_addr_in_cidr - whether SA lies in C. */
int config_addr_in_cidr(const struct cidr *c, const struct sockaddr *sa);

/*
 * Expansion of one recipient: the mailboxes and foreign addresses it
 * reaches. Mailbox names point into the users table (never client text).
 */
struct expansion {
	const char *mailboxes[RCPT_EXPAND_MAX];
	int nmailboxes;
	char *foreign[RCPT_EXPAND_MAX];     /* malloc'ed full addresses */
	int nforeign;
};

/*
 * config_expand_local - expand local part LOCAL (no +tag, any case) of a
 * local domain. Returns 1 when it names a user or alias, 0 when unknown.
 * Results are added to EX without duplicates. -1 if EX overflows.
 */
int config_expand_local(const struct config *cf, const char *local,
                        struct expansion *ex);

/* expansion_free - release the foreign addresses of EX. */
void expansion_free(struct expansion *ex);

/* config_free - release what config_load allocated. */
void config_free(struct config *cf);

#endif
