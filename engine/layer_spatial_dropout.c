/*
 * layer_spatial_dropout.c — SpatialDropout2D and SpatialDropout1D(rate): in training,
 * drops whole channels (a sample's feature map) with probability rate and scales the
 * rest by 1/(1-rate), as Keras; at evaluate and predict it passes the input through.
 * The draws come from the model's dropout stream, one per (sample, channel).
 */
#include "engine_impl.h"

#include <string.h>

typedef struct spatial_dropout_state {
    double rate;
    int data_format;
    int seed;
    /* derived at build */
    int positions, channels;
} spatial_dropout_state;

static const ks_key spatial_dropout_keys[] = {
    {"rate", KS_KEY_FLOAT, offsetof(spatial_dropout_state, rate), 0, 0, 1, NULL, NULL,
     KS_KEY_REQUIRED | KS_KEY_MAX_EXCL},
    KS_DATA_FORMAT_KEY(spatial_dropout_state),
    KS_SEED_KEY(spatial_dropout_state),
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static ks_status spatial_dropout_build(ks_layer *l, int rank, ks_error *err)
{
    spatial_dropout_state *st = l->state;
    ks_status s = ks_layer_check_input(l, rank, st->data_format, err);
    if (s != KS_OK)
        return s;
    st->channels = l->in_shape[0].dim[rank];
    st->positions = (int)(l->in_size[0] / (size_t)st->channels);
    l->out_shape = l->in_shape[0];
    return KS_OK;
}

static ks_status spatial_dropout2d_build(ks_layer *l, ks_error *err)
{
    return spatial_dropout_build(l, 2, err);
}

static ks_status spatial_dropout1d_build(ks_layer *l, ks_error *err)
{
    return spatial_dropout_build(l, 1, err);
}

/* the mask: per sample and channel, 0 or 1/(1-rate) */
static size_t spatial_dropout_scratch(const ks_layer *l, int batch)
{
    return (size_t)batch * ((const spatial_dropout_state *)l->state)->channels;
}

/* out = in · mask (beta 1: out += in · mask), the mask repeated over every position of
   each sample */
static void apply_mask(const spatial_dropout_state *st, int n, const float *restrict in,
                       const float *restrict mask, float *restrict out, float beta)
{
    const int P = st->positions, C = st->channels;
    for (int b = 0; b < n; b++) {
        const float *m = mask + (size_t)b * C;
        for (int p = 0; p < P; p++) {
            size_t at = ((size_t)b * P + p) * C;
            if (beta == 0.0f)
                for (int c = 0; c < C; c++)
                    out[at + c] = in[at + c] * m[c];
            else
                for (int c = 0; c < C; c++)
                    out[at + c] += in[at + c] * m[c];
        }
    }
}

static void spatial_dropout_forward(ks_layer *l, const ks_fwd *f)
{
    const spatial_dropout_state *st = l->state;
    size_t masks = (size_t)f->n * st->channels;
    if (!f->training) {
        memcpy(f->y, f->x[0], (size_t)f->n * l->out_size * sizeof(float));
        return;
    }
    {
        float keep_scale = (float)(1.0 / (1.0 - st->rate));
        for (size_t i = 0; i < masks; i++)
            f->scratch[i] =
                st->rate == 0.0 || ks_rng_uniform(f->rng) >= st->rate ? keep_scale : 0.0f;
    }
    apply_mask(st, f->n, f->x[0], f->scratch, f->y, 0.0f);
}

static void spatial_dropout_backward(ks_layer *l, const ks_bwd *b)
{
    if (b->dx[0])
        apply_mask(l->state, b->n, b->dy, b->scratch, b->dx[0], b->dx_beta[0]);
}

const ks_layer_ops ks_layer_spatial_dropout2d_ops = {
    .name = "SpatialDropout2D",
    .keys = spatial_dropout_keys,
    .state_size = sizeof(spatial_dropout_state),
    .build = spatial_dropout2d_build,
    .scratch_size = spatial_dropout_scratch,
    .forward = spatial_dropout_forward,
    .backward = spatial_dropout_backward,
    .onnx = ks_onnx_identity,
};

const ks_layer_ops ks_layer_spatial_dropout1d_ops = {
    .name = "SpatialDropout1D",
    .keys = spatial_dropout_keys,
    .state_size = sizeof(spatial_dropout_state),
    .build = spatial_dropout1d_build,
    .scratch_size = spatial_dropout_scratch,
    .forward = spatial_dropout_forward,
    .backward = spatial_dropout_backward,
    .onnx = ks_onnx_identity,
};
