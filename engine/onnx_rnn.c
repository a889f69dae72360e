/*
 * onnx_rnn.c — recurrent layers lowered to ONNX's own RNN, GRU and LSTM operators
 * (opset 13, layout 0: time first): Keras's (features, gates·units) kernels become
 * ONNX's (directions, gates·units, features) with the gates reordered (Keras's LSTM
 * i, f, c, o → ONNX's i, o, f, c; GRU z, r, h as they are, reset_after as
 * linear_before_reset with the recurrent bias in Rb), one direction or Bidirectional's
 * two in one node, and the output brought back to Keras's batch-first layout and merge.
 * A mask becomes the operator's sequence_lens after the kept steps are moved to the
 * front of each row (and the outputs back to their steps), so that the export skips
 * the masked steps wherever they are, as ksearch and Keras do.
 */
#include "engine_impl.h"

#include <string.h>

/* ONNX's gate g reads Keras's gate map[cell][g]. */
static const int gate_map[3][4] = {{0}, {0, 3, 1, 2}, {0, 1, 2}};
static const char *const op_of[3] = {"RNN", "LSTM", "GRU"};

/* What ONNX cannot express of a pass (the message), or NULL; alone: not Bidirectional's. */
static const char *unsupported(const ks_rnn *r, int alone)
{
    if (r->act != KS_ACT_TANH || (r->cell != KS_RNN_SIMPLE && r->rec_act != KS_ACT_SIGMOID))
        return "activations other than tanh (and a sigmoid recurrent_activation)";
    if (alone && r->go_backwards && r->return_sequences)
        return "go_backwards with return_sequences (Keras returns the steps reversed)";
    return NULL;
}

/* W, R and B of the passes r[0 .. dirs) as initializers of the layer's. */
static void weights(const ks_layer *l, ks_onnx *g, const ks_rnn *const *r, int dirs,
                    const char **w, const char **rr, const char **b)
{
    int F = r[0]->features, U = r[0]->units, G = r[0]->gates;
    int64_t dw[3] = {dirs, (int64_t)G * U, F}, dr[3] = {dirs, (int64_t)G * U, U},
            db[2] = {dirs, 2 * (int64_t)G * U};
    float *W, *R, *B;
    *w = ks_onnx_layer_name(g, l, "/W");
    *rr = ks_onnx_layer_name(g, l, "/R");
    *b = ks_onnx_layer_name(g, l, "/B");
    W = ks_onnx_init_float(g, *w, 3, dw);
    R = ks_onnx_init_float(g, *rr, 3, dr);
    B = ks_onnx_init_float(g, *b, 2, db);
    if (!W || !R || !B)
        return;
    for (int d = 0; d < dirs; d++) {
        const float *k = l->weights[r[d]->kernel].w, *rk = l->weights[r[d]->recurrent].w;
        const float *bias = r[d]->bias >= 0 ? l->weights[r[d]->bias].w : NULL;
        /* GRU's reset_after: bias (2, 3U), input then recurrent */
        int two = bias && l->weights[r[d]->bias].shape.ndim == 2;
        for (int go = 0; go < G; go++) {
            int gk = gate_map[r[d]->cell][go];
            for (int u = 0; u < U; u++) {
                size_t row = (size_t)d * G * U + (size_t)go * U + (size_t)u;
                size_t col = (size_t)gk * U + (size_t)u;
                for (int f = 0; f < F; f++)
                    W[row * F + f] = k[(size_t)f * G * U + col];
                for (int j = 0; j < U; j++)
                    R[row * U + j] = rk[(size_t)j * G * U + col];
                B[(size_t)d * 2 * G * U + (size_t)go * U + u] = bias ? bias[col] : 0.0f;
                B[(size_t)d * 2 * G * U + (size_t)G * U + (size_t)go * U + u] =
                    two ? bias[(size_t)G * U + col] : 0.0f;
            }
        }
    }
}

/*
 * A masked pass (mask (N, T), 1 keep): the kept steps of x (N, T, F) moved to the front of
 * each row in their order (ONNX's TopK of the mask puts the lower index first among equal
 * values), and each row's count of them (float, in *count) and the count as int32, at
 * least 1, in *lens, for the operator's sequence_lens: it runs over those steps alone, as
 * a masked step leaves the state as it was (a row with none runs one step, whose output
 * final_state zeroes: runtimes differ on a length of 0).  Returns the moved x.
 */
