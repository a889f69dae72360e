/*
 * test_refit.c — after the search: which trial a refit takes (the best complete one, a
 * given one, and each refusal), the training and validation rows joined into one data
 * set (arrays, text cells, weights, mismatches), a refit's model path, and the refit
 * itself: its rows and epoch count, and the same weights bit for bit when run twice.
 */
#include "../search/search_impl.h"
#include "check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------- choosing the trial */

static ks_trial_info row(int number, ks_trial_status status, double objective, int best_epoch,
                         const char *error)
{
    ks_trial_info t;
    memset(&t, 0, sizeof t);
    t.number = number;
    t.status = status;
    t.objective = objective;
    t.best_epoch = best_epoch;
    t.error = (char *)error;
    return t;
}

static void test_pick(void)
{
    ks_trial_info t[8];
    ks_error err;
    int idx;
    t[0] = row(0, KS_TRIAL_COMPLETE, 0.8, 2, NULL);
    t[1] = row(1, KS_TRIAL_FAILED, NAN, -1, "loss is nan at epoch 2");
    t[2] = row(2, KS_TRIAL_COMPLETE, 0.9, 1, NULL);
    t[3] = row(3, KS_TRIAL_PRUNED, 0.95, 0, NULL);
    t[4] = row(4, KS_TRIAL_PRUNED, NAN, -1, NULL);
    t[5] = row(5, KS_TRIAL_INTERRUPTED, 0.99, 3, NULL);
    t[6] = row(6, KS_TRIAL_RUNNING, 0.99, 3, NULL);
    t[7] = row(7, KS_TRIAL_COMPLETE, 0.9, 3, NULL);
    /* the best complete trial: pruned, interrupted and running ones do not count; a tie
       goes to the lower number */
    CHECK(ks_refit_pick(t, 8, 1, "val_accuracy", -1, &idx, &err) == KS_OK && idx == 2,
          "maximize: %d (%s)", idx, err.msg);
    CHECK(ks_refit_pick(t, 8, 0, "val_loss", -1, &idx, &err) == KS_OK && idx == 0,
          "minimize: %d (%s)", idx, err.msg);
    /* a trial named: a pruned one with a best epoch is fine */
    CHECK(ks_refit_pick(t, 8, 1, "val_accuracy", 3, &idx, &err) == KS_OK && idx == 3,
          "trial 3: %d (%s)", idx, err.msg);
    CHECK(ks_refit_pick(t, 8, 1, "val_accuracy", 7, &idx, &err) == KS_OK && idx == 7,
          "trial 7: %d (%s)", idx, err.msg);
    /* refusals: one message each, naming the trial */
    {
        static const struct {
            int number;
            const char *want;
        } bad[] = {
            {1, "trial 1 failed (loss is nan at epoch 2)"},
            {4, "trial 4 (pruned) has no best epoch: it recorded no val_accuracy value"},
            {5, "trial 5 was interrupted: run the study again to finish it"},
            {6, "trial 6 is running: let the study finish it"},
            {99, "trial 99: no such trial; the study's are 0 to 7"},
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            idx = 12345;
            ks_error_clear(&err);
            CHECK(ks_refit_pick(t, 8, 1, "val_accuracy", bad[i].number, &idx, &err) ==
                          KS_ERR_USAGE &&
                      idx == -1 && strstr(err.msg, bad[i].want),
                  "trial %d: %d \"%s\"", bad[i].number, idx, err.msg);
        }
    }
    /* nothing complete to choose from */
    CHECK(ks_refit_pick(t + 3, 4, 1, "val_accuracy", -1, &idx, &err) == KS_ERR_USAGE &&
              strstr(err.msg, "no complete trial with a val_accuracy value"),
          "%s", err.msg);
    CHECK(ks_refit_pick(t, 0, 1, "val_accuracy", 0, &idx, &err) == KS_ERR_USAGE &&
              strstr(err.msg, "the study has no trials"),
          "%s", err.msg);
}

/* -------------------------------------------------------------- joining rows */

