import * as tf from "@tensorflow/tfjs";
import { assertEquals, assertThrows } from "@std/assert";
import {
  BACKEND_FLAGS,
  DEFAULT_PATCH_MATRIX_LIMIT,
  FILTER_GRAD_METHOD,
  INPUT_GRAD_METHOD,
  NATIVE_DIRECT,
  NATIVE_POLICY,
  PATCH_MATRIX_LIMIT,
} from "../../lib/backend/mod.ts";

const DEFAULTS: Record<string, number | boolean | string> = {
  [FILTER_GRAD_METHOD]: "auto",
  [INPUT_GRAD_METHOD]: "auto",
  [PATCH_MATRIX_LIMIT]: DEFAULT_PATCH_MATRIX_LIMIT,
  [NATIVE_POLICY]: "auto",
  [NATIVE_DIRECT]: true,
};

Deno.test("the backend flags are registered with tf.env() and read their defaults", () => {
  assertEquals(BACKEND_FLAGS.map((f) => f.name).sort(), Object.keys(DEFAULTS).sort());
  for (const [name, value] of Object.entries(DEFAULTS)) assertEquals(tf.env().get(name), value, name);
});

Deno.test("tf.env().set() changes a backend flag and tf.env().reset() returns every one to its default", () => {
  const values: Record<string, number | boolean | string> = {
    [FILTER_GRAD_METHOD]: "im2col",
    [INPUT_GRAD_METHOD]: "col2im",
    [PATCH_MATRIX_LIMIT]: 1000,
    [NATIVE_POLICY]: "always",
    [NATIVE_DIRECT]: false,
  };
  for (const [name, value] of Object.entries(values)) {
    tf.env().set(name, value);
    assertEquals(tf.env().get(name), value, name);
  }
  tf.env().reset();
  for (const [name, value] of Object.entries(DEFAULTS)) assertEquals(tf.env().get(name), value, name);
});

Deno.test("tf.env().set() of a backend flag refuses a bad value with a RangeError and keeps the default", () => {
  const bad: [string, number | boolean | string, string][] = [
    [FILTER_GRAD_METHOD, "fft", `invalid ${FILTER_GRAD_METHOD} "fft"`],
    [INPUT_GRAD_METHOD, "im2col", `invalid ${INPUT_GRAD_METHOD} "im2col"`],
    [PATCH_MATRIX_LIMIT, 0, `invalid ${PATCH_MATRIX_LIMIT} 0`],
    [PATCH_MATRIX_LIMIT, "many", `invalid ${PATCH_MATRIX_LIMIT} "many"`],
    [NATIVE_POLICY, "sometimes", `invalid ${NATIVE_POLICY} "sometimes"`],
    [NATIVE_DIRECT, 1, `invalid ${NATIVE_DIRECT} 1`],
  ];
  for (const [name, value, message] of bad) {
    assertThrows(() => tf.env().set(name, value), RangeError, message);
    assertEquals(tf.env().get(name), DEFAULTS[name], `${name} after ${value}`);
  }
  // A fractional limit is a valid one (the kernels round it down).
  tf.env().set(PATCH_MATRIX_LIMIT, 123.5);
  assertEquals(tf.env().get(PATCH_MATRIX_LIMIT), 123.5);
  tf.env().set(PATCH_MATRIX_LIMIT, DEFAULT_PATCH_MATRIX_LIMIT);
});
