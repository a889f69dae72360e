/*
 * message.h — what crosses the controller–worker boundary from the controller: a trial
 * request (which trial, its point, seed, budget, the epoch to start from and the
 * checkpoint to continue from), the pruner's verdict on a trial at an epoch, and their
 * wire forms for transports between processes.
 * What comes back is the tracker's records (tracker.h: ks_record).
 */
#ifndef KS_MESSAGE_H
#define KS_MESSAGE_H

#include "search_impl.h"

typedef struct ks_trial_request {
    int number;                         /* the trial */
    int slot;                           /* the worker it is for (routing) */
    double point[KS_MAX_SEARCH_PARAMS]; /* its parameters (the study's space) */
    uint64_t seed;                      /* the fit's seed */
    int budget;                         /* train to this epoch count */
    int initial_epoch;                  /* 0, or the checkpoint's epoch */
    int recorded;                       /* epochs recorded so far (a resume needs a checkpoint) */
    double best_so_far;                 /* the objective before initial_epoch (NaN: none) */
    unsigned char *checkpoint;          /* the model to continue from (malloc'd), or NULL */
    size_t checkpoint_len;
} ks_trial_request;

/* Frees the checkpoint (the request itself is the caller's). */
void ks_trial_request_clear(ks_trial_request *r);

/*
 * The wire form (little-endian, lengths bounded, CRC-32 over the whole): *buf malloc'd.
 * Decoding a damaged or hostile buffer is KS_ERR_CORRUPT saying what, never a crash; the
 * decoded request owns a copy of the checkpoint.
 */
ks_status ks_trial_request_encode(const ks_trial_request *r, unsigned char **buf, size_t *len,
                                  ks_error *err);
ks_status ks_trial_request_decode(const unsigned char *buf, size_t len, ks_trial_request *out,
                                  ks_error *err);

/* search.pruner's verdict on a trial at a checked epoch, for the worker of slot. */
typedef struct ks_verdict {
    int trial, slot, epoch;
    int prune;                          /* 1 prune, 0 go on */
} ks_verdict;

/* Its wire form, checked as a request's (*buf malloc'd). */
ks_status ks_verdict_encode(const ks_verdict *v, unsigned char **buf, size_t *len, ks_error *err);
ks_status ks_verdict_decode(const unsigned char *buf, size_t len, ks_verdict *out, ks_error *err);

#endif
