/*
 * advex's native CPU kernels: 2-D convolutions (forward, input gradient, filter gradient) and batched
 * matrix products on float32 NHWC tensors, as im2col / col2im around the BLAS single-precision matrix
 * product. Loaded by lib/backend/native.ts through Deno's FFI; the tensors are views of the tfjs wasm
 * backend's heap, so nothing is copied on the way in or out.
 *
 * The BLAS library is opened at run time (advex_init), not linked: building needs only a C compiler and
 * libc, and a machine without OpenBLAS simply keeps the wasm kernels.
 *
 * Threads. Every entry point holds one lock, so calls from several JavaScript threads (Deno workers, test
 * files) take turns over the shared scratch buffer. Every BLAS call runs on one long-lived thread owned by
 * this library: OpenBLAS keeps per-calling-thread buffers, and a calling thread that exits (a finished Deno
 * worker) left them to be freed twice when the process ended.
 *
 * Build: deno task build:native (tools/build_native.ts).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "advex_direct.h"

enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

/* Loops the compiler should vectorize get one copy per x86-64 level, picked at load time by the CPU. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MULTIVERSION
#endif

typedef void (*sgemm_fn)(int order, int trans_a, int trans_b, int m, int n, int k, float alpha,
                         const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

static sgemm_fn sgemm_impl = NULL;

/* --- the BLAS thread ------------------------------------------------------------------------------------ */

static pthread_mutex_t call_lock = PTHREAD_MUTEX_INITIALIZER; /* held by each entry point */
static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t job_ready = PTHREAD_COND_INITIALIZER;
static pthread_cond_t job_done = PTHREAD_COND_INITIALIZER;
static void (*job_fn)(void *) = NULL;
static void *job_arg = NULL;
static int job_pending = 0;
static int worker_started = 0;

static void *worker_main(void *unused) {
  (void)unused;
  pthread_mutex_lock(&job_lock);
  for (;;) {
    while (!job_pending) pthread_cond_wait(&job_ready, &job_lock);
    void (*fn)(void *) = job_fn;
    void *arg = job_arg;
    pthread_mutex_unlock(&job_lock);
    fn(arg);
    pthread_mutex_lock(&job_lock);
    job_pending = 0;
    pthread_cond_signal(&job_done);
  }
  return NULL;
}

/* Runs fn(arg) on the BLAS thread and waits for it (the caller holds call_lock); inline if none starts. */
static void on_blas_thread(void (*fn)(void *), void *arg) {
  pthread_mutex_lock(&job_lock);
  if (!worker_started) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    worker_started = pthread_create(&t, &attr, worker_main, NULL) == 0 ? 1 : -1;
    pthread_attr_destroy(&attr);
  }
  if (worker_started < 0) {
    pthread_mutex_unlock(&job_lock);
    fn(arg);
    return;
  }
  job_fn = fn;
  job_arg = arg;
  job_pending = 1;
  pthread_cond_signal(&job_ready);
  while (job_pending) pthread_cond_wait(&job_done, &job_lock);
  pthread_mutex_unlock(&job_lock);
}

struct gemm_args {
  int trans_a, trans_b, m, n, k;
  const float *a;
  int lda;
  const float *b;
  int ldb;
  float beta;
  float *c;
  int ldc;
};

static void gemm_job(void *p) {
  struct gemm_args *g = (struct gemm_args *)p;
  sgemm_impl(ROW_MAJOR, g->trans_a, g->trans_b, g->m, g->n, g->k, 1.0f, g->a, g->lda, g->b, g->ldb, g->beta,
             g->c, g->ldc);
}

/* C = op(A) op(B) + beta C, row-major, on the BLAS thread. */
static void sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                  int lda, const float *b, int ldb, float beta, float *c, int ldc) {
  (void)order;
  (void)alpha; /* always 1 here */
  struct gemm_args g = {trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc};
  on_blas_thread(gemm_job, &g);
}
static void (*set_threads)(int) = NULL;
static int (*get_threads)(void) = NULL;
static char *(*get_config)(void) = NULL;
static char *(*get_corename)(void) = NULL;

