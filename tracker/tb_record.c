/*
 * tb_record.c — TensorBoard event files: TFRecord framing with masked CRC32C, TF2's
 * file naming, and one run's file (open with its version event, whole records written
 * and flushed one at a time, close).  The run directory is flock'ed while its file is
 * open, so that a second writer on it (thread or process) is refused (pitfall 14).
 */
#include "tb_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ----------------------------------------------------------------- CRC32C */

/* crc32c_table[i]: i run through 8 rounds of the reflected polynomial 0x82F63B78 */
static const uint32_t crc32c_table[256] = {
    0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c,
    0x26a1e7e8, 0xd4ca64eb, 0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b,
    0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24, 0x105ec76f, 0xe235446c,
    0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
    0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc,
    0xbc267848, 0x4e4dfb4b, 0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a,
    0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35, 0xaa64d611, 0x580f5512,
    0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
    0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad,
    0x1642ae59, 0xe4292d5a, 0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a,
    0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595, 0x417b1dbc, 0xb3109ebf,
    0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
    0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f,
    0xed03a29b, 0x1f682198, 0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927,
    0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38, 0xdbfc821c, 0x2997011f,
    0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
    0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e,
    0x4767748a, 0xb50cf789, 0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859,
    0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46, 0x7198540d, 0x83f3d70e,
    0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
    0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de,
    0xdde0eb2a, 0x2f8b6829, 0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c,
    0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93, 0x082f63b7, 0xfa44e0b4,
    0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
    0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b,
    0xb4091bff, 0x466298fc, 0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c,
    0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033, 0xa24bb5a6, 0x502036a5,
    0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
    0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975,
    0x0e330a81, 0xfc588982, 0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d,
    0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622, 0x38cc2a06, 0xcaa7a905,
    0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
    0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8,
    0xe52cc12c, 0x1747422f, 0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff,
    0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0, 0xd3d3e1ab, 0x21b862a8,
    0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
    0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78,
    0x7fab5e8c, 0x8dc0dd8f, 0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee,
    0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1, 0x69e9f0d5, 0x9b8273d6,
    0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
    0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69,
    0xd5cf889d, 0x27a40b9e, 0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e,
    0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};

uint32_t ks_crc32c(const void *p, size_t n)
{
    const unsigned char *d = p;
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++)
        crc = crc32c_table[(crc ^ d[i]) & 0xff] ^ (crc >> 8);
    return crc ^ 0xffffffffu;
}

uint32_t ks_crc32c_mask(uint32_t crc)
{
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

/* ---------------------------------------------------------------- framing */

static void put_le32(unsigned char *d, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        d[i] = (unsigned char)(v >> (8 * i));
}

void ks_tfrecord_begin(ks_pb_buf *b)
{
    unsigned char *d;
    ks_pb_clear(b);
    if ((d = ks_pb_grow(b, KS_TFRECORD_HEADER)))
        memset(d, 0, KS_TFRECORD_HEADER);
}

void ks_tfrecord_end(ks_pb_buf *b)
{
    uint64_t len;
    unsigned char *d;
    if (b->status != KS_OK)
        return;
    if (b->len < KS_TFRECORD_HEADER) {     /* no ks_tfrecord_begin: a bug */
        b->status = KS_ERR_CONFIG;
        return;
    }
    len = b->len - KS_TFRECORD_HEADER;
    for (int i = 0; i < 8; i++)
        b->data[i] = (unsigned char)(len >> (8 * i));
    put_le32(b->data + 8, ks_crc32c_mask(ks_crc32c(b->data, 8)));
    if ((d = ks_pb_grow(b, KS_TFRECORD_FOOTER)))
        put_le32(d, ks_crc32c_mask(ks_crc32c(b->data + KS_TFRECORD_HEADER, (size_t)len)));
}

ks_status ks_tfrecord_write(FILE *f, const ks_pb_buf *b, const char *path, ks_error *err)
{
    errno = 0;
    if (fwrite(b->data, 1, b->len, f) != b->len || fflush(f) != 0)
        return ks_error_set(err, KS_ERR_IO, "cannot write %s: %s", path,
                            errno ? strerror(errno) : "short write");
    return KS_OK;
}

/* ------------------------------------------------------------- file names */

int ks_tb_file_name(char *out, size_t size, int64_t secs, const char *host, long pid,
                    unsigned long counter)
{
    char h[256];
    size_t n = 0;
    for (const char *p = host ? host : ""; *p && n < sizeof h - 1; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '-' || c == '_';
        h[n++] = ok ? c : '_';
    }
    h[n] = 0;
    return snprintf(out, size, "events.out.tfevents.%010lld.%s.%ld.%lu.v2", (long long)secs,
                    n ? h : "localhost", pid, counter);
}

/*
 * TF2's per-process file counter.  The tracker's one mutable global, and inherently
 * one: the naming convention numbers a process's files 0, 1, 2 …  It is atomic, so
 * runs opened on several threads at once still get distinct numbers.
 */
static _Atomic unsigned long tb_file_counter;

/* ------------------------------------------------------------ directories */

/* mkdir -p dir */
static ks_status make_dirs(const char *dir, ks_error *err)
{
    char *p = strdup(dir);
    struct stat st;
    if (!p)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    for (char *s = p + 1; ; s++) {
        int end = *s == 0;
        if (*s == '/' || end) {
            *s = 0;
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                ks_status e = ks_error_set(err, KS_ERR_IO, "cannot create directory %s: %s",
                                           p, strerror(errno));
                free(p);
                return e;
            }
            if (end)
                break;
            *s = '/';
        }
    }
    free(p);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return ks_error_set(err, KS_ERR_IO,
                            "cannot use %s as a TensorBoard run directory: not a directory",
                            dir);
    return KS_OK;
}

