/*
 * search_sim.c — the cheap search benchmark (`make bench-sim`): each search method's real
 * sampler, driven through its ops table as the controller drives it, against a table of
 * real learning curves (bench/curves_seed_space.tsv, recorded once by record_curves.sh)
 * instead of training: a trial's curve is the recorded one of the nearest configuration.
 * For many seeds it counts the epochs each method trains before one of its trials comes
 * within a margin of the table's best, and the best it has found at fixed epoch budgets;
 * --per-seed adds each run's figures; with --overhead it times TPE's and BOHB's proposals
 * at 500 completed trials.
 */
#include "../search/search_impl.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CONFIGS 4096
#define MAX_EPOCHS 64
#define MAX_MARGINS 4
#define MAX_SEEDS 1000

/* ---------------------------------------------------------- the table */

typedef struct table {
    int n, epochs;
    int hidden[MAX_CONFIGS], neurons[MAX_CONFIGS];
    double lr[MAX_CONFIGS];
    double curve[MAX_CONFIGS][MAX_EPOCHS];
    double best;                /* the largest value of any curve */
    int best_config;
} table;

static int load_table(const char *path, table *t)
{
    FILE *f = fopen(path, "r");
    char line[8192];
    memset(t, 0, sizeof *t);
    t->best = -INFINITY;
    if (!f) {
        fprintf(stderr, "search_sim: cannot open %s (record it with bench/record_curves.sh)\n",
                path);
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        char *p = line, *end;
        int e = 0;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (t->n == MAX_CONFIGS) {
            fprintf(stderr, "search_sim: %s: more than %d configurations\n", path, MAX_CONFIGS);
            fclose(f);
            return -1;
        }
        t->hidden[t->n] = (int)strtol(p, &end, 10);
        t->neurons[t->n] = (int)strtol(p = end, &end, 10);
        t->lr[t->n] = strtod(p = end, &end);
        for (p = end; e < MAX_EPOCHS; e++, p = end) {
            double v = strtod(p, &end);
            if (end == p)
                break;
            t->curve[t->n][e] = v;
            if (v > t->best) {
                t->best = v;
                t->best_config = t->n;
            }
        }
        if (e < 1 || (t->epochs && e != t->epochs) || !(t->lr[t->n] > 0)) {
            fprintf(stderr, "search_sim: %s: line %d is not a configuration and its curve\n",
                    path, t->n + 1);
            fclose(f);
            return -1;
        }
        t->epochs = e;
        t->n++;
    }
    fclose(f);
    if (t->n == 0) {
        fprintf(stderr, "search_sim: %s has no configurations\n", path);
        return -1;
    }
    return 0;
}

/* The configuration nearest to a point (n_hidden, n_neurons, learning_rate): the same
   depth, the nearest width, the nearest rate on the log scale. */
static int nearest(const table *t, const double *point)
{
    int best = 0;
    double bd = INFINITY;
    for (int i = 0; i < t->n; i++) {
        double d = fabs(t->hidden[i] - point[0]) * 1e6 + fabs(t->neurons[i] - point[1]) / 99.0 +
                   fabs(log(t->lr[i] / point[2])) / log(100.0);
        if (d < bd) {
            bd = d;
            best = i;
        }
    }
    return best;
}

/* ----------------------------------------------------------- the space */

/* The seed space, with 4 × 4 × 4 grid points (all of them in the table's grid) for grid
   search; the other methods do not look at grid_points. */
static void seed_space(ks_space *sp)
{
    static const char *names[3] = {"n_hidden", "n_neurons", "learning_rate"};
    memset(sp, 0, sizeof *sp);
    sp->n = 3;
    sp->params[0] = (ks_param){.kind = KS_PARAM_INT, .min = 0, .max = 3, .step = 1};
    sp->params[1] = (ks_param){.kind = KS_PARAM_INT, .min = 1, .max = 100, .step = 1};
    sp->params[2] = (ks_param){.kind = KS_PARAM_FLOAT, .min = 3e-4, .max = 3e-2, .log = 1};
    sp->params[1].grid_points = 4;
    sp->params[2].grid_points = 4;
    for (int i = 0; i < 3; i++)
        snprintf(sp->params[i].name, sizeof sp->params[i].name, "%s", names[i]);
}

