/**
 * One at a time per remote chat: everything that decides which Matrix room stands for a chat
 * (creating its portal from a live event or from `sync`, `link`, starting its backfill) runs
 * under that chat's turn, so two of them can never both find "no room yet" and both make one.
 * In memory: the database's unique (network, chat) link is what holds across processes.
 */
export class ChatTurns {
  /** Key → the promise the next comer waits for (the end of the last queued turn). */
  private readonly tails = new Map<string, Promise<void>>();
  /** Key → turns running or waiting. */
  private readonly counts = new Map<string, number>();

  /** Run `fn` once every earlier turn for the same chat is over. Not re-entrant. */
  async run<T>(network: string, chat: string, fn: () => Promise<T>): Promise<T> {
    const key = `${network}\u0000${chat}`;
    const before = this.tails.get(key) ?? Promise.resolve();
    let end!: () => void;
    const tail = new Promise<void>((resolve) => { end = resolve; });
    this.tails.set(key, tail);
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    try {
      await before;
      return await fn();
    } finally {
      end();
      const left = (this.counts.get(key) ?? 1) - 1;
      if (left === 0) {
        this.counts.delete(key);
        this.tails.delete(key);
      } else this.counts.set(key, left);
    }
  }

  /** Turns for this chat that are running or waiting (what `status`-like views and tests can watch). */
  pending(network: string, chat: string): number {
    return this.counts.get(`${network}\u0000${chat}`) ?? 0;
  }
}
