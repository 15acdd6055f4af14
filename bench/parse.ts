// Parser benchmark: mailparser's simpleParser alone (the baseline) against our whole parseEmail,
// on every shared fixture, measured in the same run with interleaved rounds.
import { availableParallelism, loadavg } from 'node:os';
import { simpleParser } from 'mailparser';
import { parseEmail } from '../src/parse/index.js';
import { fixtureNames, readFixture } from '../tests/support/fixtures.js';
import { formatNumber, formatTable } from './table.js';

/** The goal: the whole parser costs no more than 1.3× mailparser alone. */
export const MAX_RATIO = 1.3;

export interface ParseBenchOptions {
  /** Measured time per fixture and per contender, in milliseconds. */
  readonly targetMsPerFixture: number;
  /**
   * Warm-up before anything is measured: each contender parses every fixture this many times, so
   * the JIT has compiled both code paths (cheerio's and ours take longer to get hot than
   * mailparser's alone) and the first fixture measured is not penalised.
   */
  readonly warmupIterations: number;
  /** The measured iterations are split into this many alternating rounds, so drift hits both sides. */
  readonly rounds: number;
}

export const DEFAULT_PARSE_BENCH_OPTIONS: ParseBenchOptions = {
  targetMsPerFixture: 1000,
  warmupIterations: 100,
  rounds: 20,
};

export interface BenchSectionResult {
  readonly title: string;
  readonly table: string;
  readonly pass: boolean;
  readonly summary: string;
}

interface Fixture {
  readonly name: string;
  readonly bytes: Buffer;
}

/** Time per parse, in milliseconds: wall clock, and CPU time of this process (user + system). */
interface Cost {
  readonly wallMs: number;
  readonly cpuMs: number;
}

interface Measurement {
  /** Iterations per contender (rounds × iterations per round). */
  readonly iterations: number;
  /** Each contender's cost per parse: the median over the rounds. */
  readonly baseline: Cost;
  readonly whole: Cost;
}

function loadFixtures(): Fixture[] {
  // The same lookup as the tests: fails with a clear message when ../shared/fixtures is missing.
  return fixtureNames().map((name) => ({ name, bytes: readFixture(name) }));
}

async function baseline(bytes: Buffer): Promise<void> {
  await simpleParser(bytes);
}

async function whole(bytes: Buffer): Promise<void> {
  await parseEmail(bytes);
}

/** The cost of one parse, averaged over `n` in a row. */
async function timeIterations(fn: (b: Buffer) => Promise<void>, bytes: Buffer, n: number): Promise<Cost> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < n; i += 1) await fn(bytes);
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { wallMs: wallMs / n, cpuMs: (used.user + used.system) / 1000 / n };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function medianCost(costs: readonly Cost[]): Cost {
  return { wallMs: median(costs.map((c) => c.wallMs)), cpuMs: median(costs.map((c) => c.cpuMs)) };
}

async function warmUp(fixtures: readonly Fixture[], iterations: number): Promise<void> {
  for (let i = 0; i < iterations; i += 1) {
    for (const fixture of fixtures) {
      await baseline(fixture.bytes);
      await whole(fixture.bytes);
    }
  }
}

async function measure(fixture: Fixture, options: ParseBenchOptions): Promise<Measurement> {
  // Size the run from the slower contender so each side gets about the target time.
  const probe = 10;
  const perIteration = Math.max(
    (await timeIterations(baseline, fixture.bytes, probe)).wallMs,
    (await timeIterations(whole, fixture.bytes, probe)).wallMs,
  );
  const perRound = Math.max(1, Math.round(options.targetMsPerFixture / perIteration / options.rounds));
  const baselineRounds: Cost[] = [];
  const wholeRounds: Cost[] = [];
  for (let round = 0; round < options.rounds; round += 1) {
    // Alternate which side goes first so neither always runs on a warmer (or more fragmented) heap.
    if (round % 2 === 0) {
      baselineRounds.push(await timeIterations(baseline, fixture.bytes, perRound));
      wholeRounds.push(await timeIterations(whole, fixture.bytes, perRound));
    } else {
      wholeRounds.push(await timeIterations(whole, fixture.bytes, perRound));
      baselineRounds.push(await timeIterations(baseline, fixture.bytes, perRound));
    }
  }
  // Medians, not sums: on a shared machine a burst of other work lands in a round or two and
  // would otherwise count against whichever contender happened to be running.
  return {
    iterations: perRound * options.rounds,
    baseline: medianCost(baselineRounds),
    whole: medianCost(wholeRounds),
  };
}

