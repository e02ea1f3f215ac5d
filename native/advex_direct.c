/*
 * advex's direct CPU kernels for AVX-512 machines: 2-D convolutions computed straight from the (zero-padded)
 * NHWC input, without a patch matrix, and 2x2 max pooling. They split their work over a small pool of
 * threads owned by this file (one per CPU the process may run on, the calling thread included).
 *
 * The convolution holds a tile of R output pixels x V*16 output channels in R*V vector registers; for every
 * filter tap and input channel it loads V filter vectors once and multiplies them by R broadcast inputs, so
 * each load feeds R or V fused multiply-adds. The input gradient of a stride-1 convolution is the same
 * computation on dy with the filter flipped and its channels swapped. When the output has fewer than 16
 * channels (the first layer's input gradient, say), the vectors run along the input channels instead and
 * are summed at the end.
 *
 * Everything here is compiled for AVX-512F through function attributes, and runs only when the CPU reports
 * it (direct_available); elsewhere the callers keep their im2col / BLAS path.
 */
#define _GNU_SOURCE
#include "advex_direct.h"

#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_AVX512_BUILD 1
#include <immintrin.h>
#define AVX512 __attribute__((target("avx512f")))
#define UNROLL _Pragma("GCC unroll 32")
#else
#define HAVE_AVX512_BUILD 0
#endif

/* --- the thread pool ---------------------------------------------------------------------------------- */

enum { MAX_THREADS = 16 };

static int pool_size = 0; /* threads, the caller's included; 0 until started */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_go = PTHREAD_COND_INITIALIZER;
static pthread_cond_t pool_done = PTHREAD_COND_INITIALIZER;
static task_fn pool_fn = NULL;
static void *pool_arg = NULL;
static unsigned pool_generation = 0;
static int pool_left = 0;

static void *pool_main(void *p) {
  const int part = (int)(intptr_t)p;
  unsigned seen = 0;
  pthread_mutex_lock(&pool_lock);
  for (;;) {
    while (pool_generation == seen) pthread_cond_wait(&pool_go, &pool_lock);
    seen = pool_generation;
    task_fn fn = pool_fn;
    void *arg = pool_arg;
    const int parts = pool_size;
    pthread_mutex_unlock(&pool_lock);
    fn(arg, part, parts);
    pthread_mutex_lock(&pool_lock);
    if (--pool_left == 0) pthread_cond_signal(&pool_done);
  }
  return NULL;
}

static void pool_start(void) {
  if (pool_size > 0) return;
  int cpus = 1;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) cpus = CPU_COUNT(&set);
  if (cpus < 1) cpus = 1;
  if (cpus > MAX_THREADS) cpus = MAX_THREADS;
  int started = 1;
  for (int i = 1; i < cpus; i++) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    const int ok = pthread_create(&t, &attr, pool_main, (void *)(intptr_t)i) == 0;
    pthread_attr_destroy(&attr);
    if (!ok) break;
    started++;
  }
  pool_size = started;
}

const double SERIAL_WORK = 2e5;

/*
 * Runs fn(arg, part, parts) for every part on its own thread (part 0 on the caller) and waits for all; on
 * the caller alone when `work` is small.
 */
int parallel_parts(double work) {
  pool_start();
  return work < SERIAL_WORK ? 1 : pool_size;
}

void run_parallel(task_fn fn, void *arg, double work) {
  if (parallel_parts(work) == 1) {
    fn(arg, 0, 1);
    return;
  }
  pthread_mutex_lock(&pool_lock);
  pool_fn = fn;
  pool_arg = arg;
  pool_left = pool_size - 1;
  pool_generation++;
  pthread_cond_broadcast(&pool_go);
  pthread_mutex_unlock(&pool_lock);
  fn(arg, 0, pool_size);
  pthread_mutex_lock(&pool_lock);
  while (pool_left > 0) pthread_cond_wait(&pool_done, &pool_lock);
  pthread_mutex_unlock(&pool_lock);
}

/* The share [lo, hi) of `total` items that part `part` of `parts` takes. */
void share(long total, int part, int parts, long *lo, long *hi) {
  *lo = total * part / parts;
  *hi = total * (part + 1) / parts;
}

int direct_threads(void) {
  pool_start();
  return pool_size;
}

/* --- scratch buffers ---------------------------------------------------------------------------------- */

float *buffer_floats(struct buffer *b, size_t n) {
  if (n > b->size) {
    free(b->data);
    b->data = (float *)aligned_alloc(64, ((n * sizeof(float)) + 63) / 64 * 64);
    b->size = b->data == NULL ? 0 : n;
  }
  return b->data;
}

static struct buffer padded_input = {NULL, 0};
static struct buffer flipped_filter = {NULL, 0};

/* --- adding up per-thread copies ---------------------------------------------------------------------- */

struct sum_job {
  const float *partial;
  float *out;
  size_t size;
  int copies;
};

static void sum_task(void *p, int part, int parts) {
  const struct sum_job *j = (const struct sum_job *)p;
  long lo, hi;
  share((long)j->size, part, parts, &lo, &hi);
  for (long k = lo; k < hi; k++) {
    float s = j->partial[k];
    for (int c = 1; c < j->copies; c++) s += j->partial[(size_t)c * j->size + k];
    j->out[k] = s;
  }
}

void sum_copies(const float *partial, float *out, size_t size, int copies) {
  struct sum_job j = {partial, out, size, copies};
  run_parallel(sum_task, &j, (double)size * copies);
}