struct init_args {
  const char *path;
  int result;
};

static void init_job(void *p) {
  struct init_args *a = (struct init_args *)p;
  void *lib = dlopen(a->path, RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    a->result = -1;
    return;
  }
  sgemm_impl = (sgemm_fn)dlsym(lib, "cblas_sgemm");
  set_threads = (void (*)(int))dlsym(lib, "openblas_set_num_threads");
  get_threads = (int (*)(void))dlsym(lib, "openblas_get_num_threads");
  get_config = (char *(*)(void))dlsym(lib, "openblas_get_config");
  get_corename = (char *(*)(void))dlsym(lib, "openblas_get_corename");
  a->result = sgemm_impl == NULL ? -2 : 0;
}

/*
 * Opens the BLAS library at `path` (e.g. "libopenblas.so.0") on the BLAS thread, so that its initialisation
 * too happens there. 0: ready; -1: not found; -2: no cblas_sgemm.
 */
int advex_init(const char *path) {
  struct init_args a = {path, -1};
  pthread_mutex_lock(&call_lock);
  on_blas_thread(init_job, &a);
  pthread_mutex_unlock(&call_lock);
  return a.result;
}

static void threads_job(void *p) {
  int *n = (int *)p;
  if (set_threads != NULL && *n > 0) set_threads(*n);
  *n = get_threads != NULL ? get_threads() : 1;
}

/* Sets the BLAS thread count when n > 0; returns the count in use (1 when the library does not say). */
int advex_threads(int n) {
  pthread_mutex_lock(&call_lock);
  on_blas_thread(threads_job, &n);
  pthread_mutex_unlock(&call_lock);
  return n;
}

/*
 * Copies the library's description into `out` (OpenBLAS only: its build configuration, or with `what` = 1 the
 * name of the CPU kernels it runs); returns its length (0 if none).
 */
int advex_blas_config(char *out, int size, int what) {
  char *(*get)(void) = what == 1 ? get_corename : get_config;
  if (get == NULL || size < 1) return 0;
  const char *s = get();
  int n = (int)strlen(s);
  if (n >= size) n = size - 1;
  memcpy(out, s, (size_t)n);
  out[n] = 0;
  return n;
}

/* y = act(y + bias) over the rows x co matrix y; bias may be NULL. */
static void bias_activation(float *y, size_t rows, int co, const float *bias, int act) {
  if (bias == NULL && act == ACT_LINEAR) return;
  for (size_t r = 0; r < rows; r++) {
    float *row = y + r * co;
    if (bias != NULL) {
      for (int c = 0; c < co; c++) row[c] += bias[c];
    }
    if (act == ACT_RELU) {
      for (int c = 0; c < co; c++) row[c] = row[c] > 0.0f ? row[c] : 0.0f;
    }
  }
}

/*
 * c[i] = act(op(a[i]) x op(b[i]) + bias) for i < batch, where a holds batch_a matrices and b batch_b (1 or
 * batch: broadcast); bias (n values) may be NULL. op(a) is m x k (a stored k x m when trans_a), op(b) is
 * k x n (stored n x k when trans_b). The direct kernel takes the product where it can, else BLAS.
 */
static void advex_batch_matmul_locked(const float *a, const float *b, const float *bias, int act, float *c,
                                      int batch, int batch_a, int batch_b, int m, int n, int k, int trans_a,
                                      int trans_b) {
  for (int i = 0; i < batch; i++) {
    const float *ai = a + (size_t)(batch_a == 1 ? 0 : i) * m * k;
    const float *bi = b + (size_t)(batch_b == 1 ? 0 : i) * k * n;
    float *ci = c + (size_t)i * m * n;
    if (direct_matmul(ai, bi, ci, m, n, k, trans_a, trans_b, bias, act) > 0) continue;
    sgemm(ROW_MAJOR, trans_a ? TRANS : NO_TRANS, trans_b ? TRANS : NO_TRANS, m, n, k, 1.0f, ai,
          trans_a ? m : k, bi, trans_b ? k : n, 0.0f, ci, n);
    bias_activation(ci, (size_t)m, n, bias, act);
  }
}