/* ----------------------------------------------------------- a method */

typedef struct method {
    const char *name;           /* the sampler, or SAMPLER+PRUNER (the pruner's defaults) */
    const char *options;        /* JSON of its options besides max_epochs (NULL: none) */
    const ks_sampler_ops *ops;
    void *args;
    const ks_pruner_ops *pruner;        /* search.pruner, or NULL */
    void *pruner_args;
} method;

/* The pruner of a SAMPLER+PRUNER name (its default options); sampler: the name before. */
static int pruner_init(method *m, char *sampler, size_t size)
{
    const char *plus = strchr(m->name, '+');
    snprintf(sampler, size, "%.*s", plus ? (int)(plus - m->name) : (int)strlen(m->name),
             m->name);
    if (!plus)
        return 0;
    m->pruner = ks_pruner_find(plus + 1);
    if (!m->pruner) {
        fprintf(stderr, "search_sim: no pruner %s\n", plus + 1);
        return -1;
    }
    m->pruner_args = calloc(1, m->pruner->args_size ? m->pruner->args_size : 1);
    if (!m->pruner_args)
        return -1;
    ks_keys_defaults(m->pruner->keys, m->pruner_args);
    return 0;
}

/* The method's options: its defaults, max_epochs R where it has that key, options. */
static int method_init(method *m, int R)
{
    ks_value map;
    ks_error err;
    char json[256], sampler[64];
    int has_r = 0;
    if (pruner_init(m, sampler, sizeof sampler) != 0)
        return -1;
    m->ops = ks_sampler_find(sampler);
    if (!m->ops) {
        fprintf(stderr, "search_sim: no method %s\n", sampler);
        return -1;
    }
    if (m->pruner && m->ops->full_budget) {
        fprintf(stderr, "search_sim: %s prunes by itself; a pruner is for grid, random, "
                        "bayesian and tpe\n", sampler);
        return -1;
    }
    m->args = calloc(1, m->ops->args_size ? m->ops->args_size : 1);
    if (!m->args)
        return -1;
    ks_keys_defaults(m->ops->keys, m->args);
    for (const ks_key *k = m->ops->keys; k->name; k++)
        has_r |= strcmp(k->name, "max_epochs") == 0;
    if (has_r)
        snprintf(json, sizeof json, "{\"max_epochs\": %d%s%s}", R, m->options ? ", " : "",
                 m->options ? m->options : "");
    else
        snprintf(json, sizeof json, "{%s}", m->options ? m->options : "");
    if (ks_value_from_json(json, strlen(json), "options", &map, &err) != KS_OK ||
        ks_keys_read(m->ops->keys, &map, m->name, m->args, &err) != KS_OK) {
        fprintf(stderr, "search_sim: %s: %s\n", m->name, err.msg);
        return -1;
    }
    ks_value_free(&map);
    return 0;
}

static void method_free(method *m)
{
    if (m->ops)
        ks_keys_free(m->ops->keys, m->args);
    free(m->args);
    if (m->pruner_args)
        ks_keys_free(m->pruner->keys, m->pruner_args);
    free(m->pruner_args);
}

/* ------------------------------------------------------- a simulated study */

typedef struct study {
    ks_history h;
    ks_space sp;
    int cap;                    /* trials allocated */
    ks_trial_view *v;
    double (*points)[KS_MAX_SEARCH_PARAMS];
    int *config;                /* each trial's table configuration */
} study;

