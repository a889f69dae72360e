/* TEMPORARY link stub while model_file.c is written; removed with it. */
#include "engine_impl.h"
ks_status ks_model_save(ks_model *m, const char *path, unsigned flags, int epoch, ks_error *err)
{
    (void)m; (void)flags; (void)epoch;
    return ks_error_set_at(err, KS_ERR_IO, path, 0, 0, "model files are not supported yet");
}
ks_status ks_model_load(const char *path, ks_model **out, int *epoch, ks_error *err)
{
    (void)epoch; *out = NULL;
    return ks_error_set_at(err, KS_ERR_IO, path, 0, 0, "model files are not supported yet");
}
