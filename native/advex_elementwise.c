/*
 * advex's native elementwise and reduction kernels: sums over leading axes (the bias gradients of
 * convolutions and dense layers), the fused Adam update, relu's gradient and the l-inf attack step.
 * Memory-bound work, split over the thread pool of advex_direct.c; plain C that the compiler vectorizes for
 * the baseline instruction set, so it runs on any CPU. Arithmetic is float32 in the order tfjs's ops use,
 * and no product is fused with an addition, so that the results equal those of the op-by-op computation.
 */
#include <math.h>
#include <string.h>

#include "advex_direct.h"

struct sum_rows_job {
  const float *x;
  float *partial; /* parts x cols */
  long rows, cols;
};

static void sum_rows_task(void *p, int part, int parts) {
  const struct sum_rows_job *j = (const struct sum_rows_job *)p;
  long lo, hi;
  share(j->rows, part, parts, &lo, &hi);
  float *out = j->partial + (size_t)part * j->cols;
  memset(out, 0, (size_t)j->cols * sizeof(float));
  for (long r = lo; r < hi; r++) {
    const float *row = j->x + (size_t)r * j->cols;
    for (long c = 0; c < j->cols; c++) out[c] += row[c];
  }
}

static struct buffer partials = {NULL, 0};

int sum_rows(const float *x, float *out, long rows, long cols) {
  const int parts = parallel_parts((double)rows * cols);
  float *partial = parts == 1 ? out : buffer_floats(&partials, (size_t)parts * cols);
  if (partial == NULL) return -1;
  struct sum_rows_job j = {x, partial, rows, cols};
  run_parallel(sum_rows_task, &j, (double)rows * cols);
  if (parts > 1) sum_copies(partial, out, (size_t)cols, parts);
  return 0;
}

struct adam_job {
  const float *x, *m, *v, *g;
  float *xo, *mo, *vo;
  long n;
  float lr, b1, b2, eps, c1, c2;
};

/*
 * m' = m b1 + g c1; v' = v b2 + g^2 c2; x' = x - m' / (sqrt(v') + eps) lr, with c1 = 1 - b1 and c2 = 1 - b2
 * as the caller rounded them, every operation rounded to float32 (the library is built with
 * -ffp-contract=off, so no product is fused with a sum).
 */
static void adam_task(void *p, int part, int parts) {
  const struct adam_job *j = (const struct adam_job *)p;
  long lo, hi;
  share(j->n, part, parts, &lo, &hi);
  for (long k = lo; k < hi; k++) {
    const float g = j->g[k];
    const float ma = j->m[k] * j->b1, mb = g * j->c1;
    const float m = ma + mb;
    const float g2 = g * g;
    const float va = j->v[k] * j->b2, vb = g2 * j->c2;
    const float v = va + vb;
    const float den = sqrtf(v) + j->eps;
    const float q = m / den;
    const float step = q * j->lr;
    j->mo[k] = m;
    j->vo[k] = v;
    j->xo[k] = j->x[k] - step;
  }
}

void adam_step(const float *x, const float *m, const float *v, const float *g, float *xo, float *mo, float *vo,
               long n, float lr, float b1, float b2, float eps, float c1, float c2) {
  struct adam_job j = {x, m, v, g, xo, mo, vo, n, lr, b1, b2, eps, c1, c2};
  run_parallel(adam_task, &j, (double)n * 8);
}

struct channel_job {
  const float *x, *y;
  float *out;
  long rows, cols;
  int op, y_first;
};

/* out[r, c] = x[r, c] op y[c], or y[c] op x[r, c] when y_first; op: 0 add, 1 subtract, 2 multiply, 3 divide. */
static void channel_task(void *p, int part, int parts) {
  const struct channel_job *j = (const struct channel_job *)p;
  long lo, hi;
  share(j->rows, part, parts, &lo, &hi);
  const long cols = j->cols;
  const float *y = j->y;
  for (long r = lo; r < hi; r++) {
    const float *x = j->x + (size_t)r * cols;
    float *o = j->out + (size_t)r * cols;
    switch (j->op * 2 + j->y_first) {
      case 0:
      case 1:
        for (long c = 0; c < cols; c++) o[c] = x[c] + y[c];
        break;
      case 2:
        for (long c = 0; c < cols; c++) o[c] = x[c] - y[c];
        break;
      case 3:
        for (long c = 0; c < cols; c++) o[c] = y[c] - x[c];
        break;
      case 4:
      case 5:
        for (long c = 0; c < cols; c++) o[c] = x[c] * y[c];
        break;
      case 6:
        for (long c = 0; c < cols; c++) o[c] = x[c] / y[c];
        break;
      default:
        for (long c = 0; c < cols; c++) o[c] = y[c] / x[c];
        break;
    }
  }
}

void binary_channel(const float *x, const float *y, float *out, long rows, long cols, int op, int y_first) {
  struct channel_job j = {x, y, out, rows, cols, op, y_first};
  run_parallel(channel_task, &j, (double)rows * cols);
}

struct relu_grad_job {
  const float *dy, *x;
  float *out;
  long n;
};

/* out = dy * step(x), with step(x) = 1 for x > 0, NaN for NaN and 0 otherwise (tfjs's relu gradient). */
static void relu_grad_task(void *p, int part, int parts) {
  const struct relu_grad_job *j = (const struct relu_grad_job *)p;
  long lo, hi;
  share(j->n, part, parts, &lo, &hi);
  for (long k = lo; k < hi; k++) {
    const float x = j->x[k];
    const float s = x > 0.0f ? 1.0f : x != x ? x : 0.0f;
    j->out[k] = j->dy[k] * s;
  }
}

void relu_grad(const float *dy, const float *x, float *out, long n) {
  struct relu_grad_job j = {dy, x, out, n};
  run_parallel(relu_grad_task, &j, (double)n);
}

struct linf_step_job {
  const float *x, *g, *lo, *hi;
  float *out;
  long n;
  float size;
};

/*
 * out = min(max(x + size * sign(g), lo), hi), as lib/backend/linf_step.ts computes it: x + size where g > 0,
 * x - size where g < 0, x where g is 0 or NaN, then the clamp (a NaN stays NaN).
 */
static void linf_step_task(void *p, int part, int parts) {
  const struct linf_step_job *j = (const struct linf_step_job *)p;
  long lo, hi;
  share(j->n, part, parts, &lo, &hi);
  const float s = j->size;
  for (long k = lo; k < hi; k++) {
    const float g = j->g[k];
    float v = g > 0.0f ? j->x[k] + s : g < 0.0f ? j->x[k] - s : j->x[k];
    if (v < j->lo[k]) v = j->lo[k];
    if (v > j->hi[k]) v = j->hi[k];
    j->out[k] = v;
  }
}

void linf_step(const float *x, const float *g, const float *lo, const float *hi, float *out, long n,
               float size) {
  struct linf_step_job j = {x, g, lo, hi, out, n, size};
  run_parallel(linf_step_task, &j, (double)n * 4);
}
