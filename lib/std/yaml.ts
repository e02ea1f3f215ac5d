/**
 * The `@std/yaml` names advex uses (`parse`, `stringify`), backed by `npm:yaml`, the maintained YAML
 * library on npm, so that configs load where JSR is unreachable. Pointing `@std/yaml` back at
 * `jsr:@std/yaml` in `deno.json` is a one-line change.
 * @module
 */
import { parse as yamlParse, stringify as yamlStringify } from "yaml";

/** Parses one YAML document into plain JavaScript values. */
export function parse(content: string): unknown {
  return yamlParse(content);
}

/** Serialises plain JavaScript values as YAML. */
export function stringify(data: unknown): string {
  return yamlStringify(data);
}
