/**
 * The `linewatch` command's dispatch, loaded by its entry point src/cli.cts once the libuv pool
 * is sized; each command's module is loaded only when it is asked for.
 */

const usage = `usage: linewatch <command> [options]

commands:
  run --config FILE              run the daemon
  check-config --config FILE     validate a config file, print every problem, exit 2 if any
  eval --model DIR --dataset DIR [--shots K] [--seed S] [--out DIR] [--json]
       [--tiling resize|grid:T:O] [--batch N] [--threads N] [--baseline SCORES_CSV]
       [--budgets P,...]
                                 evaluate a model on a dataset in the MVTec AD layout
  enroll --config FILE --camera ID --images DIR
                                 store good reference images for a camera (few-shot)
  archive-export (--config FILE | --archive DIR) --out DIR [--camera ID] [--since DAY] [--until DAY]
                                 the archive's operator-labelled frames as an evaluation set
  view --config FILE --camera ID [--out FILE.png]
                                 one frame of a camera with its ROI and tiles drawn
  version                        print the version
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case "run":
      return (await import("./run.js")).runCommand(rest);
    case "check-config":
      return (await import("./checkConfig.js")).checkConfigCommand(rest);
    case "eval":
      return (await import("./evalCommand.js")).evalCommand(rest);
    case "enroll":
      return (await import("./enroll.js")).enrollCommand(rest);
    case "archive-export":
      return (await import("./archiveExport.js")).archiveExportCommand(rest);
    case "view":
      return (await import("./view.js")).viewCommand(rest);
    case "version":
    case "--version":
      process.stdout.write(`${(await import("../version.js")).version}\n`);
      return 0;
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(usage);
      return cmd === undefined ? 2 : 0;
    default:
      process.stderr.write(`linewatch: unknown command '${cmd}'\n${usage}`);
      return 2;
  }
}

/**
 * A command that has returned is done: leave with its code even if a library still holds a handle
 * (aedes' timers after a failed start, a socket closing), after a moment for logs to flush.
 */
function leave(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 300).unref();
}

/** Runs the command `argv` names (process.argv without node and the script) and exits with its code. */
export function linewatch(argv: string[]): void {
  main(argv).then(leave, (err: Error) => {
    process.stderr.write(`linewatch: ${err.message}\n`);
    leave(1);
  });
}
