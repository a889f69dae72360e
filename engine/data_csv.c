/*
 * data_csv.c — CSV files with a header row (raw or gzip-compressed): the target
 * columns, chosen by name, become y, every other column becomes x; or a whole table,
 * with text columns kept as UTF-8 strings.  Quoted cells, CRLF/LF/CR line ends and
 * blank trailing lines are accepted; every other cell must be a finite number.  Errors
 * say FILE:LINE:COL, where COL is the 1-based column number.  The text is streamed,
 * never held whole: a bad byte stops the read where it is.
 */
#include "engine_impl.h"

#include <stdlib.h>
#include <string.h>

typedef struct csv_reader {
    const char *path;
    ks_stream *in;              /* the file's text */
    int line;                   /* physical line at the position, 1-based */
    int delim;                  /* the delimiter byte, 0..255, as peeks give bytes */
    char *cell;                 /* the current cell, unescaped and NUL-terminated (owned) */
    size_t cell_len, cell_cap;
    int cell_line;              /* the line the current cell starts on */
    uint64_t start;             /* where the header starts (after a byte order mark) */
    ks_error *err;
} csv_reader;

/* Growing arrays of the loaded rows. */
typedef struct csv_out {
    size_t rows, cap;           /* rows stored, rows allocated */
    size_t xc, yc;
    float *x, *y;
    unsigned char *is_text;     /* per column, or NULL: no text columns */
    int text_auto;              /* every x cell kept as text too; a column with a cell that
                                   is not a number becomes text (is_text set) */
    char *text;                 /* the text cells kept, NUL-terminated */
    size_t text_len, text_cap;
    size_t *cell;               /* per row and x column: the offset of its text */
} csv_out;

static int is_pad(const csv_reader *r, int c)
{
    return (c == ' ' || c == '\t') && c != r->delim;
}

static int is_eol(int c)
{
    return c == '\n' || c == '\r';
}

/* The byte k after the position, or -1 at the end of the text. */
static int at(csv_reader *r, size_t k)
{
    return ks_stream_peek(r->in, k);
}

static void advance(csv_reader *r, size_t k)
{
    ks_stream_skip(r->in, k);
}

