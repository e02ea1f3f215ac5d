/**
 * Each notebook's headline numbers, committed to the artifact store as JSON so that a run's results can be
 * read (and compared between scales and machines) without opening the notebook.
 * @module
 */
import { join } from "node:path";
import { commitArtifact, refOf } from "../store/store.ts";

/** The file holding the numbers inside a results artifact. */
export const RESULTS_FILE = "results.json";

/**
 * Commits `results` for `chapter` at `scale` as the artifact `<cache>/v2/results/<chapter>-<scale>/`
 * (replacing the previous run's); returns the path of its `results.json`.
 */
export async function saveResults(
  chapter: string,
  scale: string,
  results: Record<string, unknown>,
): Promise<string> {
  const ref = refOf("results", `${chapter}-${scale}`);
  const body = { chapter, scale, date: new Date().toISOString(), ...results };
  await commitArtifact(ref, { [RESULTS_FILE]: JSON.stringify(body, null, 2) + "\n" }, {
    spec: { chapter, scale },
    replace: true,
  });
  return join(ref.dir, RESULTS_FILE);
}