/* --- zero padding ------------------------------------------------------------------------------------- */

struct pad_job {
  const float *x;
  float *out;
  int n, h, w, c, hp, wp, top, left;
};

/* out[i, r, s, :] = x[i, r - top, s - left, :], zero outside x; out is n x hp x wp x c. */
static void pad_task(void *p, int part, int parts) {
  const struct pad_job *j = (const struct pad_job *)p;
  long lo, hi;
  share((long)j->n * j->hp, part, parts, &lo, &hi);
  const size_t c = (size_t)j->c;
  const int first = j->left < j->wp ? j->left : j->wp;
  int last = j->left + j->w;
  if (last > j->wp) last = j->wp;
  for (long row = lo; row < hi; row++) {
    const int i = (int)(row / j->hp), r = (int)(row % j->hp) - j->top;
    float *o = j->out + (size_t)row * j->wp * c;
    if (r < 0 || r >= j->h) {
      memset(o, 0, (size_t)j->wp * c * sizeof(float));
      continue;
    }
    const float *src = j->x + ((size_t)i * j->h + r) * j->w * c;
    memset(o, 0, (size_t)first * c * sizeof(float));
    if (last > first) memcpy(o + first * c, src + (size_t)(first - j->left) * c, (size_t)(last - first) * c * sizeof(float));
    const int tail = last > first ? last : first;
    memset(o + (size_t)tail * c, 0, (size_t)(j->wp - tail) * c * sizeof(float));
  }
}

/*
 * The input as the convolution reads it: x itself when no padding is needed, else a zero-padded copy in
 * `buf` of hp x wp pixels with x at (top, left). NULL when out of memory.
 */
static const float *padded(const float *x, int n, int h, int w, int c, int hp, int wp, int top, int left,
                           struct buffer *buf) {
  if (top == 0 && left == 0 && hp <= h && wp <= w) return x;
  float *out = buffer_floats(buf, (size_t)n * hp * wp * c);
  if (out == NULL) return NULL;
  struct pad_job j = {x, out, n, h, w, c, hp, wp, top, left};
  run_parallel(pad_task, &j, (double)n * hp * wp * c);
  return out;
}

#if HAVE_AVX512_BUILD

static int direct_on = 1;

int direct_available(void) {
  static int known = -1;
  if (known < 0) {
    __builtin_cpu_init();
    known = __builtin_cpu_supports("avx512f") ? 1 : 0;
  }
  return known && direct_on;
}

int direct_enable(int on) {
  const int was = direct_on;
  direct_on = on != 0;
  return was;
}

/* --- the convolution ---------------------------------------------------------------------------------- */

struct conv_job {
  const float *x; /* padded input, n x hp x wp x ci */
  int hp, wp;
  const float *f; /* kh x kw x ci x co */
  const float *bias;
  int act;
  float *y; /* n x oh x ow x co */
  int n, ci, co, kh, kw, sh, sw, dh, dw, oh, ow;
  int vectors; /* V: output channels per tile, in vectors of 16 */
  int rows;    /* R: output pixels per tile */
};

/*
 * src[r] = where the input window of output pixel t0 + r starts (pixels numbered n-major over n x oh x ow),
 * for r < rows; pixels from `count` on repeat the last one.
 */
static void window_starts(const float *x, int hp, int wp, int c, int sh, int sw, int oh, int ow, long t0,
                          int count, int rows, const float **src) {
  int q = (int)(t0 % ow);
  const long rest = t0 / ow;
  int p = (int)(rest % oh);
  long i = rest / oh;
  for (int r = 0; r < rows; r++) {
    src[r] = x + (((size_t)i * hp + (size_t)p * sh) * wp + (size_t)q * sw) * c;
    if (r + 1 >= count) continue; /* the rest repeat this pixel */
    if (++q == ow) {
      q = 0;
      if (++p == oh) {
        p = 0;
        i++;
      }
    }
  }
}

/* Masks of the V vectors of channel block `block` (channels past co are off). */
AVX512 static void block_masks(int co, int block, int vectors, __mmask16 *mask) {
  for (int v = 0; v < vectors; v++) {
    const int c0 = (block * vectors + v) * 16;
    const int live = co - c0;
    mask[v] = live >= 16 ? (__mmask16)0xFFFF : live <= 0 ? (__mmask16)0 : (__mmask16)((1u << live) - 1);
  }
}

/*
 * One tile: `count` (<= R) output pixels whose input windows start at src[r], channels c0.. of the block.
 * Pixels past count repeat the last one and are not stored.
 */
