/*
 * search.h — the public interface of ksearch's search module: study and run files
 * (YAML), and — in later parts — the search space, algorithms, controller and
 * ensembles.  Built on the tracker and the engine.
 *
 * Ownership as in engine.h: _load/_new results are freed with the matching _free.
 */
#ifndef KS_SEARCH_H
#define KS_SEARCH_H

#include "../engine/engine.h"

/*
 * Read a YAML file into a value tree.  name is the source name used in messages and
 * stored (borrowed) in every node: keep it alive as long as out.
 */
ks_status ks_yaml_load(const char *path, const char *name, ks_value *out, ks_error *err);

/*
 * A run file (`ksearch fit MODEL.yaml`): name, seed, data, model, compile, fit and
 * callbacks sections, as in a study file without its search section.  Every key is
 * checked on load; sections that need data (shapes) are checked when used.
 */
typedef struct ks_run_config {
    ks_value doc;                   /* the whole file */
    char path[1024];                /* as given; the source name of every node */
    char dir[1024];                 /* its directory, for relative data paths */
    char name[128];                 /* runs/NAME; default the file's base name */
    uint64_t seed;                  /* 42 */
    const ks_value *train, *validation, *test;     /* data entries; NULL if absent */
    const ks_value *model, *compile, *callbacks, *search, *ensemble;
    ks_fit_params fit;              /* the fit section, Keras defaults */
    double class_weight[256];       /* fit.class_weight by class index (1 where absent) */
} ks_run_config;

ks_status ks_run_config_load(const char *path, ks_run_config **out, ks_error *err);
void ks_run_config_free(ks_run_config *c);

#endif
