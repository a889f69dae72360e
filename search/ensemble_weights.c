/*
 * ensemble_weights.c — fitting an ensemble's weights on validation predictions: uniform,
 * random search over the simplex (Dirichlet draws), Nelder–Mead on softmax(θ) (GSL's
 * nmsimplex2) and Caruana et al.'s greedy selection with replacement.  Every method
 * minimizes the validation loss of the combined outputs.
 */
#include "search_impl.h"

#include <gsl/gsl_multimin.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const method_names[KS_WEIGHTS_COUNT] = {"uniform", "random", "nelder-mead",
                                                           "greedy"};

const char *ks_weights_method_name(ks_weights_method m)
{
    return (unsigned)m < KS_WEIGHTS_COUNT ? method_names[m] : "?";
}

int ks_weights_method_find(const char *name)
{
    for (int i = 0; i < KS_WEIGHTS_COUNT; i++)
        if (strcmp(name, method_names[i]) == 0)
            return i;
    return -1;
}

enum { RANDOM_DRAWS = 1000, NM_ITERATIONS = 2000, GREEDY_ROUNDS_PER_MEMBER = 10 };

/* The validation loss of one weighting. */
typedef struct objective {
    ks_model *scorer;
    int output;                 /* the scorer's output the members' predictions are */
    const ks_data *val;
    const float *const *preds;
    int n;
    ks_ensemble_average average;
    size_t k;
    float *combined;            /* val->n × k */
    double *w;                  /* scratch weights */
    ks_status failed;
    ks_error *err;
} objective;

static double loss_of(objective *o, const double *w)
{
    ks_logs logs;
    double loss = INFINITY;
    ks_status s;
    ks_ensemble_combine(o->average, o->preds, w, o->n, o->val->n, o->k, o->combined);
    s = ks_model_score_output(o->scorer, o->output, o->val, o->combined, &logs, o->err);
    if (s != KS_OK) {
        o->failed = s;
        return INFINITY;
    }
    ks_logs_get(&logs, "loss", &loss);
    return isfinite(loss) ? loss : INFINITY;
}

static void softmax(const double *theta, int n, double *w)
{
    double mx = theta[0], z = 0;
    for (int i = 1; i < n; i++)
        mx = fmax(mx, theta[i]);
    for (int i = 0; i < n; i++)
        z += (w[i] = exp(theta[i] - mx));
    for (int i = 0; i < n; i++)
        w[i] /= z;
}

static double nm_f(const gsl_vector *x, void *params)
{
    objective *o = params;
    softmax(x->data, o->n, o->w);
    return loss_of(o, o->w);
}

