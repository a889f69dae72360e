/*
 * model_mask.c — masks along a model's graph, as Keras's compute_mask: where each
 * node's output mask comes from (made by the layer, kept from its first input, and-ed
 * or or-ed over several), and the combination of several at run time.  A model
 * without an Embedding(mask_zero) has no mask anywhere, and the passes only test one
 * index per node.
 */
#include "engine_impl.h"

#include <string.h>

ks_mask_mode ks_mask_keep(const ks_layer *l)
{
    (void)l;
    return KS_MASK_KEEP;
}

void ks_model_wire_masks(ks_model *m)
{
    for (int i = 0; i < m->n_nodes; i++) {
        ks_node *nd = &m->nodes[i];
        const ks_layer *l = nd->layer;
        int in0 = nd->n_in > 0 ? m->nodes[nd->inputs[0]].mask : -1;
        int first = -1, distinct = 0, unmasked = 0;
        nd->mask_mode = l->ops->mask ? l->ops->mask(l) : KS_MASK_DROP;
        nd->mask = -1;
        nd->mask_size = 0;
        for (int k = 0; k < nd->n_in; k++) {
            int mk = m->nodes[nd->inputs[k]].mask;
            if (mk < 0)
                unmasked++;
            else if (first < 0)
                first = mk, distinct = 1;
            else if (mk != first && distinct < 3)
                distinct = m->nodes[mk].mask_size == m->nodes[first].mask_size ? 2 : 3;
        }
        switch (nd->mask_mode) {
        case KS_MASK_MAKE:
            nd->mask = i;
            nd->mask_size = l->out_size / (size_t)l->out_shape.dim[l->out_shape.ndim - 1];
            break;
        case KS_MASK_KEEP:
            nd->mask = in0;
            break;
        case KS_MASK_ALL:
        case KS_MASK_ANY:
            if (first < 0 || distinct == 3 || (nd->mask_mode == KS_MASK_ANY && unmasked > 0))
                break;      /* no mask; masks of other steps; or all ones or-ed in */
            nd->mask = distinct == 1 ? first : i;
            if (nd->mask == i)
                nd->mask_size = m->nodes[first].mask_size;
            break;
        case KS_MASK_DROP:
            if (first >= 0 && !(l->ops->flags & KS_LAYER_MASK_USE))
                ks_model_warn(m, ks_model_node_source(m, i),
                              "layer \"%s\" (of type %s) was passed an input with a mask "
                              "attached to it; this layer does not support masking and drops "
                              "it: the layers after it do not see the mask",
                              nd->name, l->ops->name);
            break;
        }
    }
}

const float *ks_node_input_mask(const ks_model *m, int i)
{
    const ks_node *nd = &m->nodes[i];
    int mk = nd->n_in > 0 ? m->nodes[nd->inputs[0]].mask : -1;
    return mk >= 0 ? m->ws.mask[mk] : NULL;
}

void ks_node_combine_masks(ks_model *m, int i, int n)
{
    const ks_node *nd = &m->nodes[i];
    float *out = m->ws.mask[i];
    size_t len = (size_t)n * nd->mask_size;
    int all = nd->mask_mode == KS_MASK_ALL, started = 0;
    for (int k = 0; k < nd->n_in; k++) {
        int mk = m->nodes[nd->inputs[k]].mask;
        const float *in;
        if (mk < 0)
            continue;
        in = m->ws.mask[mk];
        if (!started) {
            memcpy(out, in, len * sizeof *out);
            started = 1;
        } else if (all) {
            for (size_t j = 0; j < len; j++)
                out[j] = out[j] != 0.0f && in[j] != 0.0f ? 1.0f : 0.0f;
        } else {
            for (size_t j = 0; j < len; j++)
                out[j] = out[j] != 0.0f || in[j] != 0.0f ? 1.0f : 0.0f;
        }
    }
}