static void test_concat_simple(void)
{
    const float xa[] = {1, 2, 3, 4, 5, 6}, ya[] = {0, 1, 0}, xb[] = {7, 8, 9, 10},
                yb[] = {3, 2}, wa[] = {0.5f, 2, 3};
    ks_data a, b;
    ks_dataset *ds = NULL;
    ks_error err;
    memset(&a, 0, sizeof a);
    a.n = 3;
    a.x_shape.ndim = 1;
    a.x_shape.dim[0] = 2;
    a.x_size = 2;
    a.x = xa;
    a.y = ya;
    a.y_size = 1;
    a.y_is_label = 1;
    a.n_classes = 2;
    a.w = wa;
    b = a;
    b.n = 2;
    b.x = xb;
    b.y = yb;
    b.n_classes = 4;
    b.w = NULL;
    REQUIRE(ks_dataset_concat(&a, &b, &ds, &err) == KS_OK, "%s", err.msg);
    {
        ks_data d = ks_dataset_data(ds);
        int ok = d.n == 5 && d.x_size == 2 && d.y_size == 1 && d.y_is_label && d.n_classes == 4 &&
                 d.x != xa && d.w;
        for (int i = 0; ok && i < 10; i++)
            ok = d.x[i] == (float)(i + 1);
        for (int i = 0; ok && i < 5; i++)
            ok = d.y[i] == (i < 3 ? ya[i] : yb[i - 3]) &&
                 d.w[i] == (i < 3 ? wa[i] : 1.0f);
        CHECK(ok, "rows of a then of b: n %zu, classes %d", d.n, d.n_classes);
    }
    ks_dataset_free(ds);
    /* shapes that differ */
    b.x_shape.dim[0] = 3;
    b.x_size = 3;
    CHECK(ks_dataset_concat(&a, &b, &ds, &err) == KS_ERR_SHAPE && !ds &&
              strstr(err.msg, "input shapes differ"),
          "%s", err.msg);
    b = a;
    b.y_is_label = 0;
    CHECK(ks_dataset_concat(&a, &b, &ds, &err) == KS_ERR_SHAPE && strstr(err.msg, "targets"),
          "%s", err.msg);
}