#define CONV_TILE(V, R)                                                                                     \
  AVX512 static void conv_tile_##V##_##R(const struct conv_job *j, const float *const *src, float *const *dst, \
                                         int count, int c0, const __mmask16 *mask) {                        \
    __m512 acc[R][V];                                                                                       \
    UNROLL for (int r = 0; r < R; r++) UNROLL for (int v = 0; v < V; v++) acc[r][v] = _mm512_setzero_ps(); \
    const int ci = j->ci, co = j->co, kw = j->kw;                                                           \
    for (int a = 0; a < j->kh; a++) {                                                                       \
      for (int b = 0; b < kw; b++) {                                                                        \
        const size_t off = ((size_t)a * j->dh * j->wp + (size_t)b * j->dw) * ci;                            \
        const float *s[R];                                                                                  \
        UNROLL for (int r = 0; r < R; r++) s[r] = src[r] + off;                                             \
        const float *fp = j->f + (size_t)(a * kw + b) * ci * co + c0;                                       \
        for (int c = 0; c < ci; c++, fp += co) {                                                            \
          __m512 w[V];                                                                                      \
          UNROLL for (int v = 0; v < V; v++) w[v] = _mm512_maskz_loadu_ps(mask[v], fp + 16 * v);           \
          UNROLL for (int r = 0; r < R; r++) {                                                              \
            const __m512 xv = _mm512_set1_ps(s[r][c]);                                                      \
            UNROLL for (int v = 0; v < V; v++) acc[r][v] = _mm512_fmadd_ps(xv, w[v], acc[r][v]);            \
          }                                                                                                 \
        }                                                                                                   \
      }                                                                                                     \
    }                                                                                                       \
    __m512 bias[V];                                                                                         \
    UNROLL for (int v = 0; v < V; v++) bias[v] = j->bias != NULL                                            \
                                                      ? _mm512_maskz_loadu_ps(mask[v], j->bias + c0 + 16 * v) \
                                                      : _mm512_setzero_ps();                                \
    const __m512 zero = _mm512_setzero_ps();                                                                \
    UNROLL for (int r = 0; r < R; r++) {                                                                    \
      if (r >= count) break;                                                                                \
      UNROLL for (int v = 0; v < V; v++) {                                                                  \
        __m512 o = _mm512_add_ps(acc[r][v], bias[v]);                                                       \
        if (j->act == ACT_RELU) o = _mm512_max_ps(o, zero);                                                 \
        _mm512_mask_storeu_ps(dst[r] + c0 + 16 * v, mask[v], o);                                            \
      }                                                                                                     \
    }                                                                                                       \
  }

CONV_TILE(4, 6)
CONV_TILE(2, 12)
CONV_TILE(1, 14)

enum { MAX_ROWS = 14 };

/*
 * The tile for `co` output channels: V vectors of 16 channels x R pixels (or run entries), the pairs the
 * tile functions are compiled for. 4 x 6 keeps 24 accumulators and 4 filter vectors in the 32 registers.
 */
static void tile_shape(int co, int *vectors, int *rows) {
  *vectors = co > 32 ? 4 : co > 16 ? 2 : 1;
  *rows = co > 32 ? 6 : co > 16 ? 12 : MAX_ROWS;
}

AVX512 static void conv_task(void *p, int part, int parts) {
  const struct conv_job *j = (const struct conv_job *)p;
  const int V = j->vectors, R = j->rows;
  const long pixels = (long)j->n * j->oh * j->ow;
  const long tiles = (pixels + R - 1) / R;
  const int blocks = (j->co + 16 * V - 1) / (16 * V);
  long lo, hi;
  share(tiles * blocks, part, parts, &lo, &hi);
  const float *src[MAX_ROWS];
  float *dst[MAX_ROWS];
  __mmask16 mask[4];
  for (long item = lo; item < hi; item++) {
    const long tile = item / blocks;
    const int block = (int)(item % blocks);
    const long t0 = tile * R;
    const int count = pixels - t0 < R ? (int)(pixels - t0) : R;
    window_starts(j->x, j->hp, j->wp, j->ci, j->sh, j->sw, j->oh, j->ow, t0, count, R, src);
    for (int r = 0; r < R; r++) dst[r] = j->y + (size_t)(t0 + (r < count ? r : count - 1)) * j->co;
    block_masks(j->co, block, V, mask);
    const int c0 = block * V * 16;
    if (V == 4) conv_tile_4_6(j, src, dst, count, c0, mask);
    else if (V == 2) conv_tile_2_12(j, src, dst, count, c0, mask);
    else conv_tile_1_14(j, src, dst, count, c0, mask);
  }
}

/* Runs the convolution of an already padded input (hp x wp, windows starting at row p * sh, col q * sw). */
static void conv_padded(const float *xp, int hp, int wp, const float *f, const float *bias, int act, float *y,
                        int n, int ci, int co, int kh, int kw, int sh, int sw, int dh, int dw, int oh, int ow) {
  struct conv_job j = {xp, hp, wp, f, bias, act, y, n, ci, co, kh, kw, sh, sw, dh, dw, oh, ow, 0, 0};
  tile_shape(co, &j.vectors, &j.rows);
  run_parallel(conv_task, &j, (double)n * oh * ow * co * kh * kw * ci);
}

/* --- few output channels: vectors along the input channels ------------------------------------------- */

struct narrow_job {
  const float *x; /* padded input, n x hp x wp x ci, ci a multiple of 16 */
  int hp, wp;
  const float *f; /* co x kh x kw x ci */
  float *y;       /* n x oh x ow x co */
  int n, ci, co, kh, kw, sh, sw, dh, dw, oh, ow;
};

enum { NARROW_ROWS = 8 };

