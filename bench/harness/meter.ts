/** Process meters: RSS (/proc/<pid>/status VmRSS) and CPU time (/proc/<pid>/stat utime + stime). */
import { readCpuMs, readRssMb } from '../stack';
import { round1 } from './context';
import type { Proc } from './processes';

const RSS_SAMPLE_MS = 200;

export type Metered = { rssMb: Record<string, number>; cpuMs: Record<string, number> };

/**
 * Samples each process's RSS every 200 ms from start() to stop() (keeps the maximum per
 * process name) and counts its CPU time from start() or restartCpu() to stopCpu() or stop();
 * `loadgen` is this process (autocannon).
 */
export class ProcessMeter {
  private readonly maxRss = new Map<string, number>();
  private readonly cpuAtStart = new Map<string, number>();
  private loadgenAtStart = process.cpuUsage();
  private cpuMs: Record<string, number> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly procs: Proc[]) {}

  start(): this {
    this.restartCpu();
    this.sample();
    this.timer = setInterval(() => this.sample(), RSS_SAMPLE_MS);
    return this;
  }

  /** CPU is counted from here (e.g. after the warm-up); RSS from start(). */
  restartCpu(): void {
    this.cpuMs = undefined;
    for (const p of this.procs) this.cpuAtStart.set(p.name, readCpuMs(p.pid) ?? NaN);
    this.loadgenAtStart = process.cpuUsage();
  }

  /** CPU is counted up to here (e.g. when the measured window closes); RSS until stop(). */
  stopCpu(): void {
    if (this.cpuMs) return;
    const loadgen = process.cpuUsage(this.loadgenAtStart);
    this.cpuMs = { loadgen: Math.round((loadgen.user + loadgen.system) / 1000) };
    for (const p of this.procs) this.cpuMs[p.name] = Math.round((readCpuMs(p.pid) ?? NaN) - (this.cpuAtStart.get(p.name) ?? NaN));
  }

  stop(): Metered {
    clearInterval(this.timer);
    this.sample();
    this.stopCpu();
    return { rssMb: Object.fromEntries([...this.maxRss].map(([name, mb]) => [name, round1(mb)])), cpuMs: this.cpuMs ?? {} };
  }

  private sample(): void {
    for (const p of this.procs) {
      const mb = readRssMb(p.pid);
      if (mb !== undefined) this.maxRss.set(p.name, Math.max(this.maxRss.get(p.name) ?? 0, mb));
    }
  }
}

/** CPU microseconds per unit of work (request or order), per process. */
export function cpuPer(cpuMs: Record<string, number>, units: number): Record<string, number> {
  return Object.fromEntries(Object.entries(cpuMs).map(([name, ms]) => [name, units > 0 ? Math.round((ms * 1000) / units) : NaN]));
}