/** One table row: `emails` emails of `bytes` bytes in all, each side taking its cost for the lot. */
function row(
  label: string,
  emails: number,
  bytes: number,
  iterations: number,
  base: Cost,
  ours: Cost,
): string[] {
  const perSecond = (ms: number): number => (emails * 1000) / ms;
  const mbPerSecond = (ms: number): number => bytes / 1e6 / (ms / 1000);
  const cpuRatio = ours.cpuMs / base.cpuMs;
  return [
    label,
    formatNumber(bytes / 1024, 1),
    String(iterations),
    formatNumber(perSecond(base.wallMs), 0),
    formatNumber(mbPerSecond(base.wallMs), 2),
    formatNumber(perSecond(ours.wallMs), 0),
    formatNumber(mbPerSecond(ours.wallMs), 2),
    `${formatNumber(ours.wallMs / base.wallMs, 2)}×`,
    `${formatNumber(cpuRatio, 2)}×`,
    cpuRatio <= MAX_RATIO ? 'PASS' : 'FAIL',
  ];
}

function add(a: Cost, b: Cost): Cost {
  return { wallMs: a.wallMs + b.wallMs, cpuMs: a.cpuMs + b.cpuMs };
}

/**
 * Parse every fixture many times with mailparser alone and with the whole parser; return the
 * table (emails/s, MB/s, ratio of whole to baseline time) and whether the total meets
 * {@link MAX_RATIO}. The total row is one pass over every fixture: the sum of the per-fixture
 * costs. PASS/FAIL is judged on CPU time, which other processes on a shared machine disturb far
 * less than the wall clock; both ratios are shown.
 */
export async function runParseBench(
  options: ParseBenchOptions = DEFAULT_PARSE_BENCH_OPTIONS,
): Promise<BenchSectionResult> {
  const fixtures = loadFixtures();
  const loadBefore = loadavg()[0] ?? 0;
  await warmUp(fixtures, options.warmupIterations);
  const rows: string[][] = [];
  let totalBytes = 0;
  let totalIterations = 0;
  let totalBaseline: Cost = { wallMs: 0, cpuMs: 0 };
  let totalWhole: Cost = { wallMs: 0, cpuMs: 0 };
  for (const fixture of fixtures) {
    const m = await measure(fixture, options);
    rows.push(row(fixture.name, 1, fixture.bytes.length, m.iterations, m.baseline, m.whole));
    totalBytes += fixture.bytes.length;
    totalIterations += m.iterations;
    totalBaseline = add(totalBaseline, m.baseline);
    totalWhole = add(totalWhole, m.whole);
  }
  const label = `all ${fixtures.length} fixtures`;
  rows.push(row(label, fixtures.length, totalBytes, totalIterations, totalBaseline, totalWhole));
  const ratio = totalWhole.cpuMs / totalBaseline.cpuMs;
  const table = formatTable(
    [
      { title: 'fixture' },
      { title: 'KiB', align: 'right' },
      { title: 'iters', align: 'right' },
      { title: 'mailparser email/s', align: 'right' },
      { title: 'MB/s', align: 'right' },
      { title: 'parseEmail email/s', align: 'right' },
      { title: 'MB/s', align: 'right' },
      { title: 'ratio wall', align: 'right' },
      { title: 'ratio CPU', align: 'right' },
      { title: `≤${MAX_RATIO}×` },
    ],
    rows,
  );
  const verdict = ratio <= MAX_RATIO ? 'PASS' : 'FAIL';
  const cores = availableParallelism();
  const load = `load average ${formatNumber(loadBefore, 2)} → ${formatNumber(loadavg()[0] ?? 0, 2)} on ${cores} cores`;
  return {
    title: 'parse: mailparser simpleParser alone (baseline) vs parseEmail (whole parser), same run',
    table,
    pass: ratio <= MAX_RATIO,
    summary:
      `whole parser / mailparser = ${formatNumber(ratio, 2)}× CPU time (goal ≤ ${MAX_RATIO}×): ${verdict}.\n` +
      `email/s and MB/s are wall clock; each figure is the median of ${options.rounds} interleaved rounds per ` +
      `fixture, after ${options.warmupIterations} warm-up parses of every fixture by each side (${load}` +
      `${loadBefore > cores ? ': a busy machine, expect noise' : ''}).`,
  };
}
