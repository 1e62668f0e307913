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

/** The inference worker died; onnxruntime-node cannot be loaded again in this process. */
export class WorkerDeadError extends Error {
  constructor(override readonly cause: Error) {
    super(`the inference worker died (${cause.message}); linewatch must be restarted`);
    this.name = "WorkerDeadError";
  }
}

type Waiter = { resolve: (r: WorkerReply) => void; reject: (e: Error) => void };

/**
 * The one inference worker of this process, started on first use. onnxruntime-node's addon loads
 * in one thread per process only, so the worker is never replaced: if it dies, every session is
 * lost and `onDeath` listeners are told (the daemon exits and systemd restarts it). The worker is
 * referenced only while requests are pending, so it never keeps a finished process alive.
 */
export class InferenceHost {
  private static shared: InferenceHost | null = null;
  private worker: Worker | null = null;
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

  /** Called once if the worker dies. Returns a function that removes the listener. */
  onDeath(fn: (err: WorkerDeadError) => void): () => void {
    this.deathListeners.add(fn);
    return () => this.deathListeners.delete(fn);
  }

  /** Sends a request and resolves with the reply for its session and id (init and release use id 0 or their own). */
  request(req: WorkerRequest, transfer: ArrayBuffer[] = []): Promise<WorkerReply> {
    if (this.dead) return Promise.reject(this.dead);
    const w = this.ensure();
    const key = `${req.session}:${"id" in req ? req.id : 0}`;
    return new Promise<WorkerReply>((resolve, reject) => {
      this.waiters.set(key, { resolve, reject });
      w.ref();
      w.postMessage(req, transfer);
    });
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(workerEntry());
    w.on("message", (msg: WorkerReply) => {
      const key = `${msg.session}:${"id" in msg ? msg.id : 0}`;
      const waiter = this.waiters.get(key);
      this.waiters.delete(key);
      if (this.waiters.size === 0) w.unref();
      waiter?.resolve(msg);
    });
    w.on("error", (err) => this.die(err));
    w.on("exit", (code) => this.die(new Error(`exit code ${code}`)));
    this.worker = w;
    return w;
  }

  private die(cause: Error): void {
    if (this.dead) return;
    this.dead = new WorkerDeadError(cause);
    this.worker = null;
    for (const w of this.waiters.values()) w.reject(this.dead);
    this.waiters.clear();
    for (const fn of this.deathListeners) fn(this.dead);
  }

  /** Ends the worker for a test that must see the death path. */
  terminateForTest(): Promise<number> | undefined {
    return this.worker?.terminate();
  }
}
