import { Worker } from "node:worker_threads";
import type { WorkerReply, WorkerRequest } from "./inferProtocol.js";

const fromSource = import.meta.url.endsWith(".ts");
const workerUrl = new URL(`./inferWorker${fromSource ? ".ts" : ".js"}`, import.meta.url);

/**
 * The worker's entry. Built code runs inferWorker.js directly; from source (tests under tsx) a
 * worker does not inherit tsx's loader hooks, so a tiny ESM bootstrap registers them first.
 */
function workerEntry(): URL {
  if (!fromSource) return workerUrl;
  const api = import.meta.resolve("tsx/esm/api");
  const code = `import { register } from ${JSON.stringify(api)}; register(); await import(${JSON.stringify(workerUrl.href)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}

/** An inference worker died; onnxruntime-node cannot be loaded again in this process. */
export class WorkerDeadError extends Error {
  constructor(override readonly cause: Error) {
    super(`the inference worker died (${cause.message}); linewatch must be restarted`);
    this.name = "WorkerDeadError";
  }
}

type Waiter = { resolve: (r: WorkerReply) => void; reject: (e: Error) => void; worker: number };

/**
 * The process's inference workers, started on first use: each hosts every session under its own
 * id (a model is loaded in each worker that runs it), and runs its requests one at a time.
 * onnxruntime-node's addon can be loaded by several threads while they all live, but not again
 * once a thread that loaded it has ended ("Module did not self-register"), so a worker is never
 * replaced: if any dies, every session is lost and `onDeath` listeners are told (the daemon exits
 * and systemd restarts it). A worker is referenced only while it has requests pending, so none
 * keeps a finished process alive.
 */
export class InferenceHost {
  private static shared: InferenceHost | null = null;
  private readonly workers: Worker[] = [];
  /** Requests pending per worker. */
  private readonly pending: number[] = [];
  private dead: WorkerDeadError | null = null;
  private readonly waiters = new Map<string, Waiter>();
  private readonly deathListeners = new Set<(err: WorkerDeadError) => void>();
  private nextSession = 1;
  private nextId = 1;

  /** The process-wide host. */
  static get(): InferenceHost {
    InferenceHost.shared ??= new InferenceHost();
    return InferenceHost.shared;
  }

  newSession(): number {
    return this.nextSession++;
  }

  newId(): number {
    return this.nextId++;
  }

  /** Called once if a worker dies. Returns a function that removes the listener. */
  onDeath(fn: (err: WorkerDeadError) => void): () => void {
    this.deathListeners.add(fn);
    return () => this.deathListeners.delete(fn);
  }

  /**
   * Sends a request to worker `worker` (started if it is not yet; workers are numbered from 0) and
   * resolves with the reply for its session and id: a request id must not be pending twice.
   */
  request(req: WorkerRequest, transfer: ArrayBuffer[] = [], worker = 0): Promise<WorkerReply> {
    if (this.dead) return Promise.reject(this.dead);
    const w = this.ensure(worker);
    const key = `${req.session}:${"id" in req ? req.id : 0}`;
    return new Promise<WorkerReply>((resolve, reject) => {
      this.waiters.set(key, { resolve, reject, worker });
      this.pending[worker]++;
      w.ref();
      w.postMessage(req, transfer);
    });
  }

  /** Of workers 0 .. n-1, the one with the fewest requests pending (the lowest number on a tie). */
  leastBusy(n: number): number {
    let best = 0;
    for (let k = 1; k < n; k++) if ((this.pending[k] ?? 0) < (this.pending[best] ?? 0)) best = k;
    return best;
  }

  private ensure(k: number): Worker {
    for (let i = this.workers.length; i <= k; i++) this.start(i);
    return this.workers[k];
  }

  private start(k: number): void {
    const w = new Worker(workerEntry());
    w.on("message", (msg: WorkerReply) => {
      const key = `${msg.session}:${"id" in msg ? msg.id : 0}`;
      const waiter = this.waiters.get(key);
      this.waiters.delete(key);
      if (waiter && --this.pending[waiter.worker] === 0) w.unref();
      waiter?.resolve(msg);
    });
    w.on("error", (err) => this.die(err));
    w.on("exit", (code) => this.die(new Error(`exit code ${code}`)));
    w.unref();
    this.workers[k] = w;
    this.pending[k] = 0;
  }

  private die(cause: Error): void {
    if (this.dead) return;
    this.dead = new WorkerDeadError(cause);
    for (const w of this.workers) void w.terminate();
    for (const w of this.waiters.values()) w.reject(this.dead);
    this.waiters.clear();
    for (const fn of this.deathListeners) fn(this.dead);
  }

  /** Ends worker `k` for a test that must see the death path. */
  terminateForTest(k = 0): Promise<number> | undefined {
    return this.workers[k]?.terminate();
  }
}
