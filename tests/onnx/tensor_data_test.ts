import { assertEquals, assertThrows } from "@std/assert";
import { DataType, type OnnxTensor } from "../../lib/onnx/model_proto.ts";
import {
  elementCount,
  floatTensor,
  int64Tensor,
  permuteAxes,
  tensorToFloat32,
  tensorToInts,
} from "../../lib/onnx/tensor_data.ts";

Deno.test("permuteAxes() moves axes as a transpose does", () => {
  // [2, 3] -> [3, 2]
  assertEquals(Array.from(permuteAxes(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3], [1, 0])), [
    1,
    4,
    2,
    5,
    3,
    6,
  ]);
  // HWIO [1, 2, 2, 3] -> OIHW [3, 2, 1, 2]: element (h, w, i, o) lands at (o, i, h, w).
  const shape = [1, 2, 2, 3];
  const data = Float32Array.from({ length: 12 }, (_, k) => k);
  const out = permuteAxes(data, shape, [3, 2, 0, 1]);
  for (let w = 0; w < 2; w++) {
    for (let i = 0; i < 2; i++) {
      for (let o = 0; o < 3; o++) assertEquals(out[(o * 2 + i) * 2 + w], data[(w * 2 + i) * 3 + o]);
    }
  }
  assertThrows(() => permuteAxes(data, shape, [0, 1, 1, 2]), RangeError, "not a permutation");
});

Deno.test("tensorToFloat32() reads every field a TensorProto may keep its numbers in", () => {
  const base = { name: "t", dims: [2] };
  assertEquals(Array.from(tensorToFloat32(floatTensor("t", [2], [1.5, -2]))), [1.5, -2]);
  assertEquals(Array.from(tensorToFloat32({ ...base, dataType: DataType.float, floatData: [3, 4] })), [3, 4]);
  assertEquals(Array.from(tensorToFloat32({ ...base, dataType: DataType.double, doubleData: [5, 6] })), [
    5,
    6,
  ]);
  assertEquals(Array.from(tensorToFloat32(int64Tensor("t", [2], [-7, 8]))), [-7, 8]);
  // float16 1.0 is 0x3c00, -2.0 is 0xc000
  const half: OnnxTensor = {
    ...base,
    dataType: DataType.float16,
    rawData: new Uint8Array([0x00, 0x3c, 0x00, 0xc0]),
  };
  assertEquals(Array.from(tensorToFloat32(half)), [1, -2]);
  assertThrows(
    () => tensorToFloat32({ ...base, dataType: DataType.float, rawData: new Uint8Array(5) }),
    RangeError,
    "dims [2] need 8",
  );
  assertThrows(
    () => tensorToFloat32({ ...base, dataType: DataType.float, external: true }),
    Error,
    "external file",
  );
});

Deno.test("tensorToInts() reads int64 shapes, -1 included", () => {
  assertEquals(tensorToInts(int64Tensor("s", [3], [0, -1, 2 ** 40])), [0, -1, 2 ** 40]);
  assertEquals(tensorToInts({ name: "s", dims: [2], dataType: DataType.int64, int64Data: [4, -1] }), [4, -1]);
  assertEquals(elementCount(int64Tensor("s", [], [3])), 1);
});