AVX512 static void narrow_task(void *p, int part, int parts) {
  const struct narrow_job *j = (const struct narrow_job *)p;
  const long pixels = (long)j->n * j->oh * j->ow;
  const long tiles = (pixels + NARROW_ROWS - 1) / NARROW_ROWS;
  long lo, hi;
  share(tiles, part, parts, &lo, &hi);
  const int ci = j->ci, chunks = ci / 16;
  for (long tile = lo; tile < hi; tile++) {
    const long t0 = tile * NARROW_ROWS;
    const int count = pixels - t0 < NARROW_ROWS ? (int)(pixels - t0) : NARROW_ROWS;
    const float *src[NARROW_ROWS];
    window_starts(j->x, j->hp, j->wp, ci, j->sh, j->sw, j->oh, j->ow, t0, count, NARROW_ROWS, src);
    for (int o = 0; o < j->co; o++) {
      __m512 acc[NARROW_ROWS];
      UNROLL for (int r = 0; r < NARROW_ROWS; r++) acc[r] = _mm512_setzero_ps();
      const float *fo = j->f + (size_t)o * j->kh * j->kw * ci;
      for (int a = 0; a < j->kh; a++) {
        for (int b = 0; b < j->kw; b++) {
          const size_t off = ((size_t)a * j->dh * j->wp + (size_t)b * j->dw) * ci;
          const float *fp = fo + (size_t)(a * j->kw + b) * ci;
          for (int k = 0; k < chunks; k++) {
            const __m512 w = _mm512_loadu_ps(fp + 16 * k);
            UNROLL for (int r = 0; r < NARROW_ROWS; r++) {
              acc[r] = _mm512_fmadd_ps(_mm512_loadu_ps(src[r] + off + 16 * k), w, acc[r]);
            }
          }
        }
      }
      for (int r = 0; r < count; r++) j->y[(size_t)(t0 + r) * j->co + o] = _mm512_reduce_add_ps(acc[r]);
    }
  }
}

/* --- the filter gradient -------------------------------------------------------------------------------- */

/*
 * df[a, b, c, o] = sum over pixels t of x[window(t) + (a dh, b dw), c] dy[t, o]. Within one filter row a (when
 * dw = 1) the kw x ci inputs (b, c) of a window are contiguous, so they form one run of length U = kw ci and
 * df's row a is U x co; with dw > 1 every (a, b) is its own run of U = ci. A tile holds R run entries x V*16
 * output channels in registers and sweeps a block of pixels: V loads of dy and R broadcasts of x per pixel.
 * The pixels are split between the threads, each summing into its own copy of df; the copies are added at
 * the end.
 */
struct filter_job {
  const float *x; /* padded input */
  int hp, wp;
  const float *dy;
  float *partial; /* parts x size floats */
  size_t size;    /* kh kw ci co */
  int n, ci, co, kh, kw, sh, sw, dh, dw, oh, ow;
  int groups, run; /* runs per window and their length U */
  int vectors, rows;
};

enum { PIXEL_BLOCK = 64 };

#define FILTER_TILE(V, R)                                                                                   \
  AVX512 static void filter_tile_##V##_##R(const struct filter_job *j, const float *const *src,              \
                                           const float *dyb, int pixels, size_t xoff, const int *uoff,       \
                                           float *out, int count, int c0, const __mmask16 *mask) {           \
    __m512 acc[R][V];                                                                                       \
    const int co = j->co;                                                                                   \
    UNROLL for (int r = 0; r < R; r++) UNROLL for (int v = 0; v < V; v++) acc[r][v] =                     \
        r < count ? _mm512_maskz_loadu_ps(mask[v], out + (size_t)r * co + c0 + 16 * v) : _mm512_setzero_ps(); \
    for (int t = 0; t < pixels; t++) {                                                                      \
      const float *s = src[t] + xoff;                                                                       \
      const float *d = dyb + (size_t)t * co + c0;                                                           \
      __m512 g[V];                                                                                          \
      UNROLL for (int v = 0; v < V; v++) g[v] = _mm512_maskz_loadu_ps(mask[v], d + 16 * v);                \
      UNROLL for (int r = 0; r < R; r++) {                                                                  \
        const __m512 xv = _mm512_set1_ps(s[uoff[r]]);                                                       \
        UNROLL for (int v = 0; v < V; v++) acc[r][v] = _mm512_fmadd_ps(xv, g[v], acc[r][v]);                \
      }                                                                                                     \
    }                                                                                                       \
    UNROLL for (int r = 0; r < R; r++) {                                                                    \
      if (r >= count) break;                                                                                \
      UNROLL for (int v = 0; v < V; v++) _mm512_mask_storeu_ps(out + (size_t)r * co + c0 + 16 * v, mask[v], acc[r][v]); \
    }                                                                                                       \
  }

FILTER_TILE(4, 6)
FILTER_TILE(2, 12)
FILTER_TILE(1, 14)

AVX512 static void filter_task(void *p, int part, int parts) {
  const struct filter_job *j = (const struct filter_job *)p;
  const int V = j->vectors, R = j->rows, U = j->run, co = j->co;
  float *out = j->partial + (size_t)part * j->size;
  memset(out, 0, j->size * sizeof(float));
  long lo, hi;
  share((long)j->n * j->oh * j->ow, part, parts, &lo, &hi);
  const int blocks = (co + 16 * V - 1) / (16 * V);
  const float *src[PIXEL_BLOCK];
  __mmask16 mask[4];
  int uoff[MAX_ROWS];
  for (long t0 = lo; t0 < hi; t0 += PIXEL_BLOCK) {
    const int pixels = hi - t0 < PIXEL_BLOCK ? (int)(hi - t0) : PIXEL_BLOCK;
    window_starts(j->x, j->hp, j->wp, j->ci, j->sh, j->sw, j->oh, j->ow, t0, pixels, pixels, src);
    const float *dyb = j->dy + (size_t)t0 * co;
    for (int g = 0; g < j->groups; g++) {
      size_t xoff;
      if (j->groups == j->kh) xoff = (size_t)g * j->dh * j->wp * j->ci;
      else xoff = ((size_t)(g / j->kw) * j->dh * j->wp + (size_t)(g % j->kw) * j->dw) * j->ci;
      for (int u0 = 0; u0 < U; u0 += R) {
        const int count = U - u0 < R ? U - u0 : R;
        for (int r = 0; r < R; r++) uoff[r] = u0 + (r < count ? r : count - 1);
        float *o = out + ((size_t)g * U + u0) * co;
        for (int b = 0; b < blocks; b++) {
          block_masks(co, b, V, mask);
          const int c0 = b * V * 16;
          if (V == 4) filter_tile_4_6(j, src, dyb, pixels, xoff, uoff, o, count, c0, mask);
          else if (V == 2) filter_tile_2_12(j, src, dyb, pixels, xoff, uoff, o, count, c0, mask);
          else filter_tile_1_14(j, src, dyb, pixels, xoff, uoff, o, count, c0, mask);
        }
      }
    }
  }
}