void advex_batch_matmul(const float *a, const float *b, const float *bias, int act, float *c, int batch,
                        int batch_a, int batch_b, int m, int n, int k, int trans_a, int trans_b) {
  pthread_mutex_lock(&call_lock);
  advex_batch_matmul_locked(a, b, bias, act, c, batch, batch_a, batch_b, m, n, k, trans_a, trans_b);
  pthread_mutex_unlock(&call_lock);
}

/* Floats of patch matrix built at once (images are processed in chunks below this size). */
static const size_t PATCH_LIMIT = (size_t)1 << 21;

static float *scratch = NULL;
static size_t scratch_size = 0;

static float *scratch_floats(size_t n) {
  if (n > scratch_size) {
    free(scratch);
    scratch = (float *)malloc(n * sizeof(float));
    scratch_size = scratch == NULL ? 0 : n;
  }
  return scratch;
}

static int images_per_chunk(const advex_conv_geometry *g) {
  size_t per = (size_t)g->oh * g->ow * g->kh * g->kw * g->ci;
  size_t k = per == 0 ? 1 : PATCH_LIMIT / per;
  if (k < 1) k = 1;
  if (k > (size_t)g->n) k = (size_t)g->n;
  return (int)k;
}

/* A 1x1 convolution with stride 1 and no padding: a plain product, no patch matrix needed. */
static int pointwise(const advex_conv_geometry *g) {
  return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->top == 0 && g->left == 0 &&
         g->oh == g->h && g->ow == g->w;
}

/* Patch matrix of images start..start+count-1: rows (i, p, q), columns (a, b, c), zeros outside the image. */
static void im2col(const float *x, float *col, const advex_conv_geometry *g, int start, int count) {
  const int h = g->h, w = g->w, ci = g->ci, kh = g->kh, kw = g->kw;
  const int sh = g->sh, sw = g->sw, dh = g->dh, dw = g->dw, top = g->top, left = g->left;
  const int oh = g->oh, ow = g->ow;
  const size_t bytes = (size_t)ci * sizeof(float);
  float *o = col;
  for (int i = start; i < start + count; i++) {
    const float *img = x + (size_t)i * h * w * ci;
    for (int p = 0; p < oh; p++) {
      for (int q = 0; q < ow; q++) {
        for (int a = 0; a < kh; a++) {
          const int y = p * sh + a * dh - top;
          if (y < 0 || y >= h) {
            memset(o, 0, bytes * kw);
            o += (size_t)kw * ci;
            continue;
          }
          const float *row = img + (size_t)y * w * ci;
          for (int b = 0; b < kw; b++) {
            const int xx = q * sw + b * dw - left;
            if (xx < 0 || xx >= w) memset(o, 0, bytes);
            else memcpy(o, row + (size_t)xx * ci, bytes);
            o += ci;
          }
        }
      }
    }
  }
}

/* Adds the patch matrix `col` back into the images start..start+count-1 of dx (the adjoint of im2col). */
static void col2im_add(const float *col, float *dx, const advex_conv_geometry *g, int start, int count) {
  const int h = g->h, w = g->w, ci = g->ci, kh = g->kh, kw = g->kw;
  const int sh = g->sh, sw = g->sw, dh = g->dh, dw = g->dw, top = g->top, left = g->left;
  const int oh = g->oh, ow = g->ow;
  const float *o = col;
  for (int i = start; i < start + count; i++) {
    float *img = dx + (size_t)i * h * w * ci;
    for (int p = 0; p < oh; p++) {
      for (int q = 0; q < ow; q++) {
        for (int a = 0; a < kh; a++) {
          const int y = p * sh + a * dh - top;
          if (y < 0 || y >= h) {
            o += (size_t)kw * ci;
            continue;
          }
          float *row = img + (size_t)y * w * ci;
          for (int b = 0; b < kw; b++) {
            const int xx = q * sw + b * dw - left;
            if (xx >= 0 && xx < w) {
              float *d = row + (size_t)xx * ci;
              for (int c = 0; c < ci; c++) d[c] += o[c];
            }
            o += ci;
          }
        }
      }
    }
  }
}

