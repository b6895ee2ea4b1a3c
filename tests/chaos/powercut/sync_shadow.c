/* A disk that keeps only what was synced: LD_PRELOAD into a process to model a power cut.
 *
 * Every fsync/fdatasync of a file under $SYNC_WATCH_DIR copies the whole file, as it is at that moment, to the
 * same relative path under $SYNC_SHADOW_DIR (write to a temporary name, then rename). So the shadow folder
 * always holds each file as of its last sync: what a disk holds after the power goes, when every write the
 * kernel had not been asked to sync is lost. Files never synced are not in the shadow at all. This is the
 * pessimistic case (a real disk may have written some unsynced pages back), which is the one a durability
 * promise has to survive. A file deleted (a rollback journal at commit) leaves the shadow too: on a journaling
 * file system the deletion reaches the disk in order with what follows it. Build: cc -shared -fPIC -O2 -o sync_shadow.so sync_shadow.c -ldl -lpthread
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void make_parents(char *path) {
    for (char *p = path + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0700);
            *p = '/';
        }
    }
}

static void shadow(int fd) {
    const char *watch = getenv("SYNC_WATCH_DIR"), *root = getenv("SYNC_SHADOW_DIR");
    if (!watch || !root) return;
    char link[64], path[PATH_MAX], target[PATH_MAX], temp[PATH_MAX + 8];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return;
    path[n] = '\0';
    size_t w = strlen(watch);
    if (strncmp(path, watch, w) != 0 || path[w] != '/') return;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return; /* a directory sync: names are not modelled */
    snprintf(target, sizeof target, "%s%s", root, path + w);
    snprintf(temp, sizeof temp, "%s.part", target);
    pthread_mutex_lock(&lock);
    make_parents(target);
    int in = open(path, O_RDONLY); /* the synced fd may be write-only (an O_APPEND log) */
    int out = open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in >= 0 && out >= 0) {
        char buffer[65536];
        ssize_t got;
        while ((got = read(in, buffer, sizeof buffer)) > 0) {
            if (write(out, buffer, (size_t)got) != got) break;
        }
        rename(temp, target);
    }
    if (in >= 0) close(in);
    if (out >= 0) close(out);
    pthread_mutex_unlock(&lock);
}

static int real_unlink(const char *path) {
    static int (*real)(const char *);
    if (!real) real = (int (*)(const char *))dlsym(RTLD_NEXT, "unlink");
    return real(path);
}

static void forget(const char *path) {
    const char *watch = getenv("SYNC_WATCH_DIR"), *root = getenv("SYNC_SHADOW_DIR");
    char full[PATH_MAX], target[PATH_MAX];
    if (!watch || !root || !realpath(path, full)) return;
    size_t w = strlen(watch);
    if (strncmp(full, watch, w) != 0 || full[w] != '/') return;
    snprintf(target, sizeof target, "%s%s", root, full + w);
    pthread_mutex_lock(&lock);
    real_unlink(target);
    pthread_mutex_unlock(&lock);
}

int unlink(const char *path) {
    forget(path);
    return real_unlink(path);
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    int saved, result = real(fd);
    saved = errno;
    if (result == 0) shadow(fd);
    errno = saved;
    return result;
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    int saved, result = real(fd);
    saved = errno;
    if (result == 0) shadow(fd);
    errno = saved;
    return result;
}
