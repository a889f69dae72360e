/*
 * study_progress.c — what a person watching a study sees: a line per finished trial
 * (number, status, objective, epochs, duration, parameters) and a status line (done /
 * total, running, best so far with its parameters, elapsed, time left), redrawn in
 * place on a terminal and printed after each trial elsewhere, without escapes.
 */
#include "controller_impl.h"

#include <string.h>

static void params_text(const controller *c, const double *point, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < c->st->space.n && len < size; i++) {
        ks_value v;
        char val[48];
        if (ks_space_value(&c->st->space, i, point, &v) != KS_OK)
            continue;
        if (v.kind == KS_VALUE_NUMBER)
            snprintf(val, sizeof val, "%.4g", v.number);
        else if (v.kind == KS_VALUE_STRING)
            snprintf(val, sizeof val, "%s", v.string);
        else
            ks_value_describe(&v, val, sizeof val);
        ks_value_free(&v);
        len += (size_t)snprintf(buf + len, size - len, "%s%s=%s", len ? " " : "",
                                c->st->space.params[i].name, val);
    }
}

static void duration(double s, char *buf, size_t size)
{
    int t = (int)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, size, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
    else if (t >= 60)
        snprintf(buf, size, "%d:%02d", t / 60, t % 60);
    else
        snprintf(buf, size, "%.1fs", s);
}

/* The best trial so far (−1 if none). */
static int best_trial(const controller *c)
{
    int best = -1;
    for (int i = 0; i < c->n; i++) {
        double v = c->trials[i].objective;
        if (isnan(v))
            continue;
        if (best < 0 || (c->st->maximize ? v > c->trials[best].objective
                                         : v < c->trials[best].objective))
            best = i;
    }
    return best;
}

void ctl_clear_status(controller *c)
{
    if (c->tty && c->status_width > 0) {
        fprintf(c->out, "\r%*s\r", c->status_width, "");
        fflush(c->out);
        c->status_width = 0;
    }
}

void ctl_report_trial(controller *c, int number, const char *error)
{
    const trial_state *t = &c->trials[number];
    char params[512], obj[32] = "-", time[32];
    params_text(c, t->point, params, sizeof params);
    if (!isnan(t->objective))
        snprintf(obj, sizeof obj, "%.4f", t->objective);
    duration(t->seconds, time, sizeof time);
    ctl_clear_status(c);
    if (t->status == KS_TRIAL_COMPLETE && ctl_may_promote(c, t))
        /* a rung of successive halving: it may be promoted, or end as pruned */
        fprintf(c->out, "trial %d rung of %d epoch%s: %s %s, %s, %s\n", t->number, t->budget,
                t->budget == 1 ? "" : "s", c->st->metric, obj, time, params);
    else
        fprintf(c->out, "trial %d %s: %s %s, %d epoch%s, %s, %s\n", t->number,
                ks_trial_status_name(t->status), c->st->metric, obj, t->n_curve,
                t->n_curve == 1 ? "" : "s", time, params);
    if (error)
        fprintf(c->out, "  %s\n", error);
    fflush(c->out);
}

void ctl_status_line(controller *c)
{
    char line[1024], params[512], elapsed[32], left[32] = "?", best[600] = "none yet";
    int done = 0, b = best_trial(c);
    double spent = ks_now() - c->t0;
    int len;
    for (int i = 0; i < c->n; i++)
        done += !c->trials[i].busy && (c->trials[i].status == KS_TRIAL_COMPLETE ||
                                       c->trials[i].status == KS_TRIAL_FAILED ||
                                       c->trials[i].status == KS_TRIAL_PRUNED);
    if (b >= 0) {
        params_text(c, c->trials[b].point, params, sizeof params);
        snprintf(best, sizeof best, "%.4f (trial %d: %s)", c->trials[b].objective, b, params);
    }
    duration(spent, elapsed, sizeof elapsed);
    /* time left: the jobs finished so far set the pace */
    if (c->total > 0 && c->finished > 0 && done < c->total)
        duration(spent / c->finished * (c->total - done), left, sizeof left);
    else if (c->total > 0 && done >= c->total)
        snprintf(left, sizeof left, "0s");
    len = snprintf(line, sizeof line, "[%d/%d done, %d running] best %s %s | %s elapsed, ~%s left",
                   done, c->total, c->running, c->st->metric, best, elapsed, left);
    if (len >= (int)sizeof line)
        len = (int)sizeof line - 1;
    if (c->tty) {
        int pad = c->status_width > len ? c->status_width - len : 0;
        fprintf(c->out, "\r%s%*s", line, pad, "");
        c->status_width = len;
    } else if (c->last_status_finished != c->finished) {
        /* elsewhere: a plain line after each finished trial, none when one starts */
        fprintf(c->out, "%s\n", line);
        c->last_status_finished = c->finished;
    }
    fflush(c->out);
}