/*
 * y[n, oh, ow, co] = act(conv(x[n, h, w, ci], f[kh, kw, ci, co]) + bias), bias optional. Returns 0, or -1
 * when out of memory.
 */
static int advex_conv2d_locked(const float *x, const float *f, const float *bias, int act, float *y,
                               const advex_conv_geometry *g) {
  const int direct = direct_conv2d(x, f, bias, act, y, g);
  if (direct != 0) return direct > 0 ? 0 : -1;
  const int n = g->n, co = g->co, kdim = g->kh * g->kw * g->ci;
  const size_t per = (size_t)g->oh * g->ow;
  if (pointwise(g)) {
    sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, (int)(n * per), co, kdim, 1.0f, x, kdim, f, co, 0.0f, y, co);
    bias_activation(y, n * per, co, bias, act);
    return 0;
  }
  const int chunk = images_per_chunk(g);
  float *col = scratch_floats((size_t)chunk * per * kdim);
  if (col == NULL) return -1;
  for (int s = 0; s < n; s += chunk) {
    const int count = s + chunk <= n ? chunk : n - s;
    im2col(x, col, g, s, count);
    sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, (int)(count * per), co, kdim, 1.0f, col, kdim, f, co, 0.0f,
          y + (size_t)s * per * co, co);
  }
  bias_activation(y, n * per, co, bias, act);
  return 0;
}

int advex_conv2d(const float *x, const float *f, const float *bias, int act, float *y, const advex_conv_geometry *g) {
  pthread_mutex_lock(&call_lock);
  int r = advex_conv2d_locked(x, f, bias, act, y, g);
  pthread_mutex_unlock(&call_lock);
  return r;
}

/* df[kh, kw, ci, co] = gradient of the convolution's filter, from x and dy[n, oh, ow, co]. */
static int advex_conv2d_backprop_filter_locked(const float *x, const float *dy, float *df,
                                               const advex_conv_geometry *g) {
  const int direct = direct_conv2d_backprop_filter(x, dy, df, g);
  if (direct != 0) return direct > 0 ? 0 : -1;
  const int n = g->n, co = g->co, kdim = g->kh * g->kw * g->ci;
  const size_t per = (size_t)g->oh * g->ow;
  if (pointwise(g)) {
    sgemm(ROW_MAJOR, TRANS, NO_TRANS, kdim, co, (int)(n * per), 1.0f, x, kdim, dy, co, 0.0f, df, co);
    return 0;
  }
  const int chunk = images_per_chunk(g);
  float *col = scratch_floats((size_t)chunk * per * kdim);
  if (col == NULL) return -1;
  for (int s = 0; s < n; s += chunk) {
    const int count = s + chunk <= n ? chunk : n - s;
    im2col(x, col, g, s, count);
    sgemm(ROW_MAJOR, TRANS, NO_TRANS, kdim, co, (int)(count * per), 1.0f, col, kdim,
          dy + (size_t)s * per * co, co, s == 0 ? 0.0f : 1.0f, df, co);
  }
  return 0;
}

int advex_conv2d_backprop_filter(const float *x, const float *dy, float *df, const advex_conv_geometry *g) {
  pthread_mutex_lock(&call_lock);
  int r = advex_conv2d_backprop_filter_locked(x, dy, df, g);
  pthread_mutex_unlock(&call_lock);
  return r;
}

