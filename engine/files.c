/*
 * files.c — small file-system helpers shared by every module: creating a directory
 * path, and writing a file atomically (temporary file, fsync, rename, directory fsync).
 */
#include "engine_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

ks_status ks_mkdirs(const char *path, ks_error *err)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len >= sizeof buf)
        return ks_error_set_at(err, KS_ERR_IO, path, 0, 0, "path too long");
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++)
        if (buf[i] == '/' || buf[i] == '\0') {
            char ch = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return ks_error_set(err, KS_ERR_IO, "cannot create directory %s: %s", buf,
                                    strerror(errno));
            buf[i] = ch;
        }
    return KS_OK;
}

/* After the rename, make the directory entry durable too (best effort: the file is in place). */
void ks_sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    int fd = dir ? open(dir, O_RDONLY) : -1;
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

ks_status ks_write_file_atomic(const char *path, const unsigned char *buf, size_t len,
                               ks_error *err)
{
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    const char *step = "create";
    FILE *f;
    int e = 0;
    if (!tmp)
        return ks_error_set_at(err, KS_ERR_NOMEM, path, 0, 0, "out of memory");
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    errno = 0;
    if (!(f = fopen(tmp, "wb"))) {
        e = errno ? errno : EIO;
    } else {
        step = "write";
        if (fwrite(buf, 1, len, f) != len)
            e = errno ? errno : EIO;
        step = e ? step : "flush";
        if (!e && (fflush(f) != 0 || fsync(fileno(f)) != 0))
            e = errno ? errno : EIO;
        if (fclose(f) != 0 && !e) {
            step = "close";
            e = errno ? errno : EIO;
        }
        if (!e && rename(tmp, path) != 0) {
            step = "rename";
            e = errno ? errno : EIO;
        }
        if (e)
            remove(tmp);
    }
    if (!e)
        ks_sync_dir(path);
    else
        ks_error_set_at(err, KS_ERR_IO, path, 0, 0, "cannot %s %s: %s", step, tmp, strerror(e));
    free(tmp);
    return e ? KS_ERR_IO : KS_OK;
}
