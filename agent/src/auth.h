/* auth: optional bearer-token check for the /v1 endpoints.
 *
 * The key comes from --api-key-file (first line, surrounding whitespace
 * trimmed). auth_check compares in time that depends only on the lengths,
 * never on where the first difference is.
 *
 * Threads: any; pure functions. The key is never logged.
 */
#ifndef AGENT_AUTH_H
#define AGENT_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_KEY_MAX 512

/* Read the key into out (cap bytes incl. NUL). 0, or -1 with a reason in err
 * (cannot read, empty, too long). */
int auth_load_key(const char *path, char *out, size_t cap, char *err, size_t errlen);
/* header: the Authorization header value or NULL. True iff it is
 * "Bearer <key>" (scheme case-insensitive). */
bool auth_check(const char *header, const char *key);

#endif