/* named arrays: a text input, a numeric input, a label target */
static void test_concat_named(void)
{
    const char *ta[] = {"red", "green"}, *tb[] = {"blue", "", "violet"};
    const float na[] = {1, 2}, nb[] = {3, 4, 5}, la[] = {1, 0}, lb[] = {2, 2, 1};
    ks_data a, b;
    ks_dataset *ds = NULL;
    ks_error err;
    memset(&a, 0, sizeof a);
    a.n = 2;
    a.n_inputs = 2;
    a.inputs[0].name = "colour";
    a.inputs[0].shape.ndim = 1;
    a.inputs[0].shape.dim[0] = 1;
    a.inputs[0].size = 1;
    a.inputs[0].text = ta;
    a.inputs[1].name = "size";
    a.inputs[1].shape = a.inputs[0].shape;
    a.inputs[1].size = 1;
    a.inputs[1].data = na;
    a.n_targets = 1;
    a.targets[0].name = NULL;
    a.targets[0].shape = a.inputs[0].shape;
    a.targets[0].size = 1;
    a.targets[0].data = la;
    a.targets[0].is_label = 1;
    a.targets[0].n_classes = 2;
    a.x_shape = a.inputs[0].shape;
    a.x_size = 1;
    a.y = la;
    a.y_size = 1;
    a.y_is_label = 1;
    a.n_classes = 2;
    b = a;
    b.n = 3;
    b.inputs[0].text = tb;
    b.inputs[1].data = nb;
    b.targets[0].data = lb;
    b.targets[0].n_classes = 3;
    b.y = lb;
    b.n_classes = 3;
    REQUIRE(ks_dataset_concat(&a, &b, &ds, &err) == KS_OK, "%s", err.msg);
    {
        ks_data d = ks_dataset_data(ds);
        const char *want[] = {"red", "green", "blue", "", "violet"};
        int ok = d.n == 5 && d.n_inputs == 2 && d.n_targets == 1 && d.x == NULL &&
                 d.inputs[0].text && !d.inputs[0].data && d.inputs[0].text != ta &&
                 strcmp(d.inputs[0].name, "colour") == 0 && strcmp(d.inputs[1].name, "size") == 0 &&
                 d.targets[0].name == NULL && d.targets[0].n_classes == 3 && d.n_classes == 3 &&
                 d.y == d.targets[0].data;
        for (int i = 0; ok && i < 5; i++)
            ok = strcmp(d.inputs[0].text[i], want[i]) == 0 && d.inputs[0].text[i] != want[i] &&
                 d.inputs[1].data[i] == (float)(i + 1) &&
                 d.targets[0].data[i] == (i < 2 ? la[i] : lb[i - 2]);
        CHECK(ok, "named arrays joined: n %zu, inputs %d, classes %d", d.n, d.n_inputs,
              d.n_classes);
    }
    ks_dataset_free(ds);
    b.inputs[1].name = "weight";
    CHECK(ks_dataset_concat(&a, &b, &ds, &err) == KS_ERR_SHAPE && strstr(err.msg, "names differ"),
          "%s", err.msg);
    b.inputs[1].name = "size";
    b.inputs[1].data = NULL;
    b.inputs[1].text = tb;
    CHECK(ks_dataset_concat(&a, &b, &ds, &err) == KS_ERR_SHAPE && strstr(err.msg, "text"),
          "%s", err.msg);
    b.n_inputs = 1;
    CHECK(ks_dataset_concat(&a, &b, &ds, &err) == KS_ERR_SHAPE && strstr(err.msg, "arrays"),
          "%s", err.msg);
}

/* ------------------------------------------------------------------ refitting */

static void test_refit_path(void)
{
    ks_run_paths p;
    ks_error err;
    char path[64];
    CHECK(ks_run_paths_for_name("quick", &p, &err) == KS_OK && strcmp(p.refit, "runs/quick/refit") == 0,
          "%s", p.refit);
    CHECK(ks_run_refit_path(&p, 7, path, 64, &err) == KS_OK &&
              strcmp(path, "runs/quick/refit/trial-0007.ksm") == 0,
          "%s", path);
    CHECK(ks_run_refit_path(&p, 7, path, 20, &err) == KS_ERR_USAGE && strstr(err.msg, "too long"),
          "%s", err.msg);
}

/* A study on tests/data/f200.csv (200 rows, 10 inputs, a value y): validation rows from
   data.validation or from validation_split. */
static const char study_val[] =
    "name: refit\n"
    "seed: 5\n"
    "data:\n"
    "  train:      {csv: data/f200.csv, target: y, rows: [0, 150]}\n"
    "  validation: {csv: data/f200.csv, target: y, rows: [150, 200]}\n"
    "model:\n"
    "  - Dense: {units: $units, activation: relu}\n"
    "  - Dropout: {rate: 0.1}\n"
    "  - Dense: {units: 1}\n"
    "compile: {optimizer: {Adam: {learning_rate: 0.01}}, loss: mse, metrics: [mae]}\n"
    "fit: {epochs: 6, batch_size: 32, verbose: 0}\n"
    "callbacks: [{EarlyStopping: {patience: 1}}]\n"
    "search: {method: random, max_trials: 2, metric: val_loss,\n"
    "         parameters: {units: {values: [4, 8]}}}\n";
static const char study_split[] =
    "name: refit\n"
    "seed: 5\n"
    "data:\n"
    "  train: {csv: data/f200.csv, target: y}\n"
    "  validation_split: 0.25\n"
    "model:\n"
    "  - Dense: {units: $units, activation: relu}\n"
    "  - Dense: {units: 1}\n"
    "compile: {optimizer: {Adam: {learning_rate: 0.01}}, loss: mse}\n"
    "fit: {epochs: 6, batch_size: 32, verbose: 0}\n"
    "search: {method: random, max_trials: 2, metric: val_loss,\n"
    "         parameters: {units: {values: [4, 8]}}}\n";

