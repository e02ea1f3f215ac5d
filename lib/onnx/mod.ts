/**
 * ONNX: exporting tfjs models to `.onnx` files, running ONNX image classifiers with onnxruntime (on CUDA,
 * WebGPU or the CPU, whichever really works), importing them back into tfjs as differentiable classifiers
 * that attacks can use, and the project's own "pretrained" models.
 *
 * The wire-format and message modules (`protobuf.ts`, `model_proto.ts`, `tensor_data.ts`) stay internal
 * apart from the model types and their encoding; import them directly to build graphs by hand.
 * @module
 */
export {
  EXPORT_OPSET,
  exportOnnx,
  type ExportOnnxOptions,
  type InputLayout,
  LAYOUT_METADATA_KEY,
  saveOnnx,
  toOnnxModel,
} from "./export.ts";
export {
  IMPORTABLE_OPERATORS,
  type ImportedOnnx,
  importOnnx,
  importOnnxModel,
  type ImportOnnxOptions,
} from "./import_tf.ts";
export {
  decodeModel,
  encodeModel,
  type OnnxAttribute,
  type OnnxGraph,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
  type OnnxValueInfo,
} from "./model_proto.ts";
export {
  chooseOrtProvider,
  describeOrtProvider,
  ORT_PROVIDER_ENV_VAR,
  ORT_PROVIDER_REQUESTS,
  ortBinaryFolder,
  type OrtProviderName,
  type OrtProviderOptions,
  type OrtProviderReport,
  type OrtProviderRequest,
} from "./ort_provider.ts";
export {
  argmaxRows,
  loadOrtModel,
  type OrtBatchOptions,
  ortEvaluate,
  type OrtModel,
  type OrtModelOptions,
  ortPredict,
  type OrtPredictions,
} from "./ort_session.ts";
export { type ForwardChoice, type OrtForward, ortForward, withOrtForward } from "./ort_forward.ts";
export { type LoadedOnnx, loadOnnx, type OnnxSource, parseOnnx } from "./read.ts";
export {
  IMAGENET_NORMALIZATION,
  type ImageSignature,
  imageSignature,
  type Normalization,
  type SignatureOptions,
} from "./signature.ts";
