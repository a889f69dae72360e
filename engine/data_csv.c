/*
 * data_csv.c — CSV files with a header row (raw or gzip-compressed): the target
 * columns, chosen by name, become y, every other column becomes x.  Quoted cells,
 * CRLF/LF/CR line ends and blank trailing lines are accepted; every cell must be a
 * finite number.  Errors say FILE:LINE:COL, where COL is the 1-based column number.
 */
#include "engine_impl.h"

#include <stdlib.h>
#include <string.h>

typedef struct csv_reader {
    const char *path;
    const char *s;              /* the file's text (not NUL-terminated) */
    size_t len, pos;
    int line;                   /* physical line at pos, 1-based */
    char delim;
    char *cell;                 /* the current cell, unescaped and NUL-terminated (owned) */
    size_t cell_len, cell_cap;
    int cell_line;              /* the line the current cell starts on */
    ks_error *err;
} csv_reader;

/* Growing arrays of the loaded rows. */
typedef struct csv_out {
    size_t rows, cap;           /* rows stored, rows allocated */
    size_t xc, yc;
    float *x, *y;
} csv_out;

static int is_pad(const csv_reader *r, char c)
{
    return (c == ' ' || c == '\t') && c != r->delim;
}

static int is_eol(char c)
{
    return c == '\n' || c == '\r';
}

/* Step over one line end (\n, \r\n or \r) at pos, if there is one. */
static void skip_eol(csv_reader *r)
{
    if (r->pos >= r->len)
        return;
    if (r->s[r->pos] == '\r') {
        r->pos++;
        if (r->pos < r->len && r->s[r->pos] == '\n')
            r->pos++;
    } else if (r->s[r->pos] == '\n') {
        r->pos++;
    } else {
        return;
    }
    r->line++;
}

static ks_status push(csv_reader *r, char c)
{
    if (r->cell_len + 1 >= r->cell_cap) {
        size_t cap = r->cell_cap ? r->cell_cap * 2 : 64;
        char *nc = realloc(r->cell, cap);
        if (!nc)
            return ks_error_set_at(r->err, KS_ERR_NOMEM, r->path, 0, 0, "out of memory");
        r->cell = nc;
        r->cell_cap = cap;
    }
    r->cell[r->cell_len++] = c;
    return KS_OK;
}

static ks_status binary(csv_reader *r, int col)
{
    return ks_error_set_at(r->err, KS_ERR_PARSE, r->path, r->line, col,
                           "a NUL byte in the text; expected a CSV text file");
}

/*
 * Read the cell at pos (column col, for messages) into r->cell; *last is set when
 * it ends its record.  The line end after the last cell is not consumed.
 */
static ks_status read_cell(csv_reader *r, int col, int *last)
{
    const char *s = r->s;
    size_t p = r->pos;
    ks_status st;
    r->cell_len = 0;
    while (p < r->len && is_pad(r, s[p]))
        p++;
    r->cell_line = r->line;
    if (p < r->len && s[p] == '"') {
        for (p++;; p++) {
            if (p >= r->len)
                return ks_error_set_at(r->err, KS_ERR_PARSE, r->path, r->cell_line, col,
                                       "a quoted cell has no closing quote");
            if (s[p] == '"') {
                if (p + 1 < r->len && s[p + 1] == '"')
                    p++;
                else
                    break;
            } else if (s[p] == '\0') {
                return binary(r, col);
            } else if (s[p] == '\n' || (s[p] == '\r' && (p + 1 >= r->len || s[p + 1] != '\n'))) {
                r->line++;
            }
            if ((st = push(r, s[p])) != KS_OK)
                return st;
        }
        for (p++; p < r->len && is_pad(r, s[p]); p++)
            ;
        if (p < r->len && s[p] != r->delim && !is_eol(s[p]))
            return ks_error_set_at(r->err, KS_ERR_PARSE, r->path, r->line, col,
                                   "unexpected '%c' after a quoted cell; expected '%c' or the "
                                   "end of the line",
                                   s[p], r->delim);
    } else {
        for (; p < r->len && s[p] != r->delim && !is_eol(s[p]); p++) {
            if (s[p] == '\0')
                return binary(r, col);
            if ((st = push(r, s[p])) != KS_OK)
                return st;
        }
        while (r->cell_len > 0 && is_pad(r, r->cell[r->cell_len - 1]))
            r->cell_len--;
    }
    if ((st = push(r, '\0')) != KS_OK)
        return st;
    r->cell_len--;
    *last = !(p < r->len && s[p] == r->delim);
    r->pos = *last ? p : p + 1;
    return KS_OK;
}

