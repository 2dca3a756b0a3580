/* Preloaded into pcscd (LD_PRELOAD) so that the vpcd virtual reader's card ports listen on loopback.
 *
 * Debian's vpcd (vsmartcard 3.3) binds its ports to INADDR_ANY, hard-coded: any host that reaches
 * the machine could insert a card. Its other mode (DEVICENAME localhost:0x8C7B), where pcscd connects
 * to the card instead, aborts pcscd ("bit out of range 0 - FD_SETSIZE on fd_set") at the first
 * presence poll of a slot without a card connection: slot 1 at once, slot 0 when its card leaves
 * (vsmartcard issue #224, fixed upstream after 3.3). So pcscd keeps the listening mode, and this
 * wrapper turns a bind to the wildcard address into a bind to the loopback address. pcscd binds
 * nothing else over IP (its clients use a Unix socket), so nothing else changes.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*bind_function)(int, const struct sockaddr *, socklen_t);

int bind(int fd, const struct sockaddr *address, socklen_t length)
{
    static bind_function real_bind;
    if (!real_bind)
        real_bind = (bind_function) dlsym(RTLD_NEXT, "bind");

    if (address && address->sa_family == AF_INET && length >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in loopback;
        memcpy(&loopback, address, sizeof loopback);
        if (loopback.sin_addr.s_addr == htonl(INADDR_ANY)) {
            loopback.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            return real_bind(fd, (const struct sockaddr *) &loopback, sizeof loopback);
        }
    }
    if (address && address->sa_family == AF_INET6 && length >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 loopback;
        memcpy(&loopback, address, sizeof loopback);
        if (IN6_IS_ADDR_UNSPECIFIED(&loopback.sin6_addr)) {
            loopback.sin6_addr = in6addr_loopback;
            return real_bind(fd, (const struct sockaddr *) &loopback, sizeof loopback);
        }
    }
    return real_bind(fd, address, length);
}