static struct buffer filter_partials = {NULL, 0};

int direct_conv2d_backprop_filter(const float *x, const float *dy, float *df, const advex_conv_geometry *g) {
  if (!direct_conv2d_takes(g, 0)) return 0;
  const int n = g->n, h = g->h, w = g->w, ci = g->ci, co = g->co, kh = g->kh, kw = g->kw;
  const int sh = g->sh, sw = g->sw, dh = g->dh, dw = g->dw, oh = g->oh, ow = g->ow;
  const int hp = (oh - 1) * sh + (kh - 1) * dh + 1, wp = (ow - 1) * sw + (kw - 1) * dw + 1;
  const float *xp = padded(x, n, h, w, ci, hp, wp, g->top, g->left, &padded_input);
  if (xp == NULL) return -1;
  const size_t size = (size_t)kh * kw * ci * co;
  const double work = (double)n * oh * ow * co * kh * kw * ci;
  const int copies = parallel_parts(work);
  float *partial = copies == 1 ? df : buffer_floats(&filter_partials, size * copies);
  if (partial == NULL) return -1;
  struct filter_job j = {xp, xp == x ? h : hp, xp == x ? w : wp, dy, partial, size, n, ci, co, kh, kw, sh, sw,
                         dh, dw, oh, ow, dw == 1 ? kh : kh * kw, dw == 1 ? kw * ci : ci, 0, 0};
  tile_shape(co, &j.vectors, &j.rows);
  run_parallel(filter_task, &j, work);
  if (copies > 1) sum_copies(partial, df, size, copies);
  return 1;
}

/* --- entry points ------------------------------------------------------------------------------------- */

int direct_conv2d_takes(const advex_conv_geometry *g, int which) {
  if (!direct_available()) return 0;
  if (which == 0) return g->top >= 0 && g->left >= 0;
  return g->sh == 1 && g->sw == 1 && (g->kh - 1) * g->dh >= g->top && (g->kw - 1) * g->dw >= g->left;
}

int direct_conv2d(const float *x, const float *f, const float *bias, int act, float *y, const advex_conv_geometry *g) {
  if (!direct_conv2d_takes(g, 0)) return 0;
  const int n = g->n, h = g->h, w = g->w, ci = g->ci, co = g->co, kh = g->kh, kw = g->kw;
  const int sh = g->sh, sw = g->sw, dh = g->dh, dw = g->dw, oh = g->oh, ow = g->ow;
  const int top = g->top, left = g->left;
  if (top < 0 || left < 0) return 0;
  const int hp = (oh - 1) * sh + (kh - 1) * dh + 1, wp = (ow - 1) * sw + (kw - 1) * dw + 1;
  const float *xp = padded(x, n, h, w, ci, hp, wp, top, left, &padded_input);
  if (xp == NULL) return -1;
  const int hx = xp == x ? h : hp, wx = xp == x ? w : wp;
  conv_padded(xp, hx, wx, f, bias, act, y, n, ci, co, kh, kw, sh, sw, dh, dw, oh, ow);
  return 1;
}

/* ft[a, b, o, c] = f[kh-1-a, kw-1-b, c, o] (or, for the narrow kernel, ft[c, a, b, o]). */
struct flip_job {
  const float *f;
  float *ft;
  int kh, kw, ci, co, narrow;
};

static void flip_task(void *p, int part, int parts) {
  const struct flip_job *j = (const struct flip_job *)p;
  long lo, hi;
  share((long)j->kh * j->kw, part, parts, &lo, &hi);
  for (long t = lo; t < hi; t++) {
    const int a = (int)(t / j->kw), b = (int)(t % j->kw);
    const float *src = j->f + ((size_t)(j->kh - 1 - a) * j->kw + (j->kw - 1 - b)) * j->ci * j->co;
    for (int c = 0; c < j->ci; c++) {
      for (int o = 0; o < j->co; o++) {
        const float v = src[(size_t)c * j->co + o];
        if (j->narrow) j->ft[(((size_t)c * j->kh + a) * j->kw + b) * j->co + o] = v;
        else j->ft[(((size_t)a * j->kw + b) * j->co + o) * j->ci + c] = v;
      }
    }
  }
}

