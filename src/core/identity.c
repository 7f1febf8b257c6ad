/* The acting identity (see identity.h): getpwuid_r(geteuid()) and the host. */
#include "core/identity.h"

#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void identity_user(char *out, size_t len)
{
    uid_t uid = geteuid();
    struct passwd pw, *found = NULL;
    char buf[1024];
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found && found->pw_name && *found->pw_name)
        snprintf(out, len, "%s", found->pw_name);
    else
        snprintf(out, len, "uid %u", (unsigned)uid);
}

void identity_host(char *out, size_t len)
{
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) < 0 || !host[0])
        snprintf(host, sizeof host, "unknown");
    snprintf(out, len, "%s", host);
}

void identity_actor(char *out, size_t len)
{
    char user[128], host[256];
    identity_user(user, sizeof user);
    identity_host(host, sizeof host);
    snprintf(out, len, "%s@%s", user, host);
}