/* The name that sorts last among the event files already in dir (malloc'd; NULL: none). */
static char *last_event_file(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char *last = NULL;
    if (!d)
        return NULL;
    while ((e = readdir(d)) != NULL) {
        if (!strstr(e->d_name, "tfevents") || (last && strcmp(e->d_name, last) <= 0))
            continue;
        free(last);
        last = strdup(e->d_name);
    }
    closedir(d);
    return last;
}

/* The 10-digit seconds of a TF-named event file, or -1. */
static int64_t name_secs(const char *name)
{
    static const char prefix[] = "events.out.tfevents.";
    int64_t s = 0;
    if (strncmp(name, prefix, sizeof prefix - 1) != 0)
        return -1;
    name += sizeof prefix - 1;
    for (int i = 0; i < 10; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -1;
        s = s * 10 + (name[i] - '0');
    }
    return name[10] == '.' ? s : -1;
}

double ks_tb_wall_time(double t)
{
    struct timespec ts;
    if (isfinite(t) && t > 0)
        return t;
    clock_gettime(CLOCK_REALTIME, &ts);
    t = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    return t > 0 ? t : 1.0;
}

/* ------------------------------------------------------------- the file */

/*
 * Create the event file: named for now, unless a file that sorts after that name is
 * already in the directory (a run reopened within the same second, a clock set back):
 * then its seconds + 1, because TensorBoard reads a run's files in name order and
 * stops following a file once a later one exists.
 */
static ks_status create_file(ks_tb_run *run, const char *dir, ks_error *err)
{
    char host[256], name[400];
    char *last = last_event_file(dir);
    int64_t secs = (int64_t)time(NULL);
    size_t dlen = strlen(dir);
    ks_status s = KS_OK;
    if (gethostname(host, sizeof host) != 0)
        host[0] = 0;
    host[sizeof host - 1] = 0;
    for (int attempt = 0; attempt < 1000; attempt++) {
        unsigned long counter = atomic_fetch_add(&tb_file_counter, 1);
        ks_tb_file_name(name, sizeof name, secs, host, (long)getpid(), counter);
        if (last && strcmp(name, last) <= 0) {
            int64_t t = name_secs(last);
            if (t >= secs && t < 9999999999LL) {
                secs = t + 1;
                attempt--;
                continue;
            }
            /* a foreign name that no TF name can follow: TensorBoard reads it last */
        }
        free(run->path);
        if (!(run->path = malloc(dlen + strlen(name) + 2))) {
            s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
            break;
        }
        sprintf(run->path, "%s%s%s", dir, dlen && dir[dlen - 1] == '/' ? "" : "/", name);
        if ((run->f = fopen(run->path, "wbx")) != NULL)
            break;
        if (errno != EEXIST) {
            s = ks_error_set(err, KS_ERR_IO, "cannot create %s: %s", run->path, strerror(errno));
            break;
        }
    }
    if (s == KS_OK && !run->f)
        s = ks_error_set(err, KS_ERR_IO, "cannot find a free event file name in %s", dir);
    free(last);
    return s;
}