int direct_conv2d_backprop_input(const float *dy, const float *f, float *dx, const advex_conv_geometry *g) {
  if (!direct_conv2d_takes(g, 1)) return 0;
  const int n = g->n, h = g->h, w = g->w, ci = g->ci, co = g->co, kh = g->kh, kw = g->kw;
  const int dh = g->dh, dw = g->dw, oh = g->oh, ow = g->ow;
  /* dx[y, x] = sum over a, b of dy[y + top - a dh, x + left - b dw] f[a, b]: a convolution of dy padded by
   * (kh-1) dh - top above and (kw-1) dw - left on the left, with the flipped filter. */
  const int top = (kh - 1) * dh - g->top, left = (kw - 1) * dw - g->left;
  const int narrow = ci < 16 && co % 16 == 0;
  const int hp = h + (kh - 1) * dh, wp = w + (kw - 1) * dw;
  float *ft = buffer_floats(&flipped_filter, (size_t)kh * kw * ci * co);
  if (ft == NULL) return -1;
  struct flip_job fj = {f, ft, kh, kw, ci, co, narrow};
  flip_task(&fj, 0, 1);
  const float *dyp = padded(dy, n, oh, ow, co, hp, wp, top, left, &padded_input);
  if (dyp == NULL) return -1;
  const int hx = dyp == dy ? oh : hp, wx = dyp == dy ? ow : wp;
  if (narrow) {
    struct narrow_job j = {dyp, hx, wx, ft, dx, n, co, ci, kh, kw, 1, 1, dh, dw, h, w};
    run_parallel(narrow_task, &j, (double)n * h * w * ci * kh * kw * co);
  } else {
    conv_padded(dyp, hx, wx, ft, NULL, ACT_LINEAR, dx, n, co, ci, kh, kw, 1, 1, dh, dw, h, w);
  }
  return 1;
}

/* --- matrix products ---------------------------------------------------------------------------------- */

/*
 * C = op(A) op(B) (+ bias, then relu), row-major: op(A) is m x k (A stored k x m when trans_a), op(B) is
 * k x n (B stored n x k when trans_b). The same register tile as the convolution (6 rows x 64 columns), over
 * blocks of GEMM_KC entries of k: each thread packs the k-block of its 64-column panel of op(B) into 32 KB
 * that stay in the first-level cache, and sweeps the rows of op(A) over it, broadcasting A's entries.
 */
enum { GEMM_NR = 64, GEMM_MR = 6, GEMM_KC = 128 };

struct gemm_job {
  const float *a, *b, *bias;
  float *c;
  float *packed; /* GEMM_KC x GEMM_NR floats per thread */
  int m, n, k, trans_a, trans_b, act;
  long items;
  int row_groups; /* each panel's rows are split into this many groups of tiles */
};

/* Packs rows k0..k0+kc-1, columns j0..j0+63 of op(B) into bp (kc x 64), zero past n. */
AVX512 static void pack_b(const struct gemm_job *j, int k0, int kc, int j0, float *bp) {
  const int live = j->n - j0 < GEMM_NR ? j->n - j0 : GEMM_NR;
  if (!j->trans_b) {
    __mmask16 mask[4];
    block_masks(live, 0, 4, mask);
    for (int p = 0; p < kc; p++) {
      const float *src = j->b + (size_t)(k0 + p) * j->n + j0;
      for (int v = 0; v < 4; v++) _mm512_store_ps(bp + p * GEMM_NR + 16 * v, _mm512_maskz_loadu_ps(mask[v], src + 16 * v));
    }
    return;
  }
  for (int col = 0; col < GEMM_NR; col++) {
    if (col >= live) {
      for (int p = 0; p < kc; p++) bp[p * GEMM_NR + col] = 0.0f;
      continue;
    }
    const float *src = j->b + (size_t)(j0 + col) * j->k + k0;
    for (int p = 0; p < kc; p++) bp[p * GEMM_NR + col] = src[p];
  }
}

/* One 6 x 64 tile of C over k-block k0..k0+kc-1; rows past count repeat the last and are not stored. */
AVX512 static void gemm_tile(const struct gemm_job *j, int i0, int count, int k0, int kc, int j0,
                             const float *bp, const __mmask16 *mask) {
  const long step = j->trans_a ? j->m : 1;
  const float *s[GEMM_MR];
  for (int r = 0; r < GEMM_MR; r++) {
    const long i = i0 + (r < count ? r : count - 1);
    s[r] = j->trans_a ? j->a + (size_t)k0 * j->m + i : j->a + (size_t)i * j->k + k0;
  }
  float *c = j->c + (size_t)i0 * j->n + j0;
  __m512 acc[GEMM_MR][4];
  UNROLL for (int r = 0; r < GEMM_MR; r++) UNROLL for (int v = 0; v < 4; v++) acc[r][v] =
      k0 == 0 || r >= count ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mask[v], c + (size_t)r * j->n + 16 * v);
  for (int p = 0; p < kc; p++) {
    __m512 w[4];
    UNROLL for (int v = 0; v < 4; v++) w[v] = _mm512_load_ps(bp + p * GEMM_NR + 16 * v);
    UNROLL for (int r = 0; r < GEMM_MR; r++) {
      const __m512 xv = _mm512_set1_ps(*s[r]);
      s[r] += step;
      UNROLL for (int v = 0; v < 4; v++) acc[r][v] = _mm512_fmadd_ps(xv, w[v], acc[r][v]);
    }
  }
  const int last = k0 + kc == j->k;
  __m512 bias[4];
  UNROLL for (int v = 0; v < 4; v++) bias[v] = last && j->bias != NULL
                                                    ? _mm512_maskz_loadu_ps(mask[v], j->bias + j0 + 16 * v)
                                                    : _mm512_setzero_ps();
  const __m512 zero = _mm512_setzero_ps();
  UNROLL for (int r = 0; r < GEMM_MR; r++) {
    if (r >= count) break;
    UNROLL for (int v = 0; v < 4; v++) {
      __m512 o = _mm512_add_ps(acc[r][v], bias[v]);
      if (last && j->act == ACT_RELU) o = _mm512_max_ps(o, zero);
      _mm512_mask_storeu_ps(c + (size_t)r * j->n + 16 * v, mask[v], o);
    }
  }
}