/* Whether the line at pos holds only spaces and tabs. */
static int blank_line(const csv_reader *r)
{
    size_t p = r->pos;
    while (p < r->len && (r->s[p] == ' ' || r->s[p] == '\t'))
        p++;
    return p >= r->len || is_eol(r->s[p]);
}

/* Whether nothing but spaces, tabs and line ends remains from pos. */
static int blank_to_end(const csv_reader *r)
{
    for (size_t p = r->pos; p < r->len; p++)
        if (r->s[p] != ' ' && r->s[p] != '\t' && !is_eol(r->s[p]))
            return 0;
    return 1;
}

/* The whole cell as a number: decimal notation only, finite (no nan, inf, hex). */
static int parse_number(const char *cell, size_t len, double *out)
{
    size_t a = 0, b = len;
    char *end;
    while (a < b && (cell[a] == ' ' || cell[a] == '\t'))
        a++;
    while (b > a && (cell[b - 1] == ' ' || cell[b - 1] == '\t'))
        b--;
    if (a == b)
        return 0;
    for (size_t i = a; i < b; i++)
        if (!cell[i] || !strchr("0123456789+-.eE", cell[i]))
            return 0;
    *out = strtod(cell + a, &end);
    return end == cell + b && isfinite(*out);    /* underflow to 0 is fine */
}

static ks_status bad_cell(csv_reader *r, int col, const char *name)
{
    char shown[48];
    size_t k = 0;
    for (size_t i = 0; i < r->cell_len && k + 4 < sizeof shown; i++)
        shown[k++] = (unsigned char)r->cell[i] >= ' ' ? r->cell[i] : '?';
    if (k < r->cell_len)
        memcpy(shown + k, "...", 3), k += 3;
    shown[k] = '\0';
    if (r->cell_len == 0 || strspn(r->cell, " \t") == r->cell_len)
        return ks_error_set_at(r->err, KS_ERR_PARSE, r->path, r->cell_line, col,
                               "empty cell in column \"%.80s\"; expected a number", name);
    return ks_error_set_at(r->err, KS_ERR_PARSE, r->path, r->cell_line, col,
                           "cell \"%s\" in column \"%.80s\" is not a number", shown, name);
}

/* Room for one more row in out. */
static ks_status grow(csv_out *o, const char *path, ks_error *err)
{
    size_t cap = o->cap ? o->cap * 2 : 256;
    size_t width = o->xc > o->yc ? o->xc : o->yc;
    float *nx, *ny;
    if (o->rows < o->cap)
        return KS_OK;
    if (cap > SIZE_MAX / sizeof(float) / 2 / (width ? width : 1))
        return ks_error_set_at(err, KS_ERR_NOMEM, path, 0, 0, "out of memory");
    nx = realloc(o->x, cap * o->xc * sizeof *nx + 1);
    if (!nx)
        return ks_error_set_at(err, KS_ERR_NOMEM, path, 0, 0, "out of memory");
    o->x = nx;
    if (o->yc) {
        ny = realloc(o->y, cap * o->yc * sizeof *ny + 1);
        if (!ny)
            return ks_error_set_at(err, KS_ERR_NOMEM, path, 0, 0, "out of memory");
        o->y = ny;
    }
    o->cap = cap;
    return KS_OK;
}

/* "a, b, c" (cut short to fit) for messages. */
static void list_names(char *const *names, size_t n, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(buf + used, size - used, "%s%.64s", i ? ", " : "", names[i]);
        if (w < 0 || (size_t)w >= size - used) {
            snprintf(buf + (used < size - 6 ? used : size - 6), 6, ", ...");
            return;
        }
        used += (size_t)w;
    }
}