/* dx[n, h, w, ci] = gradient of the convolution's input, from dy[n, oh, ow, co] and f. */
static int advex_conv2d_backprop_input_locked(const float *dy, const float *f, float *dx,
                                              const advex_conv_geometry *g) {
  const int direct = direct_conv2d_backprop_input(dy, f, dx, g);
  if (direct != 0) return direct > 0 ? 0 : -1;
  const int n = g->n, co = g->co, kdim = g->kh * g->kw * g->ci;
  const size_t per = (size_t)g->oh * g->ow;
  if (pointwise(g)) {
    sgemm(ROW_MAJOR, NO_TRANS, TRANS, (int)(n * per), kdim, co, 1.0f, dy, co, f, co, 0.0f, dx, kdim);
    return 0;
  }
  const int chunk = images_per_chunk(g);
  float *col = scratch_floats((size_t)chunk * per * kdim);
  if (col == NULL) return -1;
  memset(dx, 0, (size_t)n * g->h * g->w * g->ci * sizeof(float));
  for (int s = 0; s < n; s += chunk) {
    const int count = s + chunk <= n ? chunk : n - s;
    sgemm(ROW_MAJOR, NO_TRANS, TRANS, (int)(count * per), kdim, co, 1.0f, dy + (size_t)s * per * co, co, f,
          co, 0.0f, col, kdim);
    col2im_add(col, dx, g, s, count);
  }
  return 0;
}

int advex_conv2d_backprop_input(const float *dy, const float *f, float *dx, const advex_conv_geometry *g) {
  pthread_mutex_lock(&call_lock);
  int r = advex_conv2d_backprop_input_locked(dy, f, dx, g);
  pthread_mutex_unlock(&call_lock);
  return r;
}

/* Folds one pixel's c values into the running maxima (strictly greater wins: the first maximum is kept). */
MULTIVERSION static void window_max(const float *v, int base, float *best, int *where, int c) {
  for (int k = 0; k < c; k++) {
    const int gt = v[k] > best[k];
    best[k] = gt ? v[k] : best[k];
    where[k] = gt ? base + k : where[k];
  }
}

/*
 * Gradient of a 2-D max pool on NHWC x: dx (zeroed here) gets each dy at the position of its window's
 * maximum, the first one in row-major window order (as tfjs's cpu backend picks). Returns 0, or -1 when
 * out of memory.
 */
static int advex_max_pool_grad_locked(const float *x, const float *dy, float *dx, const advex_pool_geometry *g,
                                      int relu) {
  const int direct = direct_max_pool_grad(x, dy, dx, g, relu);
  if (direct != 0) return direct > 0 ? 0 : -1;
  const int n = g->n, h = g->h, w = g->w, c = g->c, oh = g->oh, ow = g->ow, sh = g->sh, sw = g->sw;
  const int fh = g->fh, fw = g->fw, top = g->top, left = g->left;
  float *best = scratch_floats((size_t)c * 2);
  if (best == NULL) return -1;
  int *where = (int *)(best + c); /* same size as a float */
  memset(dx, 0, (size_t)n * h * w * c * sizeof(float));
  const float *d = dy;
  for (int i = 0; i < n; i++) {
    for (int p = 0; p < oh; p++) {
      const int r0 = p * sh - top;
      const int r_lo = r0 < 0 ? 0 : r0, r_hi = r0 + fh < h ? r0 + fh : h;
      for (int q = 0; q < ow; q++, d += c) {
        const int c0 = q * sw - left;
        const int c_lo = c0 < 0 ? 0 : c0, c_hi = c0 + fw < w ? c0 + fw : w;
        for (int k = 0; k < c; k++) {
          best[k] = -__builtin_inff();
          where[k] = -1;
        }
        for (int r = r_lo; r < r_hi; r++) {
          for (int col = c_lo; col < c_hi; col++) {
            const int base = ((i * h + r) * w + col) * c;
            window_max(x + base, base, best, where, c);
          }
        }
        for (int k = 0; k < c; k++) {
          if (where[k] >= 0 && (!relu || best[k] > 0)) dx[where[k]] += d[k];
        }
      }
    }
  }
  return 0;
}

