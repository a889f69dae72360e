/* TEMPORARY link stub while data_npy.c and data_csv.c are written; removed with them. */
#include "engine_impl.h"
ks_status ks_npy_load(const char *path, size_t begin, size_t end, double scale, ks_shape *shape,
                      size_t *n, float **out, ks_error *err)
{
    (void)begin; (void)end; (void)scale; (void)shape; (void)n; (void)out;
    return ks_error_set_at(err, KS_ERR_CONFIG, path, 0, 0, ".npy files are not supported yet");
}
ks_status ks_csv_load(const char *path, const ks_csv_options *opt, size_t begin, size_t end,
                      double scale, size_t *n, size_t *x_cols, float **x, size_t *y_cols,
                      float **y, ks_error *err)
{
    (void)opt; (void)begin; (void)end; (void)scale; (void)n; (void)x_cols; (void)x; (void)y_cols; (void)y;
    return ks_error_set_at(err, KS_ERR_CONFIG, path, 0, 0, "CSV files are not supported yet");
}