AVX512 static void gemm_task(void *p, int part, int parts) {
  const struct gemm_job *j = (const struct gemm_job *)p;
  float *bp = j->packed + (size_t)part * GEMM_KC * GEMM_NR;
  const int tiles = (j->m + GEMM_MR - 1) / GEMM_MR;
  long lo, hi;
  share(j->items, part, parts, &lo, &hi);
  __mmask16 mask[4];
  for (long item = lo; item < hi; item++) {
    const int panel = (int)(item / j->row_groups), group = (int)(item % j->row_groups);
    const int j0 = panel * GEMM_NR;
    block_masks(j->n - j0, 0, 4, mask);
    long t_lo, t_hi;
    share(tiles, group, j->row_groups, &t_lo, &t_hi);
    for (int k0 = 0; k0 < j->k; k0 += GEMM_KC) {
      const int kc = j->k - k0 < GEMM_KC ? j->k - k0 : GEMM_KC;
      pack_b(j, k0, kc, j0, bp);
      for (long t = t_lo; t < t_hi; t++) {
        const int i0 = (int)t * GEMM_MR;
        gemm_tile(j, i0, j->m - i0 < GEMM_MR ? j->m - i0 : GEMM_MR, k0, kc, j0, bp, mask);
      }
    }
  }
}

static struct buffer gemm_packed = {NULL, 0};

int direct_matmul(const float *a, const float *b, float *c, int m, int n, int k, int trans_a, int trans_b,
                  const float *bias, int act) {
  if (!direct_available() || (trans_a && trans_b) || n < 32 || m < 1 || k < 1) return 0;
  pool_start();
  float *packed = buffer_floats(&gemm_packed, (size_t)pool_size * GEMM_KC * GEMM_NR);
  if (packed == NULL) return -1;
  const int panels = (n + GEMM_NR - 1) / GEMM_NR, tiles = (m + GEMM_MR - 1) / GEMM_MR;
  /* enough items for every thread to get several, without splitting a panel into less than 4 tiles */
  int groups = (4 * pool_size + panels - 1) / panels;
  if (groups > (tiles + 3) / 4) groups = (tiles + 3) / 4;
  if (groups < 1) groups = 1;
  struct gemm_job j = {a, b, bias, c, packed, m, n, k, trans_a, trans_b, act, (long)panels * groups, groups};
  run_parallel(gemm_task, &j, (double)m * n * k);
  return 1;
}

/* --- 2x2 max pooling ---------------------------------------------------------------------------------- */

struct pool_job {
  const float *x, *dy;
  float *out;
  int n, h, w, c, oh, ow;
  int relu; /* gradient only: x is a relu's output, and windows whose maximum is not > 0 pass no gradient */
};

/*
 * The four values of the 2x2 window whose top-left pixel is at offset `at` of row r0 (r1 the row below), for
 * channels k..k+15: top-left, top-right, bottom-left, bottom-right. Returns the mask of channels below c.
 */
AVX512 static inline __mmask16 window_2x2(const float *r0, const float *r1, size_t at, int c, int k, __m512 *v) {
  const __mmask16 m = c - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (c - k)) - 1);
  v[0] = _mm512_maskz_loadu_ps(m, r0 + at + k);
  v[1] = _mm512_maskz_loadu_ps(m, r0 + at + c + k);
  v[2] = _mm512_maskz_loadu_ps(m, r1 + at + k);
  v[3] = _mm512_maskz_loadu_ps(m, r1 + at + c + k);
  return m;
}

/* Rows of windows, each (i, p): y[i, p, q] = max of x[i, 2p..2p+1, 2q..2q+1]. */
AVX512 static void max_pool_task(void *arg, int part, int parts) {
  const struct pool_job *j = (const struct pool_job *)arg;
  long lo, hi;
  share((long)j->n * j->oh, part, parts, &lo, &hi);
  const int c = j->c;
  for (long row = lo; row < hi; row++) {
    const int i = (int)(row / j->oh), p = (int)(row % j->oh);
    const float *r0 = j->x + (((size_t)i * j->h + 2 * p) * j->w) * c;
    const float *r1 = r0 + (size_t)j->w * c;
    float *o = j->out + (size_t)row * j->ow * c;
    for (int q = 0; q < j->ow; q++) {
      const size_t at = (size_t)2 * q * c;
      for (int k = 0; k < c; k += 16) {
        __m512 v[4];
        const __mmask16 m = window_2x2(r0, r1, at, c, k, v);
        const __m512 top = _mm512_max_ps(v[0], v[1]), bottom = _mm512_max_ps(v[2], v[3]);
        _mm512_mask_storeu_ps(o + (size_t)q * c + k, m, _mm512_max_ps(top, bottom));
      }
    }
  }
}

/*
 * dx gets each dy at its window's first maximum in row-major order (as tfjs's cpu backend picks), zeros
 * elsewhere; every input pixel is written, those outside all windows (odd sizes) included.
 */