static ks_status fit_nelder_mead(objective *o, double *weights)
{
    const gsl_multimin_fminimizer_type *T = gsl_multimin_fminimizer_nmsimplex2;
    gsl_multimin_fminimizer *mz = gsl_multimin_fminimizer_alloc(T, (size_t)o->n);
    gsl_vector *x = gsl_vector_calloc((size_t)o->n), *step = gsl_vector_alloc((size_t)o->n);
    gsl_multimin_function f = {nm_f, (size_t)o->n, o};
    ks_status s = KS_OK;
    if (!mz || !x || !step) {
        s = ks_error_set(o->err, KS_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* from the uniform weighting (θ = 0), moving each θ by 1 to begin with */
    gsl_vector_set_all(step, 1.0);
    if (gsl_multimin_fminimizer_set(mz, &f, x, step) != GSL_SUCCESS) {
        s = o->failed ? o->failed
                      : ks_error_set(o->err, KS_ERR_NAN, "Nelder-Mead could not start: the loss is not finite");
        goto out;
    }
    for (int it = 0; it < NM_ITERATIONS; it++) {
        if (gsl_multimin_fminimizer_iterate(mz) != GSL_SUCCESS)
            break;
        if (gsl_multimin_test_size(gsl_multimin_fminimizer_size(mz), 1e-6) == GSL_SUCCESS)
            break;
    }
    if (o->failed) {
        s = o->failed;
        goto out;
    }
    softmax(gsl_multimin_fminimizer_x(mz)->data, o->n, weights);
out:
    gsl_multimin_fminimizer_free(mz);
    gsl_vector_free(x);
    gsl_vector_free(step);
    return s;
}

static ks_status fit_random(objective *o, uint64_t seed, double *weights)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    double *alpha = malloc((size_t)o->n * sizeof *alpha), best;
    ks_status s = KS_OK;
    if (!rng || !alpha) {
        gsl_rng_free(rng);
        free(alpha);
        return ks_error_set(o->err, KS_ERR_NOMEM, "out of memory");
    }
    gsl_rng_set(rng, (unsigned long)(ks_hash64(seed, ks_hash_string("ensemble-random")) &
                                     0xffffffffu));
    /* the uniform weighting is the first candidate */
    for (int i = 0; i < o->n; i++) {
        alpha[i] = 1.0;
        weights[i] = 1.0 / o->n;
    }
    best = loss_of(o, weights);
    for (int d = 0; d < RANDOM_DRAWS && !o->failed; d++) {
        double l;
        gsl_ran_dirichlet(rng, (size_t)o->n, alpha, o->w);
        l = loss_of(o, o->w);
        if (l < best) {
            best = l;
            memcpy(weights, o->w, (size_t)o->n * sizeof *weights);
        }
    }
    if (o->failed)
        s = o->failed;
    gsl_rng_free(rng);
    free(alpha);
    return s;
}

/*
 * Caruana et al. (2004): start from the best single member, then repeatedly add (with
 * replacement) the member that most lowers the loss of the bag's average; the weights are
 * the counts of the best bag seen.
 */
static ks_status fit_greedy(objective *o, double *weights)
{
    int *count = calloc((size_t)o->n, sizeof *count), *best_count;
    int rounds = GREEDY_ROUNDS_PER_MEMBER * o->n, total = 0;
    double best = INFINITY;
    if (!count || !(best_count = calloc((size_t)o->n, sizeof *best_count))) {
        free(count);
        return ks_error_set(o->err, KS_ERR_NOMEM, "out of memory");
    }
    for (int r = 0; r < rounds && !o->failed; r++) {
        int pick = -1;
        double pick_loss = INFINITY;
        for (int c = 0; c < o->n; c++) {
            double l;
            for (int i = 0; i < o->n; i++)
                o->w[i] = (count[i] + (i == c)) / (double)(total + 1);
            l = loss_of(o, o->w);
            if (l < pick_loss) {
                pick_loss = l;
                pick = c;
            }
        }
        if (pick < 0)
            break;
        count[pick]++;
        total++;
        if (pick_loss < best) {
            best = pick_loss;
            memcpy(best_count, count, (size_t)o->n * sizeof *count);
        }
    }
    total = 0;
    for (int i = 0; i < o->n; i++)
        total += best_count[i];
    for (int i = 0; i < o->n; i++)
        weights[i] = total > 0 ? best_count[i] / (double)total : 1.0 / o->n;
    free(count);
    free(best_count);
    return o->failed;
}

ks_status ks_ensemble_fit_weights(ks_weights_method method, ks_model *scorer, int output,
                                  const ks_data *val, const float *const *preds, int n_members,
                                  ks_ensemble_average average, uint64_t seed, double *weights,
                                  ks_error *err)
{
    objective o;
    ks_status s;
    memset(&o, 0, sizeof o);
    if (n_members < 1)
        return ks_error_set(err, KS_ERR_CONFIG, "an ensemble needs at least one member");
    if (val->n == 0)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "fitting ensemble weights needs validation data; the study has none");
    o.scorer = scorer;
    o.output = output;
    o.val = val;
    o.preds = preds;
    o.n = n_members;
    o.average = average;
    o.k = ks_shape_size(ks_model_output_shape_at(scorer, output));
    o.err = err;
    o.combined = malloc(val->n * o.k * sizeof *o.combined);
    o.w = malloc((size_t)n_members * sizeof *o.w);
    if (!o.combined || !o.w) {
        free(o.combined);
        free(o.w);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    switch (method) {
    case KS_WEIGHTS_RANDOM:
        s = fit_random(&o, seed, weights);
        break;
    case KS_WEIGHTS_NELDER_MEAD:
        s = n_members == 1 ? (weights[0] = 1.0, KS_OK) : fit_nelder_mead(&o, weights);
        break;
    case KS_WEIGHTS_GREEDY:
        s = fit_greedy(&o, weights);
        break;
    case KS_WEIGHTS_UNIFORM:
    default:
        for (int i = 0; i < n_members; i++)
            weights[i] = 1.0 / n_members;
        s = KS_OK;
        break;
    }
    free(o.combined);
    free(o.w);
    return s;
}
