/** A min-heap of (time, account index) deadlines; stale entries are skipped by the caller. */
export class DeadlineQueue {
  private readonly times: number[] = [];
  private readonly accounts: number[] = [];

  get size(): number {
    return this.times.length;
  }

  /** Adds a deadline for an account. */
  push(time: number, account: number): void {
    const times = this.times;
    const accounts = this.accounts;
    let i = times.length;
    times.push(time);
    accounts.push(account);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((times[parent] as number) <= time) break;
      times[i] = times[parent] as number;
      accounts[i] = accounts[parent] as number;
      i = parent;
    }
    times[i] = time;
    accounts[i] = account;
  }

  /** The earliest deadline's time (Infinity when empty). */
  peekTime(): number {
    return this.times.length === 0 ? Infinity : (this.times[0] as number);
  }

  /** Removes the earliest deadline and returns its account index. */
  pop(): number {
    const times = this.times;
    const accounts = this.accounts;
    const top = accounts[0] as number;
    const lastTime = times.pop() as number;
    const lastAccount = accounts.pop() as number;
    const n = times.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        const child = right < n && (times[right] as number) < (times[left] as number) ? right : left;
        if ((times[child] as number) >= lastTime) break;
        times[i] = times[child] as number;
        accounts[i] = accounts[child] as number;
        i = child;
      }
      times[i] = lastTime;
      accounts[i] = lastAccount;
    }
    return top;
  }
}