static int study_init(study *s, int epochs, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    seed_space(&s->sp);
    s->h.space = &s->sp;
    s->h.maximize = 1;
    s->h.max_trials = 100000;
    s->h.max_epochs = epochs;
    s->h.seed = seed;
    s->cap = 4096;
    s->v = calloc((size_t)s->cap, sizeof *s->v);
    s->points = calloc((size_t)s->cap, sizeof *s->points);
    s->config = calloc((size_t)s->cap, sizeof *s->config);
    s->h.trials = s->v;
    return s->v && s->points && s->config ? 0 : -1;
}

static void study_free(study *s)
{
    free(s->v);
    free(s->points);
    free(s->config);
}

/* Trial i trains on to budget epochs of its recorded curve, unless the method's pruner
   stops it after a checked epoch (as the controller asks after each epoch; every earlier
   trial has ended, so no verdict waits); returns the epochs trained. */
static int train(study *s, const table *t, const method *m, int i, int budget)
{
    ks_trial_view *v = &s->v[i];
    const double *c = t->curve[s->config[i]];
    int from = v->epochs, to = budget < t->epochs ? budget : t->epochs;
    v->budget = budget;
    v->status = KS_TRIAL_RUNNING;
    for (int e = from; e < to; e++) {
        if (!(v->objective >= c[e]))
            v->objective = c[e];
        v->epochs = e + 1;
        if (ks_pruner_checks(m->pruner, m->pruner_args, i, to, e) &&
            m->pruner->prune(m->pruner_args, &s->h, i, e) == KS_VERDICT_PRUNE) {
            v->status = KS_TRIAL_PRUNED;
            return e + 1 - from;
        }
    }
    v->status = KS_TRIAL_COMPLETE;
    return to > from ? to - from : 0;
}

static double seconds_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + 1e-9 * (double)(b->tv_nsec - a->tv_nsec);
}

/* One suggestion, timed (wall and this thread's CPU seconds); returns the epochs trained,
   or −1 when the method is done. */
static int step(study *s, const table *t, const method *m, double *seconds, int *new_trial)
{
    double point[KS_MAX_SEARCH_PARAMS] = {0};
    ks_suggestion sug = {-1, point, 0};
    ks_error err;
    struct timespec a, b, ca, cb;
    ks_suggest_result r;
    clock_gettime(CLOCK_MONOTONIC, &a);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ca);
    r = m->ops->suggest(m->args, &s->h, &sug, &err);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cb);
    clock_gettime(CLOCK_MONOTONIC, &b);
    seconds[0] = seconds_between(&a, &b);
    seconds[1] = seconds_between(&ca, &cb);
    *new_trial = 0;
    if (r == KS_SUGGEST_ERROR) {
        fprintf(stderr, "search_sim: %s: %s\n", m->name, err.msg);
        return -1;
    }
    if (r != KS_SUGGEST_OK)
        return -1;
    if (sug.continue_trial >= 0)
        return train(s, t, m, sug.continue_trial, sug.budget);
    if (s->h.n == s->cap)
        return -1;
    {
        int i = s->h.n++;
        memcpy(s->points[i], point, sizeof point);
        s->config[i] = nearest(t, point);
        s->v[i] = (ks_trial_view){i, s->points[i], KS_TRIAL_RUNNING, sug.budget, 0, NULL, NAN};
        s->v[i].curve = t->curve[s->config[i]];
        *new_trial = 1;
        return train(s, t, m, i, sug.budget > 0 ? sug.budget : t->epochs);
    }
}

/* ----------------------------------------------------------- one run */

#define N_AT 3
static const int budgets_at[N_AT] = {357, 1000, 2000};

typedef struct run_result {
    int reached[MAX_MARGINS];   /* epochs when within margin, −1 if never */
    double best_at[N_AT];       /* the best value within those epochs */
    int epochs, trials;
} run_result;

