/* TEMPORARY link stub while the built-in callbacks are written; removed with them. */
#include "engine_impl.h"
const char *const ks_callback_names[] = {NULL};
int ks_early_stopping_stopped_epoch(const ks_callback *cb) { (void)cb; return -1; }
int ks_early_stopping_best_epoch(const ks_callback *cb) { (void)cb; return -1; }
ks_status ks_callback_from_config(const char *class_name, const ks_value *args,
                                  ks_callback **out, ks_error *err)
{
    (void)args; *out = NULL;
    return ks_error_set(err, KS_ERR_CONFIG, "callback %s is not supported yet", class_name);
}
