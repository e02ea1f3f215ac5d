/**
 * The site build's estimate of the time left (tools/site.ts prints it after every notebook).
 *
 * Each notebook's expected time comes from the previous build of the same site folder at the same scale
 * (`site.json` keeps every page's seconds), else from {@link MEASURED_SECONDS}, the times measured from an
 * empty cache on 2 cores of an Intel Xeon. Both are scaled by this build's own pace: the seconds the finished
 * notebooks took over the seconds they were expected to take. A warm cache makes a build faster than its
 * expectation, a slower machine slower, and the pace follows either after the first notebook.
 */

import type { ChapterEntry } from "./site_index.ts";
import { formatSeconds } from "./site_index.ts";

/**
 * Seconds per notebook from an empty cache, 2 cores of an Intel Xeon (the README's table of wall times).
 * Chapter 1 at `full` includes the training of its scale-16 network (412 s), chapter 3 the ResNet-50's
 * pretraining (312 s), chapter 5 at `full` the scale-16 PGD network's (32 min; this chapter measured on 2
 * cores of an AMD EPYC).
 */
export const MEASURED_SECONDS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  course: {
    "01-generalization-vs-robustness": 65,
    "02-robust-and-non-robust-features": 244,
    "03-transferability": 729,
    "04-gradient-masking": 104,
    "05-adversarial-training": 220,
    "06-regularization": 97,
    "07-ensemble-adversarial-training": 178,
  },
  full: {
    "01-generalization-vs-robustness": 549,
    "02-robust-and-non-robust-features": 363,
    "03-transferability": 728,
    "04-gradient-masking": 104,
    "05-adversarial-training": 7255,
    "06-regularization": 97,
    "07-ensemble-adversarial-training": 178,
  },
};

/** What a build expects of each notebook, in seconds (a notebook without an expectation is left out). */
export function expectedSeconds(
  names: readonly string[],
  scale: string,
  previous: readonly ChapterEntry[] = [],
): Map<string, number> {
  const out = new Map<string, number>();
  for (const name of names) {
    const before = previous.find((e) => e.name === name && e.scale === scale && e.seconds > 0);
    const measured = MEASURED_SECONDS[scale]?.[name];
    if (before) out.set(name, before.seconds);
    else if (measured !== undefined) out.set(name, measured);
  }
  return out;
}

/** The estimate after some notebooks are done: seconds left, and whether every remaining one is known. */
export interface TimeLeft {
  seconds: number;
  /** Notebooks still to run that have no expectation (not counted in `seconds`). */
  unknown: number;
}

/**
 * Seconds left for the notebooks in `remaining`: their expected seconds times this build's pace
 * (`done`: name -> seconds it took; the pace counts only finished notebooks that had an expectation, and
 * is 1 before any has finished).
 */
export function timeLeft(
  expected: ReadonlyMap<string, number>,
  done: ReadonlyMap<string, number>,
  remaining: readonly string[],
): TimeLeft {
  let took = 0, planned = 0;
  for (const [name, seconds] of done) {
    const e = expected.get(name);
    if (e === undefined || e <= 0) continue;
    took += seconds;
    planned += e;
  }
  const pace = planned > 0 ? took / planned : 1;
  let seconds = 0, unknown = 0;
  for (const name of remaining) {
    const e = expected.get(name);
    if (e === undefined) unknown++;
    else seconds += e * pace;
  }
  return { seconds, unknown };
}

/** The estimate as the site's log prints it, e.g. "about 2 h 16 min left". */
export function describeTimeLeft(left: TimeLeft, remaining: number): string {
  if (remaining === 0) return "no notebook left";
  if (left.unknown === remaining) {
    return `${remaining} notebook(s) left, no estimate of their time at this scale`;
  }
  const more = left.unknown > 0 ? ` and ${left.unknown} notebook(s) without an estimate` : "";
  return `about ${formatSeconds(left.seconds)} left${more}`;
}