/* Where each column goes: dest[i] >= 0 is an x column, -1 - dest[i] a y column. */
static ks_status map_columns(const char *path, char *const *names, size_t ncols,
                             const char *const *targets, long *dest, size_t *yc, ks_error *err)
{
    size_t nt = 0, xi = 0;
    for (size_t i = 0; i < ncols; i++)
        dest[i] = 0;
    for (; targets && targets[nt]; nt++) {
        size_t found = ncols, count = 0;
        for (size_t i = 0; i < ncols; i++)
            if (strcmp(names[i], targets[nt]) == 0)
                found = i, count++;
        if (count == 0) {
            char list[300];
            const char *near = ks_nearest_name(targets[nt], (const char *const *)names);
            list_names(names, ncols, list, sizeof list);
            if (near)
                return ks_error_set_at(err, KS_ERR_CONFIG, path, 0, 0,
                                       "no column named \"%.64s\" (did you mean \"%.64s\"?); "
                                       "the columns are %s",
                                       targets[nt], near, list);
            return ks_error_set_at(err, KS_ERR_CONFIG, path, 0, 0,
                                   "no column named \"%.64s\"; the columns are %s", targets[nt],
                                   list);
        }
        if (count > 1)
            return ks_error_set_at(err, KS_ERR_CONFIG, path, 0, 0,
                                   "the header names %zu columns \"%.64s\"; a target column "
                                   "must have a unique name",
                                   count, targets[nt]);
        if (dest[found] < 0)
            return ks_error_set_at(err, KS_ERR_CONFIG, path, 0, 0,
                                   "target \"%.64s\" is listed twice", targets[nt]);
        dest[found] = -1 - (long)nt;
    }
    if (nt >= ncols)
        return ks_error_set_at(err, KS_ERR_CONFIG, path, 0, 0,
                               "every column is a target; expected at least one input column");
    for (size_t i = 0; i < ncols; i++)
        if (dest[i] == 0)
            dest[i] = (long)xi++;
    *yc = nt;
    return KS_OK;
}

/* The header row: one name per column. */
static ks_status read_header(csv_reader *r, char ***names_out, size_t *ncols, ks_error *err)
{
    char **names = NULL;
    size_t n = 0, cap = 0;
    int last = 0;
    ks_status s = KS_OK;
    *names_out = NULL;
    *ncols = 0;
    if (blank_to_end(r))
        return ks_error_set_at(err, KS_ERR_PARSE, r->path, 0, 0,
                               "the file is empty; expected a header row of column names, "
                               "then rows of numbers");
    if (blank_line(r))
        return ks_error_set_at(err, KS_ERR_PARSE, r->path, r->line, 1,
                               "the first line is blank; expected a header row of column "
                               "names");
    while (!last) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nn = realloc(names, (ncap + 1) * sizeof *nn);
            if (!nn) {
                s = ks_error_set_at(err, KS_ERR_NOMEM, r->path, 0, 0, "out of memory");
                break;
            }
            names = nn;
            cap = ncap;
        }
        if ((s = read_cell(r, (int)(n + 1), &last)) != KS_OK)
            break;
        if (r->cell_len == 0) {
            s = ks_error_set_at(err, KS_ERR_PARSE, r->path, r->cell_line, (int)(n + 1),
                                "column %zu has no name in the header; expected a name for "
                                "every column (pandas: write with index=False)",
                                n + 1);
            break;
        }
        if (!(names[n] = strdup(r->cell))) {
            s = ks_error_set_at(err, KS_ERR_NOMEM, r->path, 0, 0, "out of memory");
            break;
        }
        names[++n] = NULL;
    }
    if (s != KS_OK) {
        for (size_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
        return s;
    }
    skip_eol(r);
    *names_out = names;
    *ncols = n;
    return KS_OK;
}

/* The data rows; rows [begin, end) are stored in o, all are checked. */
static ks_status read_rows(csv_reader *r, char *const *names, size_t ncols, const long *dest,
                           size_t begin, size_t end, double scale, csv_out *o, size_t *total)
{
    size_t row = 0;
    ks_status s;
    while (r->pos < r->len) {
        int last = 0, keep = row >= begin && row < end;
        size_t col = 0;
        if (blank_line(r)) {
            if (blank_to_end(r))
                break;
            return ks_error_set_at(r->err, KS_ERR_PARSE, r->path, r->line, 1,
                                   "blank line among the data rows; expected %zu cells", ncols);
        }
        if (keep && (s = grow(o, r->path, r->err)) != KS_OK)
            return s;
        while (!last) {
            double v;
            float f;
            if ((s = read_cell(r, (int)col + 1, &last)) != KS_OK)
                return s;
            if (col == ncols)
                return ks_error_set_at(r->err, KS_ERR_PARSE, r->path, r->cell_line,
                                       (int)col + 1,
                                       "this row has more than the header's %zu cells", ncols);
            if (!parse_number(r->cell, r->cell_len, &v))
                return bad_cell(r, (int)col + 1, names[col]);
            f = (float)(dest[col] >= 0 ? v / scale : v);
            if (!isfinite(f))
                return ks_error_set_at(r->err, KS_ERR_PARSE, r->path, r->cell_line,
                                       (int)col + 1,
                                       "cell \"%.40s\" in column \"%.80s\" is too large for "
                                       "float32",
                                       r->cell, names[col]);
            if (keep && dest[col] >= 0)
                o->x[o->rows * o->xc + (size_t)dest[col]] = f;
            else if (keep)
                o->y[o->rows * o->yc + (size_t)(-1 - dest[col])] = f;
            col++;
        }
        if (col < ncols)
            return ks_error_set_at(r->err, KS_ERR_PARSE, r->path, r->line, (int)col + 1,
                                   "this row has %zu cell%s, the header has %zu", col,
                                   col == 1 ? "" : "s", ncols);
        skip_eol(r);
        o->rows += (size_t)keep;
        row++;
    }
    *total = row;
    return KS_OK;
}

