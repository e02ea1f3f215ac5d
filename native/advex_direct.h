/*
 * advex's direct (patch-matrix-free) CPU kernels, for CPUs with AVX-512: see advex_direct.c. Each returns 1
 * when it computed the result, 0 when the shape or the CPU is outside what it handles (the caller then
 * takes the im2col / BLAS path), and -1 when out of memory. Callers hold advex_native.c's call lock.
 */
#ifndef ADVEX_DIRECT_H
#define ADVEX_DIRECT_H

#include <stddef.h>
#include <stdint.h>

/* Activations the direct convolution applies after the bias. */
enum { ACT_LINEAR = 0, ACT_RELU = 1 };

/*
 * Geometry of a 2-D convolution in NHWC terms, as lib/backend/conv_geometry.ts lays it out (ConvGeometry,
 * packConvGeometry): the members in this order, each an int32. Batch n; input height and width h, w; input
 * and output channels ci, co; filter height and width kh, kw; strides sh, sw; dilations dh, dw; rows and
 * columns of zeros before the input top, left; output height and width oh, ow.
 */
typedef struct {
  int32_t n, h, w, ci, co, kh, kw, sh, sw, dh, dw, top, left, oh, ow;
} advex_conv_geometry;

/*
 * Geometry of a 2-D pooling in NHWC terms (PoolGeometry, packPoolGeometry in conv_geometry.ts): batch n;
 * input height and width h, w; channels c; output height and width oh, ow; strides sh, sw; window height
 * and width fh, fw; padding before the input top, left.
 */
typedef struct {
  int32_t n, h, w, c, oh, ow, sh, sw, fh, fw, top, left;
} advex_pool_geometry;

_Static_assert(sizeof(advex_conv_geometry) == 15 * sizeof(int32_t), "advex_conv_geometry is 15 int32");
_Static_assert(sizeof(advex_pool_geometry) == 12 * sizeof(int32_t), "advex_pool_geometry is 12 int32");

/* The thread pool (advex_direct.c): a task runs as fn(arg, part, parts) for parts 0..parts-1 at once. */
typedef void (*task_fn)(void *arg, int part, int parts);

/* Work (in multiply-adds, or floats moved) below which waking the other threads costs more than it saves. */
extern const double SERIAL_WORK;

/* Runs a task on every thread of the pool (part 0 on the caller) and waits; on the caller alone when `work`
 * is below SERIAL_WORK. */
void run_parallel(task_fn fn, void *arg, double work);

/* The share [lo, hi) of `total` items that part `part` of `parts` takes. */
void share(long total, int part, int parts, long *lo, long *hi);

/* How many parts run_parallel splits a task of this much work into (1, or every thread of the pool). */
int parallel_parts(double work);

/* out[k] = the sum over c < copies of partial[c * size + k] (per-thread partial results added up). */
void sum_copies(const float *partial, float *out, size_t size, int copies);

/* A scratch buffer that grows as needed and is kept between calls. */
struct buffer {
  float *data;
  size_t size;
};

/* At least n floats of b, 64-byte aligned (contents undefined); NULL when out of memory. */
float *buffer_floats(struct buffer *b, size_t n);

/* Whether the direct kernels run: this CPU has AVX-512F and they are not turned off. */
int direct_available(void);

/* Turns the direct kernels on (1) or off (0), for tests of the other path; returns the previous setting. */
int direct_enable(int on);

/* Threads the direct kernels split their work over (the caller's included). */
int direct_threads(void);

/* Whether the direct kernel takes this convolution: which = 0 for the forward pass, 1 for the input gradient. */
int direct_conv2d_takes(const advex_conv_geometry *g, int which);

/* y = act(conv(x, f) + bias); bias may be NULL. */
int direct_conv2d(const float *x, const float *f, const float *bias, int act, float *y, const advex_conv_geometry *g);

/* dx = the convolution's input gradient from dy (stride 1 only). */
int direct_conv2d_backprop_input(const float *dy, const float *f, float *dx, const advex_conv_geometry *g);

/* df = the convolution's filter gradient from x and dy. */
int direct_conv2d_backprop_filter(const float *x, const float *dy, float *df, const advex_conv_geometry *g);

/* c = op(a) op(b) (+ bias, then act) for row-major m x k and k x n operands (not both transposed). */
int direct_matmul(const float *a, const float *b, float *c, int m, int n, int k, int trans_a, int trans_b,
                  const float *bias, int act);

/* Max-pool forward and gradient for 2x2 windows with stride 2 and no padding (see advex_direct.c). */
int direct_max_pool(const float *x, float *y, const advex_pool_geometry *g);
int direct_max_pool_grad(const float *x, const float *dy, float *dx, const advex_pool_geometry *g, int relu);

/* Elementwise and reduction kernels (advex_elementwise.c), for any x86-64 or other CPU. */

/* out[c] = sum over r of x[r, c], for x rows x cols. Returns 0, or -1 when out of memory. */
int sum_rows(const float *x, float *out, long rows, long cols);

/* One Adam step over n parameters, as lib/train/optimizers.ts computes it (see advex_elementwise.c). */
void adam_step(const float *x, const float *m, const float *v, const float *g, float *xo, float *mo, float *vo,
               long n, float lr, float b1, float b2, float eps, float c1, float c2);

/* out[r, c] = x[r, c] op y[c] (y op x when y_first) over rows x cols; op 0 add, 1 sub, 2 mul, 3 div. */
void binary_channel(const float *x, const float *y, float *out, long rows, long cols, int op, int y_first);

/* out = dy * step(x) over n floats: the gradient of relu. */
void relu_grad(const float *dy, const float *x, float *out, long n);

/* out = min(max(x + size * sign(g), lo), hi) over n floats: one l-inf attack step with its projection. */
void linf_step(const float *x, const float *g, const float *lo, const float *hi, float *out, long n,
               float size);

#endif