ks_status ks_tb_run_open(const char *dir, ks_tb_run **out, ks_error *err)
{
    ks_tb_run *run;
    ks_status s;
    if (!out)
        return ks_error_set(err, KS_ERR_INTERNAL, "ks_tb_run_open needs an out pointer");
    *out = NULL;
    if (!dir || !dir[0])
        return ks_error_set(err, KS_ERR_CONFIG,
                            "a TensorBoard run needs a directory, got an empty path");
    if (!(run = calloc(1, sizeof *run)))
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    run->lock_fd = -1;
    if ((s = make_dirs(dir, err)) != KS_OK)
        goto fail;
    /* one writer per run directory: an exclusive lock on the directory itself */
    if ((run->lock_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        s = ks_error_set(err, KS_ERR_IO, "cannot open %s: %s", dir, strerror(errno));
        goto fail;
    }
    if (flock(run->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            s = ks_error_set(err, KS_ERR_IO,
                             "TensorBoard run %s is already open in another writer; a run "
                             "directory takes one writer at a time",
                             dir);
            goto fail;
        }
        close(run->lock_fd);    /* a file system without locks: go on unguarded */
        run->lock_fd = -1;
    }
    if ((s = create_file(run, dir, err)) != KS_OK)
        goto fail;
    /* unbuffered: each record leaves in one write, nothing lingers in a buffer */
    setvbuf(run->f, NULL, _IONBF, 0);
    ks_tfrecord_begin(&run->rec);
    ks_tb_encode_file_version(&run->rec, ks_tb_wall_time(0));
    if ((s = ks_tb_run_write(run, err)) != KS_OK) {
        fclose(run->f);
        run->f = NULL;
        unlink(run->path);
        goto fail;
    }
    *out = run;
    return KS_OK;
fail:
    ks_tb_run_close(run, NULL);
    return s;
}

ks_status ks_tb_run_write(ks_tb_run *run, ks_error *err)
{
    off_t good;
    ks_status s;
    if (run->broken)
        return ks_error_set(err, KS_ERR_IO,
                            "cannot write %s: an earlier write failed and could not be undone",
                            run->path);
    ks_tfrecord_end(&run->rec);
    if ((s = ks_pb_check(&run->rec, "a TensorBoard event", err)) != KS_OK)
        return s;
    good = ftello(run->f);
    if ((s = ks_tfrecord_write(run->f, &run->rec, run->path, err)) == KS_OK)
        return KS_OK;
    /* take back a partial record, or later records would follow garbage (pitfall 1) */
    clearerr(run->f);
    if (good < 0 || ftruncate(fileno(run->f), good) != 0 || fseeko(run->f, good, SEEK_SET) != 0)
        run->broken = 1;
    return s;
}

ks_status ks_tb_run_close(ks_tb_run *run, ks_error *err)
{
    ks_status s = KS_OK;
    if (!run)
        return KS_OK;
    if (run->f && fclose(run->f) != 0)
        s = ks_error_set(err, KS_ERR_IO, "cannot close %s: %s", run->path, strerror(errno));
    if (run->lock_fd >= 0)
        close(run->lock_fd);
    for (size_t i = 0; i < run->cap_tags; i++)
        free(run->tags[i].name);
    free(run->tags);
    ks_pb_free(&run->rec);
    free(run->path);
    free(run);
    return s;
}

ks_status ks_tb_runs_close(ks_tb_run **runs, int n, ks_status s, ks_error *err)
{
    for (int i = 0; i < n; i++) {
        ks_error e;
        ks_status c = ks_tb_run_close(runs[i], &e);
        runs[i] = NULL;
        if (c != KS_OK && s == KS_OK) {
            if (err)
                *err = e;
            s = c;
        }
    }
    return s;
}