AVX512 static void max_pool_grad_task(void *arg, int part, int parts) {
  const struct pool_job *j = (const struct pool_job *)arg;
  long lo, hi;
  share((long)j->n * j->h, part, parts, &lo, &hi);
  const int c = j->c;
  const __m512 zero = _mm512_setzero_ps();
  for (long row = lo; row < hi; row++) {
    float *o = j->out + (size_t)row * j->w * c;
    const int i = (int)(row / j->h), r = (int)(row % j->h);
    if (r & 1 || r / 2 >= j->oh) {
      if (!(r & 1) || r / 2 >= j->oh) memset(o, 0, (size_t)j->w * c * sizeof(float));
      continue; /* odd rows are written with the even row above them */
    }
    const int p = r / 2;
    const float *r0 = j->x + (size_t)row * j->w * c;
    const float *r1 = r0 + (size_t)j->w * c;
    float *o1 = o + (size_t)j->w * c;
    const float *d = j->dy + (((size_t)i * j->oh + p) * j->ow) * c;
    for (int q = 0; q < j->ow; q++) {
      const size_t at = (size_t)2 * q * c;
      for (int k = 0; k < c; k += 16) {
        __m512 v[4];
        const __mmask16 m = window_2x2(r0, r1, at, c, k, v);
        const __m512 a = v[0], b = v[1], e = v[2], f = v[3];
        /* first maximum: a wins ties over b, e, f; b over e, f; e over f (NaN never wins) */
        const __m512 mx = _mm512_max_ps(_mm512_max_ps(a, b), _mm512_max_ps(e, f));
        /* after a relu, the gradient reaches the maximum only where it is positive (relu's own gradient) */
        const __mmask16 live = j->relu ? m & _mm512_cmp_ps_mask(mx, zero, _CMP_GT_OQ) : m;
        const __m512 g = _mm512_maskz_loadu_ps(live, d + (size_t)q * c + k);
        const __mmask16 ma = _mm512_cmp_ps_mask(a, mx, _CMP_EQ_OQ);
        const __mmask16 mb = _mm512_cmp_ps_mask(b, mx, _CMP_EQ_OQ) & ~ma;
        const __mmask16 me = _mm512_cmp_ps_mask(e, mx, _CMP_EQ_OQ) & ~(ma | mb);
        const __mmask16 mf = _mm512_cmp_ps_mask(f, mx, _CMP_EQ_OQ) & ~(ma | mb | me);
        _mm512_mask_storeu_ps(o + at + k, m, _mm512_mask_mov_ps(zero, ma, g));
        _mm512_mask_storeu_ps(o + at + c + k, m, _mm512_mask_mov_ps(zero, mb, g));
        _mm512_mask_storeu_ps(o1 + at + k, m, _mm512_mask_mov_ps(zero, me, g));
        _mm512_mask_storeu_ps(o1 + at + c + k, m, _mm512_mask_mov_ps(zero, mf, g));
      }
    }
    /* a last odd column outside every window */
    for (int q2 = 2 * j->ow; q2 < j->w; q2++) {
      memset(o + (size_t)q2 * c, 0, (size_t)c * sizeof(float));
      memset(o1 + (size_t)q2 * c, 0, (size_t)c * sizeof(float));
    }
  }
}

static int plain_2x2(const advex_pool_geometry *g) {
  return g->sh == 2 && g->sw == 2 && g->fh == 2 && g->fw == 2 && g->top == 0 && g->left == 0 &&
         g->oh == g->h / 2 && g->ow == g->w / 2;
}

int direct_max_pool(const float *x, float *y, const advex_pool_geometry *g) {
  if (!direct_available() || !plain_2x2(g)) return 0;
  struct pool_job j = {x, NULL, y, g->n, g->h, g->w, g->c, g->oh, g->ow};
  run_parallel(max_pool_task, &j, (double)g->n * g->h * g->w * g->c);
  return 1;
}

int direct_max_pool_grad(const float *x, const float *dy, float *dx, const advex_pool_geometry *g, int relu) {
  if (!direct_available() || !plain_2x2(g)) return 0;
  struct pool_job j = {x, dy, dx, g->n, g->h, g->w, g->c, g->oh, g->ow, relu};
  run_parallel(max_pool_grad_task, &j, (double)g->n * g->h * g->w * g->c);
  return 1;
}

#else

int direct_available(void) { return 0; }
int direct_enable(int on) {
  (void)on;
  return 0;
}
int direct_conv2d_takes(const advex_conv_geometry *g, int which) {
  (void)g, (void)which;
  return 0;
}
int direct_conv2d(const float *x, const float *f, const float *bias, int act, float *y, const advex_conv_geometry *g) {
  (void)x, (void)f, (void)bias, (void)act, (void)y, (void)g;
  return 0;
}
int direct_conv2d_backprop_input(const float *dy, const float *f, float *dx, const advex_conv_geometry *g) {
  (void)dy, (void)f, (void)dx, (void)g;
  return 0;
}
int direct_conv2d_backprop_filter(const float *x, const float *dy, float *df, const advex_conv_geometry *g) {
  (void)x, (void)dy, (void)df, (void)g;
  return 0;
}
int direct_max_pool(const float *x, float *y, const advex_pool_geometry *g) {
  (void)x, (void)y, (void)g;
  return 0;
}
int direct_matmul(const float *a, const float *b, float *c, int m, int n, int k, int trans_a, int trans_b,
                  const float *bias, int act) {
  (void)a, (void)b, (void)c, (void)m, (void)n, (void)k, (void)trans_a, (void)trans_b, (void)bias, (void)act;
  return 0;
}
int direct_max_pool_grad(const float *x, const float *dy, float *dx, const advex_pool_geometry *g, int relu) {
  (void)x, (void)dy, (void)dx, (void)g, (void)relu;
  return 0;
}

#endif