static int run_one(const table *t, const method *m, uint64_t seed, int cap, const double *margins,
                   int n_margins, run_result *out)
{
    study s;
    double incumbent = -INFINITY;
    int used = 0;
    if (study_init(&s, t->epochs, seed) != 0)
        return -1;
    for (int k = 0; k < n_margins; k++)
        out->reached[k] = -1;
    for (int k = 0; k < N_AT; k++)
        out->best_at[k] = NAN;
    while (used < cap) {
        double sec[2];
        int fresh, e = step(&s, t, m, sec, &fresh);
        if (e < 0)
            break;
        for (int k = 0; k < N_AT; k++)
            if (used + e > budgets_at[k] && isnan(out->best_at[k]))
                out->best_at[k] = incumbent;   /* before the job that went past */
        used += e;
        for (int i = 0; i < s.h.n; i++)
            if (s.v[i].objective > incumbent)
                incumbent = s.v[i].objective;
        for (int k = 0; k < n_margins; k++)
            if (out->reached[k] < 0 && incumbent >= t->best - margins[k] - 1e-12)
                out->reached[k] = used;
    }
    for (int k = 0; k < N_AT; k++)
        if (isnan(out->best_at[k]) && used <= budgets_at[k])
            out->best_at[k] = incumbent;
    out->epochs = used;
    out->trials = s.h.n;
    study_free(&s);
    return 0;
}

/* ---------------------------------------------------------- reporting */

static void mean_sd(const double *x, int n, double *mean, double *sd)
{
    double s = 0, d = 0;
    for (int i = 0; i < n; i++)
        s += x[i];
    *mean = n > 0 ? s / n : NAN;
    for (int i = 0; i < n; i++)
        d += (x[i] - *mean) * (x[i] - *mean);
    *sd = n > 1 ? sqrt(d / (n - 1)) : 0;
}

static void report(const char *name, run_result *r, int n_seeds, int n_margins, int cap)
{
    double x[MAX_SEEDS], mean, sd;
    char cell[64];
    printf("| %-13s |", name);
    for (int k = 0; k < n_margins; k++) {
        int n = 0, censored = 0;
        /* a run that never came within the margin counts with the epochs it trained (all
           of cap, or fewer when the method ran out of configurations): a lower bound */
        for (int i = 0; i < n_seeds; i++) {
            x[n++] = r[i].reached[k] >= 0 ? r[i].reached[k] : r[i].epochs;
            censored += r[i].reached[k] < 0;
        }
        mean_sd(x, n, &mean, &sd);
        if (censored == n_seeds)
            snprintf(cell, sizeof cell, "never (0/%d)", n_seeds);
        else
            snprintf(cell, sizeof cell, "%s%.0f ± %.0f", censored ? "≥ " : "", mean, sd);
        if (censored && censored < n_seeds)
            snprintf(cell + strlen(cell), sizeof cell - strlen(cell), " (%d/%d)",
                     n_seeds - censored, n_seeds);
        printf(" %-22s |", cell);
    }
    for (int k = 0; k < N_AT && budgets_at[k] <= cap; k++) {
        for (int i = 0; i < n_seeds; i++)
            x[i] = r[i].best_at[k];
        mean_sd(x, n_seeds, &mean, &sd);
        printf(" %.4f ± %.4f |", mean, sd);
    }
    printf("\n");
    fflush(stdout);
}

/* Each seed's figures of a row, appended to text (printed after the table): the epochs to
   each margin (">E" for a run that never came within it, E the epochs it trained) and the
   best within each budget. */
static void report_seeds(const char *name, const run_result *r, int n_seeds, int n_margins,
                         const double *margins, int cap, char *text, size_t size)
{
    size_t len = strlen(text);
#define APPEND(...)                                                                   \
    do {                                                                              \
        if (len < size)                                                               \
            len += (size_t)snprintf(text + len, size - len, __VA_ARGS__);             \
    } while (0)
    for (int k = 0; k < n_margins; k++) {
        APPEND("%-13s  epochs to best − %.3f:", k ? "" : name, margins[k]);
        for (int i = 0; i < n_seeds; i++) {
            if (r[i].reached[k] >= 0)
                APPEND(" %d", r[i].reached[k]);
            else
                APPEND(" >%d", r[i].epochs);
        }
        APPEND("\n");
    }
    for (int k = 0; k < N_AT && budgets_at[k] <= cap; k++) {
        APPEND("%-13s  best in %4d epochs:   ", "", budgets_at[k]);
        for (int i = 0; i < n_seeds; i++)
            APPEND(" %.4f", r[i].best_at[k]);
        APPEND("\n");
    }
#undef APPEND
}