/* ks_csv_load, and the header's names (*names_out, NULL-terminated, when not NULL). */
static ks_status csv_load(const char *path, const ks_csv_options *opt, size_t begin, size_t end,
                          double scale, size_t *n, size_t *x_cols, float **x, size_t *y_cols,
                          float **y, char ***names_out, ks_error *err)
{
    static const char *const no_targets[] = {NULL};
    const char *const *targets = opt && opt->targets ? opt->targets : no_targets;
    csv_reader r = {0};
    csv_out o = {0};
    unsigned char *buf;
    char **names = NULL;
    long *dest = NULL;
    size_t len, ncols = 0, total = 0;
    ks_status s;
    *n = *x_cols = *y_cols = 0;
    *x = *y = NULL;
    r.delim = opt && opt->delimiter ? opt->delimiter : ',';
    if (r.delim == '"' || is_eol(r.delim))
        return ks_error_set_at(err, KS_ERR_CONFIG, path, 0, 0,
                               "the delimiter cannot be a quote or a line end");
    if ((s = ks_read_file_gz(path, &buf, &len, err)) != KS_OK)
        return s;
    r.path = path;
    r.s = (const char *)buf;
    r.len = len;
    r.line = 1;
    r.err = err;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)    /* a UTF-8 byte order mark */
        r.pos = 3;
    if ((s = read_header(&r, &names, &ncols, err)) != KS_OK)
        goto done;
    if (!(dest = malloc(ncols * sizeof *dest))) {
        s = ks_error_set_at(err, KS_ERR_NOMEM, path, 0, 0, "out of memory");
        goto done;
    }
    if ((s = map_columns(path, names, ncols, targets, dest, &o.yc, err)) != KS_OK)
        goto done;
    o.xc = ncols - o.yc;
    if ((s = read_rows(&r, names, ncols, dest, begin, end, scale, &o, &total)) != KS_OK)
        goto done;
    if (total == 0) {
        s = ks_error_set_at(err, KS_ERR_PARSE, path, 0, 0,
                            "the file has a header but no data rows");
        goto done;
    }
    if ((s = ks_row_range(path, begin, &end, total, err)) != KS_OK)
        goto done;
    /* an empty slice still gives valid pointers */
    if ((!o.x && !(o.x = malloc(1))) || (o.yc && !o.y && !(o.y = malloc(1)))) {
        s = ks_error_set_at(err, KS_ERR_NOMEM, path, 0, 0, "out of memory");
        goto done;
    }
    *n = o.rows;
    *x_cols = o.xc;
    *y_cols = o.yc;
    *x = o.x;
    *y = o.y;                                   /* NULL without targets */
    o.x = o.y = NULL;
    if (names_out) {
        *names_out = names;
        names = NULL;
    }
done:
    free(o.x);
    free(o.y);
    free(dest);
    for (size_t i = 0; names && i < ncols; i++)
        free(names[i]);
    free(names);
    free(r.cell);
    free(buf);
    return s;
}

ks_status ks_csv_load(const char *path, const ks_csv_options *opt, size_t begin, size_t end,
                      double scale, size_t *n, size_t *x_cols, float **x, size_t *y_cols,
                      float **y, ks_error *err)
{
    return csv_load(path, opt, begin, end, scale, n, x_cols, x, y_cols, y, NULL, err);
}

ks_status ks_csv_load_table(const char *path, char delimiter, size_t begin, size_t end,
                            size_t *n, size_t *cols, float **data, char ***names, ks_error *err)
{
    ks_csv_options opt = {NULL, delimiter};
    size_t yc;
    float *y;
    ks_status s = csv_load(path, &opt, begin, end, 1.0, n, cols, data, &yc, &y, names, err);
    free(y);
    return s;
}