/* Refit trial t of the study text; the model (NULL on failure, err says why). */
static ks_model *refit(const char *text, const ks_trial_info *t, ks_error *err)
{
    const char *dir = getenv("KS_TEST_DATA") ? getenv("KS_TEST_DATA") : "tests";
    ks_study *st = NULL;
    ks_study_data d;
    ks_model *m = NULL;
    ks_refit_options o = {0, NULL, 0};
    memset(&d, 0, sizeof d);
    if (ks_study_load_text(text, "refit.yaml", dir, &st, err) == KS_OK &&
        ks_study_load_data(st, &d, err) == KS_OK)
        ks_study_refit(st, &d, t, &o, &m, err);
    ks_study_data_free(&d);
    ks_study_free(st);
    return m;
}

static int same_weights(ks_model *a, ks_model *b)
{
    return a && b && ks_model_weights_size(a) == ks_model_weights_size(b) &&
           memcmp(ks_model_weights(a), ks_model_weights(b),
                  ks_model_weights_size(a) * sizeof(float)) == 0;
}

static void test_refit(void)
{
    ks_trial_info t = row(1, KS_TRIAL_COMPLETE, 12.5, 2, NULL);
    ks_error err;
    ks_model *m1, *m2, *m3, *m4;
    t.params = (char *)"{\"units\": 8}";
    t.seed = 1234;
    m1 = refit(study_val, &t, &err);
    REQUIRE(m1 != NULL, "refit: %s", err.msg);
    m2 = refit(study_val, &t, &err);
    /* best_epoch 2: 3 epochs on 150 + 50 rows, 7 batches of 32 each; EarlyStopping (of the
       file) not run: with nothing to watch it would not stop anyway, but it is left out */
    CHECK(ks_model_iterations(m1) == 3 * 7, "optimizer steps %lld, expected 21",
          (long long)ks_model_iterations(m1));
    CHECK(ks_shape_size(ks_model_output_shape(m1)) == 1 &&
              ks_model_weight_shape(m1, 0)->dim[1] == 8,
          "the trial's units (8): kernel (%d, %d)", ks_model_weight_shape(m1, 0)->dim[0],
          ks_model_weight_shape(m1, 0)->dim[1]);
    CHECK(same_weights(m1, m2), "refitting the same trial twice gives the same weights");
    t.seed = 1235;
    m3 = refit(study_val, &t, &err);
    CHECK(m3 && !same_weights(m1, m3), "another seed, other weights (%s)", m3 ? "" : err.msg);
    /* validation_split: all 200 training rows */
    t.seed = 1234;
    m4 = refit(study_split, &t, &err);
    CHECK(m4 && ks_model_iterations(m4) == 3 * 7, "with validation_split: %lld steps (%s)",
          m4 ? (long long)ks_model_iterations(m4) : -1LL, m4 ? "" : err.msg);
    ks_model_free(m1);
    ks_model_free(m2);
    ks_model_free(m3);
    ks_model_free(m4);
    /* a trial that cannot be refit is refused before anything is trained */
    t.status = KS_TRIAL_FAILED;
    t.error = (char *)"loss is nan";
    m1 = refit(study_val, &t, &err);
    CHECK(!m1 && err.code == KS_ERR_USAGE && strstr(err.msg, "trial 1 failed"), "%s", err.msg);
    ks_model_free(m1);
    /* parameters the study does not have */
    t.status = KS_TRIAL_COMPLETE;
    t.params = (char *)"{\"width\": 8}";
    m1 = refit(study_val, &t, &err);
    CHECK(!m1 && strstr(err.msg, "units"), "%s", err.msg);
    ks_model_free(m1);
}

int main(void)
{
    test_pick();
    test_concat_simple();
    test_concat_named();
    test_refit_path();
    test_refit();
    return check_done();
}
