import { cpus, loadavg, totalmem } from "node:os";

/** Where and when a benchmark ran, for its results file. */
export function machine(): Record<string, string | number> {
  return {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAverage: loadavg()[0]!.toFixed(2),
    date: new Date().toISOString(),
  };
}