static const char *kept_first(const ks_layer *l, ks_onnx *g, const ks_rnn *r, const char *x,
                              const char *mask, const char **count, const char **lens)
{
    static const int64_t steps_axis = 1, feature_axis = 2;
    const int64_t steps = r->steps, x_shape[3] = {1, r->steps, r->features};
    const char *in[2], *top[2];
    const char *order3 = ks_onnx_layer_name(g, l, "/kept_order3:0");
    const char *index = ks_onnx_layer_name(g, l, "/kept_index:0");
    const char *moved = ks_onnx_layer_name(g, l, "/kept_first:0");
    const char *one = ks_onnx_layer_name(g, l, "/one");
    const char *some = ks_onnx_layer_name(g, l, "/kept_steps_at_least_1:0");
    int node;
    *count = ks_onnx_layer_name(g, l, "/kept_steps:0");
    ks_onnx_const_float(g, one, 0, NULL, 1.0f);
    in[0] = mask;
    in[1] = ks_onnx_const_shape(g, ks_onnx_layer_name(g, l, "/steps"), &steps, 1);
    top[0] = ks_onnx_layer_name(g, l, "/mask_sorted:0");
    top[1] = ks_onnx_layer_name(g, l, "/kept_order:0");
    node = ks_onnx_node(g, "TopK", in, 2, top, 2);
    ks_onnx_attr_int(g, node, "axis", 1);
    ks_onnx_attr_int(g, node, "largest", 1);
    ks_onnx_attr_int(g, node, "sorted", 1);
    /* the order (N, T) as indices of x's elements (N, T, F) */
    ks_onnx_node2(g, "Unsqueeze", top[1],
                  ks_onnx_const_shape(g, ks_onnx_layer_name(g, l, "/feature_axis"),
                                      &feature_axis, 1),
                  order3);
    ks_onnx_node2(g, "Expand", order3,
                  ks_onnx_const_shape(g, ks_onnx_layer_name(g, l, "/x_shape"), x_shape, 3),
                  index);
    ks_onnx_attr_int(g, ks_onnx_node2(g, "GatherElements", x, index, moved), "axis", 1);
    node = ks_onnx_node2(g, "ReduceSum", mask,
                         ks_onnx_const_shape(g, ks_onnx_layer_name(g, l, "/steps_axis"),
                                             &steps_axis, 1),
                         *count);
    ks_onnx_attr_int(g, node, "keepdims", 0);
    ks_onnx_node2(g, "Max", *count, one, some);
    *lens = ks_onnx_layer_name(g, l, "/sequence_lens:0");
    ks_onnx_attr_int(g, ks_onnx_node(g, "Cast", &some, 1, lens, 1), "to", KS_ONNX_INT32);
    return moved;
}

/* The final state y (N, D, U) of a masked pass, 0 for a row without a kept step (count
   (N) is 0), where the operator ran one step. */
static const char *final_state(const ks_layer *l, ks_onnx *g, const char *y, const char *count)
{
    static const int64_t axes[2] = {1, 2};
    const char *one = ks_onnx_layer_name(g, l, "/one");
    const char *started = ks_onnx_layer_name(g, l, "/started:0");
    const char *started3 = ks_onnx_layer_name(g, l, "/started3:0");
    const char *res = ks_onnx_layer_name(g, l, "/masked_state:0");
    ks_onnx_node2(g, "Min", count, one, started);
    ks_onnx_node2(g, "Unsqueeze", started,
                  ks_onnx_const_shape(g, ks_onnx_layer_name(g, l, "/state_axes"), axes, 2),
                  started3);
    ks_onnx_node2(g, "Mul", y, started3, res);
    return res;
}

/*
 * The outputs y (N, T, D, U) of a masked pass over the kept steps, back at the steps of
 * the sequence: step t takes the output after the last kept step up to t (kept so far
 * c = cumsum(mask), the output at c − 1), times 0 before the first kept step (min(c, 1))
 * as the state is still the initial one; with zero_output, masked steps give 0 (times
 * the mask).  The constant "/one" is kept_first's.  Returns the tensor.
 */
static const char *back_to_steps(const ks_layer *l, ks_onnx *g, const ks_rnn *r, int dirs,
                                 const char *y, const char *mask)
{
    static const int64_t steps_axis = 1, unit_axes[2] = {2, 3};
    const int64_t y_shape[4] = {1, r->steps, dirs, r->units};
    const char *one = ks_onnx_layer_name(g, l, "/one");
    const char *axes = ks_onnx_layer_name(g, l, "/unit_axes");
    const char *c = ks_onnx_layer_name(g, l, "/kept_so_far:0");
    const char *before = ks_onnx_layer_name(g, l, "/kept_before:0");
    const char *at = ks_onnx_layer_name(g, l, "/output_step:0");
    const char *at64 = ks_onnx_layer_name(g, l, "/output_step64:0");
    const char *at4 = ks_onnx_layer_name(g, l, "/output_step4:0");
    const char *index = ks_onnx_layer_name(g, l, "/output_index:0");
    const char *moved = ks_onnx_layer_name(g, l, "/at_steps:0");
    const char *w = r->zero_output ? mask : ks_onnx_layer_name(g, l, "/output_started:0");
    const char *w4 = ks_onnx_layer_name(g, l, "/output_started4:0");
    const char *res = ks_onnx_layer_name(g, l, "/masked_outputs:0");
    ks_onnx_const_shape(g, axes, unit_axes, 2);
    ks_onnx_node2(g, "CumSum", mask,
                  ks_onnx_const_shape(g, ks_onnx_layer_name(g, l, "/cumsum_axis"), &steps_axis, 1),
                  c);
    ks_onnx_node2(g, "Sub", c, one, before);
    ks_onnx_node1(g, "Relu", before, at);
    ks_onnx_attr_int(g, ks_onnx_node(g, "Cast", &at, 1, &at64, 1), "to", KS_ONNX_INT64);
    ks_onnx_node2(g, "Unsqueeze", at64, axes, at4);
    ks_onnx_node2(g, "Expand", at4,
                  ks_onnx_const_shape(g, ks_onnx_layer_name(g, l, "/y_shape"), y_shape, 4), index);
    ks_onnx_attr_int(g, ks_onnx_node2(g, "GatherElements", y, index, moved), "axis", 1);
    if (!r->zero_output)
        ks_onnx_node2(g, "Min", c, one, w);
    ks_onnx_node2(g, "Unsqueeze", w, axes, w4);
    ks_onnx_node2(g, "Mul", moved, w4, res);
    return res;
}

