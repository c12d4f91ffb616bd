/* auth: bearer-token loading and constant-time check (see auth.h). */
#include "auth.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int auth_load_key(const char *path, char *out, size_t cap, char *err, size_t errlen)
{
    int rc = -1;
    char line[AUTH_KEY_MAX + 2];
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read api key file %s: %s", path, strerror(errno));
        goto out;
    }
    if (!fgets(line, sizeof line, f)) line[0] = '\0';
    size_t n = strlen(line);
    if (n == sizeof line - 1 && line[n - 1] != '\n') {
        snprintf(err, errlen, "api key in %s is longer than %d bytes", path, AUTH_KEY_MAX);
        goto out;
    }
    while (n && isspace((unsigned char)line[n - 1])) line[--n] = '\0';
    const char *s = line;
    while (isspace((unsigned char)*s)) s++;
    if (!*s || strlen(s) + 1 > cap) {
        snprintf(err, errlen, "api key file %s is empty", path);
        goto out;
    }
    memcpy(out, s, strlen(s) + 1);
    rc = 0;
out:
    if (f) fclose(f);
    return rc;
}

bool auth_check(const char *header, const char *key)
{
    if (!header || strncasecmp(header, "Bearer ", 7) != 0) return false;
    const char *got = header + 7;
    while (*got == ' ') got++;
    size_t gl = strlen(got), kl = strlen(key);
    if (kl == 0) return false;
    /* Walk the whole of the given token; compare against the key cyclically so
     * the time does not depend on where the bytes differ. */
    unsigned diff = (unsigned)(gl ^ kl);
    for (size_t i = 0; i < gl; i++) diff |= (unsigned char)got[i] ^ (unsigned char)key[i % kl];
    return diff == 0;
}
