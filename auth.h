/*
 * auth.h - check a user name and password against the auth_file.
 */
#ifndef AUTH_H
#define AUTH_H

/*
 * auth_check - RES_OK when FILE has a "USER:HASH" line whose crypt(3)
 * hash (yescrypt, SHA-512, bcrypt, ...) matches PASSWORD; RES_PERM when
 * the user is unknown or the password wrong; RES_TEMP when FILE cannot
 * be read or libcrypt cannot be loaded (it is loaded on the first call).
 */
int auth_check(const char *file, const char *user, const char *password);

/* auth_error - why the last auth_check returned RES_TEMP (for the log). */
const char *auth_error(void);

#endif