/* Step over one line end (\n, \r\n or \r) at the position, if there is one. */
static void skip_eol(csv_reader *r)
{
    int c = at(r, 0);
    if (c == '\r')
        advance(r, at(r, 1) == '\n' ? 2 : 1);
    else if (c == '\n')
        advance(r, 1);
    else
        return;
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
 * Read the cell at the position (column col, for messages) into r->cell; *last is set
 * when it ends its record.  The line end after the last cell is not consumed.
 */
static ks_status read_cell(csv_reader *r, int col, int *last)
{
    ks_status st;
    int c;
    r->cell_len = 0;
    while ((c = at(r, 0)) >= 0 && is_pad(r, c))
        advance(r, 1);
    r->cell_line = r->line;
    if (c == '"') {
        for (advance(r, 1);; advance(r, 1)) {
            if ((c = at(r, 0)) < 0)
                return ks_error_set_at(r->err, KS_ERR_PARSE, r->path, r->cell_line, col,
                                       "a quoted cell has no closing quote");
            if (c == '"') {
                if (at(r, 1) != '"')
                    break;
                advance(r, 1);
            } else if (c == '\0') {
                return binary(r, col);
            } else if (c == '\n' || (c == '\r' && at(r, 1) != '\n')) {
                r->line++;
            }
            if ((st = push(r, (char)c)) != KS_OK)
                return st;
        }
        advance(r, 1);
        while ((c = at(r, 0)) >= 0 && is_pad(r, c))
            advance(r, 1);
        if (c >= 0 && c != r->delim && !is_eol(c))
            return ks_error_set_at(r->err, KS_ERR_PARSE, r->path, r->line, col,
                                   "unexpected '%c' after a quoted cell; expected '%c' or the "
                                   "end of the line",
                                   c, r->delim);
    } else {
        for (; (c = at(r, 0)) >= 0 && c != r->delim && !is_eol(c); advance(r, 1)) {
            if (c == '\0')
                return binary(r, col);
            if ((st = push(r, (char)c)) != KS_OK)
                return st;
        }
        while (r->cell_len > 0 && is_pad(r, r->cell[r->cell_len - 1]))
            r->cell_len--;
    }
    if ((st = push(r, '\0')) != KS_OK)
        return st;
    r->cell_len--;
    *last = c != r->delim;
    if (!*last)
        advance(r, 1);
    return KS_OK;
}

/* Whether the line at the position holds only spaces and tabs (looking a block ahead). */
static int blank_line(csv_reader *r)
{
    for (size_t k = 0; k + 1 < KS_STREAM_BLOCK; k++) {
        int c = at(r, k);
        if (c != ' ' && c != '\t')
            return c < 0 || is_eol(c);
    }
    return 0;       /* a block of spaces: the cells will say what is wrong */
}

/* Step over spaces, tabs and line ends; whether the text ends after them. */
static int blank_to_end(csv_reader *r)
{
    int c;
    while ((c = at(r, 0)) == ' ' || c == '\t' || is_eol(c))
        advance(r, 1);
    return c < 0;
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

/* A cell that is not a number; input: in a column of the inputs (which may hold
   categories: StringLookup reads them), else of the targets. */
static ks_status bad_cell(csv_reader *r, int col, const char *name, int input)
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
    if (input)
        return ks_error_set_at(r->err, KS_ERR_PARSE, r->path, r->cell_line, col,
                               "cell \"%s\" in column \"%.80s\" is not a number; a column of "
                               "categories is read as text (data: text: [%.80s]) into an Input "
                               "of dtype string and a StringLookup",
                               shown, name, name);
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
    if (o->is_text) {
        size_t *nc = realloc(o->cell, cap * o->xc * sizeof *nc + 1);
        if (!nc)
            return ks_error_set_at(err, KS_ERR_NOMEM, path, 0, 0, "out of memory");
        o->cell = nc;
    }
    if (o->yc) {
        ny = realloc(o->y, cap * o->yc * sizeof *ny + 1);
        if (!ny)
            return ks_error_set_at(err, KS_ERR_NOMEM, path, 0, 0, "out of memory");
        o->y = ny;
    }
    o->cap = cap;
    return KS_OK;
}

/* Keep the current cell as text at slot (row·xc + column); it must be UTF-8. */
static ks_status keep_text(csv_reader *r, csv_out *o, size_t slot, int col, const char *name)
{
    size_t need = o->text_len + r->cell_len + 1;
    if (!ks_pb_utf8_valid(r->cell, r->cell_len))
        return ks_error_set_at(r->err, KS_ERR_PARSE, r->path, r->cell_line, col,
                               "a cell in the text column \"%.80s\" is not UTF-8 text", name);
    if (need > o->text_cap) {
        size_t cap = o->text_cap ? o->text_cap : 4096;
        char *nt;
        while (cap < need)
            cap *= 2;
        if (!(nt = realloc(o->text, cap)))
            return ks_error_set_at(r->err, KS_ERR_NOMEM, r->path, 0, 0, "out of memory");
        o->text = nt;
        o->text_cap = cap;
    }
    memcpy(o->text + o->text_len, r->cell, r->cell_len + 1);
    o->cell[slot] = o->text_len;
    o->text_len = need;
    return KS_OK;
}

/*
 * "a, b, c" for messages, into buf (at least 320 bytes): whole names (at most 64
 * characters each) while they fit in about 160 characters, then how many more and the
 * last (often the target).  Returns whether every name was listed.
 */
static int list_names(char *const *names, size_t n, char *buf, size_t size)
{
    size_t used = 0, i;
    buf[0] = '\0';
    for (i = 0; i < n; i++) {
        size_t len = strlen(names[i]) < 64 ? strlen(names[i]) : 64;
        if (used + len + 2 > 160 && i + 1 < n)
            break;
        used += (size_t)snprintf(buf + used, size - used, "%s%.64s", i ? ", " : "", names[i]);
    }
    if (i < n)
        snprintf(buf + used, size - used, ", ... (%zu more, the last %.64s)", n - i,
                 names[n - 1]);
    return i == n;
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
            char list[320], did[96] = "", all[32] = "";
            const char *near = ks_nearest_name(targets[nt], (const char *const *)names);
            if (near)
                snprintf(did, sizeof did, " (did you mean \"%.64s\"?)", near);
            if (!list_names(names, ncols, list, sizeof list))
                snprintf(all, sizeof all, " %zu", ncols);
            return ks_error_set_at(err, KS_ERR_CONFIG, path, 0, 0,
                                   "no column named \"%.64s\"%s; the%s columns are %s",
                                   targets[nt], did, all, list);
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
    if (blank_line(r) && blank_to_end(r))
        return ks_error_set_at(err, KS_ERR_PARSE, r->path, 0, 0,
                               "the file is empty; expected a header row of column names, "
                               "then rows of numbers");
    if (r->in->offset > r->start)   /* blank_line saw a blank first line */
        return ks_error_set_at(err, KS_ERR_PARSE, r->path, 1, 1,
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
    while (at(r, 0) >= 0) {
        int last = 0, keep = row >= begin && row < end, line = r->line;
        size_t col = 0;
        if (blank_line(r)) {
            if (blank_to_end(r))
                break;
            return ks_error_set_at(r->err, KS_ERR_PARSE, r->path, line, 1,
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
            if (o->is_text && dest[col] >= 0 && (o->is_text[col] || o->text_auto)) {
                if (keep && (s = keep_text(r, o, o->rows * o->xc + (size_t)dest[col],
                                           (int)col + 1, names[col])) != KS_OK)
                    return s;
                if (!o->is_text[col] && !parse_number(r->cell, r->cell_len, &v))
                    o->is_text[col] = 1;        /* text: true, and a cell not a number */
                if (o->is_text[col]) {
                    if (keep)
                        o->x[o->rows * o->xc + (size_t)dest[col]] = 0.0f;
                    col++;
                    continue;
                }
            }
            if (!parse_number(r->cell, r->cell_len, &v))
                return bad_cell(r, (int)col + 1, names[col], dest[col] >= 0);
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

/* Which columns are text: those opt names (each must exist); with text_auto, the others
   are decided while the rows are read (read_rows).  *is_text stays NULL when there are
   none. */
static ks_status text_columns(csv_reader *r, const ks_csv_options *opt, char *const *names,
                              size_t ncols, unsigned char **is_text)
{
    int any = 0;
    *is_text = NULL;
    if (!opt || (!opt->text_auto && !opt->used && (!opt->text || !opt->text[0])))
        return KS_OK;
    if (!(*is_text = calloc(ncols + 1, 1)))
        return ks_error_set_at(r->err, KS_ERR_NOMEM, r->path, 0, 0, "out of memory");
    for (size_t i = 0; opt->used && i < ncols; i++) {
        int used = 0;
        for (size_t k = 0; opt->used[k] && !used; k++)
            used = strcmp(names[i], opt->used[k]) == 0;
        (*is_text)[i] = !used;      /* a column nothing reads: kept as text, not checked */
    }
    for (size_t k = 0; opt->text && opt->text[k]; k++) {
        size_t i = 0;
        while (i < ncols && strcmp(names[i], opt->text[k]) != 0)
            i++;
        if (i == ncols) {
            char list[300];
            const char *near = ks_nearest_name(opt->text[k], (const char *const *)names);
            list_names(names, ncols, list, sizeof list);
            return ks_error_set_at(r->err, KS_ERR_CONFIG, r->path, 0, 0,
                                   "no column named \"%.64s\" to read as text%s%.64s%s; the "
                                   "columns are %s",
                                   opt->text[k], near ? " (did you mean \"" : "",
                                   near ? near : "", near ? "\"?)" : "", list);
        }
        (*is_text)[i] = 1;
    }
    for (size_t i = 0; i < ncols; i++)
        any |= (*is_text)[i];
    if (!any && !opt->text_auto) {
        free(*is_text);
        *is_text = NULL;
    }
    return KS_OK;
}

/* ks_csv_load, and the header's names (*names_out, NULL-terminated, when not NULL); with
   table, the text columns' cells too (table->is_text, text, cell). */
/* Open path for r (the delimiter checked, ',' for 0), past a UTF-8 byte order mark. */
static ks_status reader_open(csv_reader *r, ks_stream *in, const char *path, char delimiter,
                             ks_error *err)
{
    ks_status s;
    r->delim = (unsigned char)(delimiter ? delimiter : ',');
    if (r->delim == '"' || is_eol(r->delim))
        return ks_error_set_at(err, KS_ERR_CONFIG, path, 0, 0,
                               "the delimiter cannot be a quote or a line end");
    if ((s = ks_stream_open(in, path, err)) != KS_OK)
        return s;
    r->path = path;
    r->in = in;
    r->line = 1;
    r->err = err;
    if (at(r, 0) == 0xEF && at(r, 1) == 0xBB && at(r, 2) == 0xBF)     /* a UTF-8 BOM */
        advance(r, 3);
    r->start = in->offset;
    return KS_OK;
}

static ks_status csv_load(const char *path, const ks_csv_options *opt, size_t begin, size_t end,
                          double scale, size_t *n, size_t *x_cols, float **x, size_t *y_cols,
                          float **y, char ***names_out, ks_csv_table *table, ks_error *err)
{
    unsigned char *is_text = NULL;
    static const char *const no_targets[] = {NULL};
    const char *const *targets = opt && opt->targets ? opt->targets : no_targets;
    csv_reader r = {0};
    csv_out o = {0};
    ks_stream in;
    char **names = NULL;
    long *dest = NULL;
    size_t ncols = 0, total = 0;
    ks_status s;
    *n = *x_cols = *y_cols = 0;
    *x = *y = NULL;
    if ((s = reader_open(&r, &in, path, opt ? opt->delimiter : ',', err)) != KS_OK)
        return s;
    if ((s = read_header(&r, &names, &ncols, err)) != KS_OK)
        goto done;
    if (!(dest = malloc(ncols * sizeof *dest))) {
        s = ks_error_set_at(err, KS_ERR_NOMEM, path, 0, 0, "out of memory");
        goto done;
    }
    if ((s = map_columns(path, names, ncols, targets, dest, &o.yc, err)) != KS_OK)
        goto done;
    o.xc = ncols - o.yc;
    if (table && (s = text_columns(&r, opt, names, ncols, &is_text)) != KS_OK)
        goto done;
    o.is_text = is_text;
    o.text_auto = table && opt && opt->text_auto;
    s = read_rows(&r, names, ncols, dest, begin, end, scale, &o, &total);
    if (s != KS_OK || (s = ks_stream_error(&in, err)) != KS_OK)
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
    if (table && is_text) {
        int any = 0;
        for (size_t i = 0; i < ncols; i++)
            any |= is_text[i];
        if (!any) {                     /* text: true found none: a table of numbers */
            free(is_text);
            free(o.text);
            free(o.cell);
            is_text = NULL;
            o.text = NULL;
            o.cell = NULL;
        }
    }
    if (table) {
        table->is_text = is_text;
        table->text = o.text;
        table->cell = o.cell;
        is_text = NULL;
        o.text = NULL;
        o.cell = NULL;
    }
done:
    if (s != KS_OK && ks_stream_error(&in, NULL) != KS_OK)
        s = ks_stream_error(&in, err);      /* a damaged .gz, not the text, is to blame */
    free(is_text);
    free(o.text);
    free(o.cell);
    free(o.x);
    free(o.y);
    free(dest);
    for (size_t i = 0; names && i < ncols; i++)
        free(names[i]);
    free(names);
    free(r.cell);
    ks_stream_close(&in);
    return s;
}

ks_status ks_csv_load(const char *path, const ks_csv_options *opt, size_t begin, size_t end,
                      double scale, size_t *n, size_t *x_cols, float **x, size_t *y_cols,
                      float **y, ks_error *err)
{
    return csv_load(path, opt, begin, end, scale, n, x_cols, x, y_cols, y, NULL, NULL, err);
}

ks_status ks_csv_load_table(const char *path, const ks_csv_options *opt, size_t begin,
                            size_t end, ks_csv_table *t, ks_error *err)
{
    ks_csv_options o = {NULL, opt ? opt->delimiter : ',', opt ? opt->text : NULL,
                        opt ? opt->text_auto : 0, opt ? opt->used : NULL};
    size_t yc;
    float *y;
    ks_status s;
    memset(t, 0, sizeof *t);
    s = csv_load(path, &o, begin, end, 1.0, &t->n, &t->cols, &t->data, &yc, &y, &t->names, t,
                 err);
    free(y);
    if (s != KS_OK)
        ks_csv_table_free(t);
    return s;
}

void ks_csv_table_free(ks_csv_table *t)
{
    for (size_t i = 0; t->names && t->names[i]; i++)
        free(t->names[i]);
    free(t->names);
    free(t->data);
    free(t->is_text);
    free(t->text);
    free(t->cell);
    memset(t, 0, sizeof *t);
}

ks_status ks_csv_columns(const char *path, char delimiter, ks_value *out, ks_error *err)
{
    csv_reader r = {0};
    ks_stream in;
    char **names = NULL;
    size_t ncols = 0;
    ks_status s;
    ks_value_init(out, KS_VALUE_LIST);
    if ((s = reader_open(&r, &in, path, delimiter, err)) != KS_OK)
        return s;
    s = read_header(&r, &names, &ncols, err);
    if (s != KS_OK && ks_stream_error(&in, NULL) != KS_OK)
        s = ks_stream_error(&in, err);
    for (size_t i = 0; s == KS_OK && i < ncols; i++) {
        ks_value *v = ks_value_push(out, KS_VALUE_NULL);
        if (!v || ks_value_set_string(v, names[i]) != KS_OK)
            s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; names && i < ncols; i++)
        free(names[i]);
    free(names);
    free(r.cell);
    ks_stream_close(&in);
    if (s != KS_OK)
        ks_value_free(out);
    return s;
}