/* ------------------------------------------------------------ overhead */

/* Time proposals for new configurations once trials >= 500: mean and max in ms, of wall
   and of CPU time (steadier on a shared machine). */
static void overhead(const table *t, const char *name, const char *options, int R, int n)
{
    method m = {name, options, NULL, NULL, NULL, NULL};
    study s;
    double total[2] = {0, 0}, worst[2] = {0, 0};
    int timed = 0;
    if (method_init(&m, R) != 0 || study_init(&s, t->epochs, 1) != 0)
        return;
    while (timed < n) {
        double sec[2];
        int fresh, at = s.h.n, e = step(&s, t, &m, sec, &fresh);
        if (e < 0)
            break;
        if (fresh && at >= 500) {
            for (int k = 0; k < 2; k++) {
                total[k] += sec[k];
                worst[k] = fmax(worst[k], sec[k]);
            }
            timed++;
        }
    }
    if (timed > 0)
        printf("%-5s %-24s %d proposals at trials %d-%d: wall mean %.2f ms, max %.2f ms; "
               "CPU mean %.2f ms, max %.2f ms\n",
               name, options ? options : "(defaults)", timed, 500, s.h.n - 1,
               1e3 * total[0] / timed, 1e3 * worst[0], 1e3 * total[1] / timed, 1e3 * worst[1]);
    method_free(&m);
    study_free(&s);
}

/* A row: the method (with options) over seeds 1..n_seeds. */
static int run_method(const table *t, const char *name, const char *options, int variant,
                      int n_seeds, int cap, const double *margins, run_result *results,
                      char *seeds_text, size_t seeds_size)
{
    method m = {name, options, NULL, NULL, NULL, NULL};
    char label[48];
    if (method_init(&m, t->epochs) != 0)
        return -1;
    for (int i = 0; i < n_seeds; i++)
        if (run_one(t, &m, (uint64_t)(i + 1), cap, margins, 2, &results[i]) != 0) {
            fprintf(stderr, "search_sim: out of memory\n");
            method_free(&m);
            return -1;
        }
    if (variant > 0)
        snprintf(label, sizeof label, "%s [%d]", name, variant);
    else
        snprintf(label, sizeof label, "%s", name);
    report(label, results, n_seeds, 2, cap);
    if (seeds_text)
        report_seeds(label, results, n_seeds, 2, margins, cap, seeds_text, seeds_size);
    method_free(&m);
    return 0;
}

/* ---------------------------------------------------------------- main */

static void usage(void)
{
    printf("usage: search_sim [--table FILE] [--seeds N] [--cap EPOCHS] [--methods LIST]\n"
           "                  [--variant METHOD OPTIONS]... [--per-seed] [--overhead]\n"
           "  --table FILE    learning curves [bench/curves_seed_space.tsv]\n"
           "  --seeds N       study seeds 1..N per method [20]\n"
           "  --cap EPOCHS    epochs a run may train [3000]\n"
           "  --methods LIST  comma-separated [grid,random,bayesian,hyperband,tpe,bohb,\n"
           "                  random+median,random+asha]; SAMPLER+PRUNER: search.pruner\n"
           "                  with its defaults\n"
           "  --variant METHOD OPTIONS\n"
           "                  one more row: METHOD with OPTIONS (JSON members, e.g.\n"
           "                  '\"min_bandwidth\": 0.2'); repeatable\n"
           "  --per-seed      each seed's figures too, after the table\n"
           "  --overhead      time TPE's and BOHB's proposals at 500 trials instead\n");
}

