import cliProgress from 'cli-progress';

/** A progress bar on stderr when it is a terminal (and not in --json mode); silent otherwise. */
export interface Progress {
  update(value: number, total?: number): void;
  stop(): void;
}

/** Starts a progress bar labelled `label` over `total` units (bytes or events). */
export function startProgress(label: string, total: number, enabled: boolean): Progress {
  if (!enabled || !process.stderr.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format: `${label.padEnd(18)} [{bar}] {percentage}% | {eta_formatted} left`,
      stream: process.stderr,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(Math.max(total, 1), 0);
  return {
    update(value, newTotal) {
      if (newTotal !== undefined) bar.setTotal(Math.max(newTotal, 1));
      bar.update(value);
    },
    stop() {
      bar.stop();
    },
  };
}
