#!/usr/bin/env node
/**
 * The `linewatch` command's entry point. Each waiting appsink pull holds a libuv thread, and libuv
 * reads UV_THREADPOOL_SIZE once, when its pool starts. Node reads an ES module entry through that
 * pool, so from one the size is read (4) before the module's first line runs; this entry is
 * CommonJS, read synchronously, and raises the size before anything starts the pool. The
 * commands (ES modules) are loaded after that.
 */
process.env.UV_THREADPOOL_SIZE ??= "32";

void import("./commands/dispatch.js").then((m) => m.linewatch(process.argv.slice(2)));