int main(int argc, char **argv)
{
    static table t;
    static run_result results[MAX_SEEDS];
    static char seeds_text[1 << 18];
    const char *path = "bench/curves_seed_space.tsv";
    char methods[256] = "grid,random,bayesian,hyperband,tpe,bohb,random+median,random+asha";
    const double margins[2] = {0.005, 0.01};
    const char *variants[16][2];
    int n_seeds = 20, cap = 3000, do_overhead = 0, n_variants = 0, per_seed = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--table") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
            n_seeds = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--cap") == 0 && i + 1 < argc) {
            cap = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--methods") == 0 && i + 1 < argc) {
            snprintf(methods, sizeof methods, "%s", argv[++i]);
        } else if (strcmp(argv[i], "--variant") == 0 && i + 2 < argc && n_variants < 16) {
            variants[n_variants][0] = argv[i + 1];
            variants[n_variants++][1] = argv[i + 2];
            i += 2;
        } else if (strcmp(argv[i], "--per-seed") == 0) {
            per_seed = 1;
        } else if (strcmp(argv[i], "--overhead") == 0) {
            do_overhead = 1;
        } else {
            usage();
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    if (n_seeds < 1 || n_seeds > MAX_SEEDS || cap < 1) {
        fprintf(stderr, "search_sim: --seeds must be 1..%d and --cap >= 1\n", MAX_SEEDS);
        return 2;
    }
    if (load_table(path, &t) != 0)
        return 2;
    /* one BLAS thread, as the controller runs (the GP's products go through OpenBLAS, whose
       sums differ with the thread count, and so would bayesian's proposals) */
    ks_blas_set_threads(1);
    if (do_overhead) {
        overhead(&t, "tpe", NULL, t.epochs, 50);
        overhead(&t, "tpe", "\"multivariate\": true", t.epochs, 50);
        overhead(&t, "bohb", NULL, t.epochs, 50);
        overhead(&t, "bohb", "\"random_fraction\": 0", t.epochs, 50);
        return 0;
    }
    printf("%d configurations x %d epochs; the best: n_hidden %d, n_neurons %d, learning_rate "
           "%.3g, val_accuracy %.4f\n",
           t.n, t.epochs, t.hidden[t.best_config], t.neurons[t.best_config],
           t.lr[t.best_config], t.best);
    printf("%d seeds, at most %d epochs a run; margins %.3f and %.3f below the best\n\n", n_seeds,
           cap, margins[0], margins[1]);
    printf("| method        | epochs to best − %.3f   | epochs to best − %.3f   |", margins[0],
           margins[1]);
    for (int k = 0; k < N_AT && budgets_at[k] <= cap; k++)
        printf(" best in %4d epochs |", budgets_at[k]);
    printf("\n|---|---|---|");
    for (int k = 0; k < N_AT && budgets_at[k] <= cap; k++)
        printf("---|");
    printf("\n");
    for (char *tok = strtok(methods, ","); tok; tok = strtok(NULL, ","))
        if (run_method(&t, tok, NULL, 0, n_seeds, cap, margins, results,
                       per_seed ? seeds_text : NULL, sizeof seeds_text) != 0)
            return 2;
    for (int v = 0; v < n_variants; v++)
        if (run_method(&t, variants[v][0], variants[v][1], v + 1, n_seeds, cap, margins,
                       results, per_seed ? seeds_text : NULL, sizeof seeds_text) != 0)
            return 2;
    for (int v = 0; v < n_variants; v++)
        printf("%s[%d] %s with %s\n", v ? "" : "\n", v + 1, variants[v][0], variants[v][1]);
    if (per_seed)
        printf("\nper seed (seeds 1..%d in order; >E: never within the margin, E epochs "
               "trained):\n%s",
               n_seeds, seeds_text);
    return 0;
}
