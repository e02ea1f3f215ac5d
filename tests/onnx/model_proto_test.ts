import { assertEquals, assertThrows } from "@std/assert";
import {
  AttributeType,
  DataType,
  decodeModel,
  encodeModel,
  floatAttr,
  intsAttr,
  type OnnxModel,
  standardOpset,
  stringAttr,
  tensorAttr,
} from "../../lib/onnx/model_proto.ts";
import { ProtobufError, ProtoWriter } from "../../lib/onnx/protobuf.ts";
import { floatTensor } from "../../lib/onnx/tensor_data.ts";

const model: OnnxModel = {
  irVersion: 8,
  opsetImport: [{ domain: "", version: 13 }, { domain: "com.example", version: 2 }],
  producerName: "advex",
  producerVersion: "0.1.0",
  docString: "a test",
  graph: {
    name: "g",
    nodes: [{
      opType: "Conv",
      inputs: ["x", "w", ""],
      outputs: ["y"],
      name: "conv",
      domain: "",
      attributes: [
        intsAttr("pads", [1, -1, 0, 2]),
        floatAttr("alpha", 0.25),
        stringAttr("auto_pad", "NOTSET"),
        tensorAttr("value", floatTensor("", [1], [2])),
      ],
    }],
    initializers: [floatTensor("w", [1, 1, 3, 3], new Float32Array(9).fill(0.5))],
    inputs: [{ name: "x", elemType: DataType.float, shape: ["N", 1, 8, 8] }],
    outputs: [{ name: "y", elemType: DataType.float, shape: ["N", 1, 6, 6] }],
  },
  metadata: { "advex.input_layout": "NCHW", other: "é" },
};

Deno.test("encodeModel() and decodeModel() round-trip a model, attributes and metadata included", () => {
  const back = decodeModel(encodeModel(model));
  assertEquals(back.irVersion, 8);
  assertEquals(back.opsetImport, model.opsetImport);
  assertEquals(standardOpset(back), 13);
  assertEquals([back.producerName, back.producerVersion, back.docString], ["advex", "0.1.0", "a test"]);
  assertEquals(back.metadata, model.metadata);
  assertEquals(back.graph.inputs, model.graph.inputs);
  assertEquals(back.graph.outputs, model.graph.outputs);
  const node = back.graph.nodes[0];
  assertEquals([node.opType, node.inputs, node.outputs, node.name], ["Conv", ["x", "w", ""], ["y"], "conv"]);
  const attrs = Object.fromEntries(node.attributes.map((a) => [a.name, a]));
  assertEquals(attrs.pads.ints, [1, -1, 0, 2]);
  assertEquals(attrs.alpha.f, 0.25);
  assertEquals(new TextDecoder().decode(attrs.auto_pad.s), "NOTSET");
  assertEquals(attrs.value.type, AttributeType.tensor);
  assertEquals(back.graph.initializers[0].dims, [1, 1, 3, 3]);
  assertEquals(back.graph.initializers[0].rawData!.length, 36);
});

Deno.test("decodeModel() infers the type of attributes written without one (IR version 1)", () => {
  const attr = new ProtoWriter().string(1, "axis").int(3, -1);
  const node = new ProtoWriter().string(1, "x").string(2, "y").string(4, "Softmax").message(5, attr);
  const out = new ProtoWriter().string(1, "y");
  const graph = new ProtoWriter().message(1, node).message(12, out);
  const bytes = new ProtoWriter().int(1, 1).message(8, new ProtoWriter().int(2, 1)).message(7, graph)
    .finish();
  const a = decodeModel(bytes).graph.nodes[0].attributes[0];
  assertEquals([a.type, a.i], [AttributeType.int, -1]);
});

Deno.test("decodeModel() refuses protobuf messages that are no ONNX model", () => {
  assertThrows(() => decodeModel(new ProtoWriter().int(1, 8).finish()), ProtobufError, "no graph");
  const noOpset = new ProtoWriter().message(7, new ProtoWriter().string(2, "g")).finish();
  assertThrows(() => decodeModel(noOpset), ProtobufError, "no opset_import");
});