ks_status ks_rnn_onnx(const ks_layer *l, ks_onnx *g, const ks_rnn *const *r, int dirs,
                      int merge, const char *x, const char **out, ks_error *err)
{
    static const int64_t time_first[3] = {1, 0, 2}, y_perm[4] = {2, 0, 1, 3};
    const char *why = unsupported(r[0], dirs == 1), *w, *rr, *b, *in[5], *res[2], *t;
    const char *mask = ks_onnx_input_mask(g), *count = NULL;
    int seq = r[0]->return_sequences, node;
    /* Bidirectional: ONNX's second direction is the backward one, its outputs in time
       order as Keras flips them back */
    for (int d = 1; d < dirs && !why; d++)
        why = unsupported(r[d], 0) ? unsupported(r[d], 0)
              : r[0]->go_backwards || r[d]->cell != r[0]->cell || r[d]->units != r[0]->units ||
                      r[d]->use_bias != r[0]->use_bias
                  ? "a backward_layer unlike the forward one"
                  : NULL;
    if (why)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "layer \"%s\": the ONNX export does not support %s", l->name, why);
    weights(l, g, r, dirs, &w, &rr, &b);
    if (mask)
        x = kept_first(l, g, r[0], x, mask, &count, &in[4]);
    in[0] = ks_onnx_layer_name(g, l, "/time_first:0");
    node = ks_onnx_node(g, "Transpose", &x, 1, &in[0], 1);
    ks_onnx_attr_ints(g, node, "perm", time_first, 3);
    in[1] = w;
    in[2] = rr;
    in[3] = b;
    res[0] = ks_onnx_layer_name(g, l, "/Y:0");
    res[1] = ks_onnx_layer_name(g, l, "/Y_h:0");
    node = ks_onnx_node(g, op_of[r[0]->cell], in, mask ? 5 : 4, res, 2);
    ks_onnx_attr_int(g, node, "hidden_size", r[0]->units);
    ks_onnx_attr_string(g, node, "direction",
                        dirs == 2 ? "bidirectional" : r[0]->go_backwards ? "reverse" : "forward");
    if (r[0]->cell == KS_RNN_GRU)       /* ksearch's GRU is reset_after's, bias or none */
        ks_onnx_attr_int(g, node, "linear_before_reset", 1);
    /* back to batch first: Y (T, D, N, U) → (N, T, D, U); Y_h (D, N, U) → (N, D, U) */
    t = ks_onnx_layer_name(g, l, "/batch_first:0");
    node = ks_onnx_node(g, "Transpose", &res[seq ? 0 : 1], 1, &t, 1);
    ks_onnx_attr_ints(g, node, "perm", seq ? y_perm : time_first, seq ? 4 : 3);
    if (mask)
        t = seq ? back_to_steps(l, g, r[0], dirs, t, mask) : final_state(l, g, t, count);
    *out = ks_onnx_layer_name(g, l, ":0");
    if (merge == 0) {                   /* one direction, or concat: the D axis joins U */
        static const int64_t keep2[3] = {0, 0, -1}, keep1[2] = {0, -1};
        const char *shape = ks_onnx_layer_name(g, l, "/shape");
        const char *rs[2] = {t, shape};
        ks_onnx_const_shape(g, shape, seq ? keep2 : keep1, seq ? 3 : 2);
        ks_onnx_node(g, "Reshape", rs, 2, out, 1);
    } else {                            /* sum, mul, ave over the D axis */
        static const char *const reduce[4] = {NULL, "ReduceSum", "ReduceProd", "ReduceMean"};
        int64_t axis = seq ? 2 : 1;
        if (merge == 1) {
            const char *axes = ks_onnx_layer_name(g, l, "/axes");
            const char *rs[2] = {t, axes};
            ks_onnx_const_shape(g, axes, &axis, 1);
            node = ks_onnx_node(g, reduce[merge], rs, 2, out, 1);
        } else {
            node = ks_onnx_node(g, reduce[merge], &t, 1, out, 1);
            ks_onnx_attr_ints(g, node, "axes", &axis, 1);
        }
        ks_onnx_attr_int(g, node, "keepdims", 0);
    }
    return KS_OK;
}
