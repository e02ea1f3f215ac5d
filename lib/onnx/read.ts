/**
 * Reading `.onnx` files, with errors that say which file and what is wrong with it: missing, truncated, or
 * not an ONNX model at all.
 * @module
 */
import { decodeModel, type OnnxModel } from "./model_proto.ts";

/** Where a model comes from: a file path or URL, the bytes of a file, or an already parsed model. */
export type OnnxSource = string | URL | Uint8Array | OnnxModel;

/** A parsed model with its bytes (absent when it was given parsed) and a name for messages. */
export interface LoadedOnnx {
  model: OnnxModel;
  bytes?: Uint8Array;
  /** The file path, or "ONNX bytes" / "ONNX model" for in-memory sources. */
  name: string;
}

/** Parses bytes as an ONNX model; `name` (a file name) prefixes the error when they are not one. */
export function parseOnnx(bytes: Uint8Array, name = "ONNX bytes"): OnnxModel {
  if (bytes.length === 0) throw new Error(`${name}: the file is empty, not an ONNX model`);
  try {
    return decodeModel(bytes);
  } catch (e) {
    throw new Error(`${name}: not a valid ONNX model (truncated or corrupt?): ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** Reads and parses an ONNX model from a file or bytes (a parsed model is passed through). */
export async function loadOnnx(source: OnnxSource): Promise<LoadedOnnx> {
  if (source instanceof Uint8Array) return { model: parseOnnx(source), bytes: source, name: "ONNX bytes" };
  if (typeof source === "object" && !(source instanceof URL)) return { model: source, name: "ONNX model" };
  const name = source instanceof URL ? source.pathname : source;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(source);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`ONNX model file ${name} not found`, { cause: e });
    if (e instanceof Deno.errors.IsADirectory) throw new Error(`ONNX model ${name} is a folder, not a file`);
    throw new Error(`cannot read ONNX model file ${name}: ${(e as Error).message}`, { cause: e });
  }
  return { model: parseOnnx(bytes, name), bytes, name };
}