int advex_max_pool_grad(const float *x, const float *dy, float *dx, const advex_pool_geometry *g) {
  pthread_mutex_lock(&call_lock);
  int r = advex_max_pool_grad_locked(x, dy, dx, g, 0);
  pthread_mutex_unlock(&call_lock);
  return r;
}

/*
 * The gradient of relu followed by a max pool, with respect to the relu's input, where x is the relu's output:
 * as advex_max_pool_grad, but a window whose maximum is not positive passes no gradient (relu's gradient,
 * fused: one pass instead of two).
 */
int advex_max_pool_grad_relu(const float *x, const float *dy, float *dx, const advex_pool_geometry *g) {
  pthread_mutex_lock(&call_lock);
  int r = advex_max_pool_grad_locked(x, dy, dx, g, 1);
  pthread_mutex_unlock(&call_lock);
  return r;
}

/* 2x2 max pooling with stride 2: 1 when computed, 0 when outside what the direct kernel takes. */
int advex_max_pool(const float *x, float *y, const advex_pool_geometry *g) {
  pthread_mutex_lock(&call_lock);
  int r = direct_max_pool(x, y, g);
  pthread_mutex_unlock(&call_lock);
  return r;
}

/* The int32 members of advex_conv_geometry (which = 0) or advex_pool_geometry (1): the loader checks them
 * against lib/backend/conv_geometry.ts. */
int advex_geometry_fields(int which) {
  return (int)((which == 0 ? sizeof(advex_conv_geometry) : sizeof(advex_pool_geometry)) / sizeof(int32_t));
}

/* Whether the direct kernels take this convolution (which: 0 forward, 1 input gradient). */
int advex_conv_direct(const advex_conv_geometry *g, int which) { return direct_conv2d_takes(g, which); }

/* Threads of the direct kernels, or 0 when this CPU does not run them (or they are turned off). */
int advex_direct_threads(void) {
  pthread_mutex_lock(&call_lock);
  int r = direct_available() ? direct_threads() : 0;
  pthread_mutex_unlock(&call_lock);
  return r;
}

/* Turns the direct kernels on or off (the BLAS path then takes everything); returns the previous setting. */
int advex_direct_enable(int on) {
  pthread_mutex_lock(&call_lock);
  int r = direct_enable(on);
  pthread_mutex_unlock(&call_lock);
  return r;
}

/* out[c] = sum over r of x[r, c] (x is rows x cols). Returns 0, or -1 when out of memory. */
int advex_sum_rows(const float *x, float *out, int rows, int cols) {
  pthread_mutex_lock(&call_lock);
  int r = sum_rows(x, out, rows, cols);
  pthread_mutex_unlock(&call_lock);
  return r;
}

/* One fused Adam step over n parameters (see advex_elementwise.c). */
void advex_adam(const float *x, const float *m, const float *v, const float *g, float *xo, float *mo, float *vo,
                int n, float lr, float b1, float b2, float eps, float c1, float c2) {
  pthread_mutex_lock(&call_lock);
  adam_step(x, m, v, g, xo, mo, vo, n, lr, b1, b2, eps, c1, c2);
  pthread_mutex_unlock(&call_lock);
}

/* out[r, c] = x[r, c] op y[c] (or y[c] op x[r, c] when y_first): a binary op with y broadcast along rows. */
void advex_binary_channel(const float *x, const float *y, float *out, int rows, int cols, int op, int y_first) {
  pthread_mutex_lock(&call_lock);
  binary_channel(x, y, out, rows, cols, op, y_first);
  pthread_mutex_unlock(&call_lock);
}

/* out = dy * step(x): the gradient of relu. */
void advex_relu_grad(const float *dy, const float *x, float *out, int n) {
  pthread_mutex_lock(&call_lock);
  relu_grad(dy, x, out, n);
  pthread_mutex_unlock(&call_lock);
}

void advex_linf_step(const float *x, const float *g, const float *lo, const float *hi, float *out, int n,
                     float size) {
  pthread_mutex_lock(&call_lock);
  linf_step(x, g, lo, hi, out, n, size);
  pthread_mutex_unlock(&call_lock);
}
