#!/usr/bin/env node
/**
 * `unimed`: command-line tools for a running unimed-serve (docs/cli.md). Exit status: 0 done,
 * 1 failed (the message says why), 2 a usage mistake.
 */
import { CommandError, UsageError } from '../src/args.ts';
import { auditLookupCommand } from '../src/audit-lookup.ts';
import { calibrateCommand } from '../src/calibrate/command.ts';
import { ApiError } from '../src/client.ts';
import { embedCommand } from '../src/embed/command.ts';
import { evalCommand } from '../src/eval/command.ts';
import { searchCommand } from '../src/search.ts';

const HELP = `Usage: unimed <command> [options]      (unimed <command> --help for each)

Commands, each against a running unimed-serve (--url, default http://localhost:8080):
  eval     zero-shot classification of labelled images (a folder per class, or a CSV/TSV): accuracy,
           balanced accuracy, per-class precision/recall/F1/AUROC, calibration, confusion matrix
  calibrate  fit a model's calibration (calibration.json + sha256 sidecar: out-of-distribution threshold,
           temperatures, conformal scores) on labelled images, with a report
  embed    embed every image of a folder or manifest into embeddings.npy + index.csv (resumable, shardable);
           "unimed embed merge OUT SHARD_DIR..." joins shards
  search   the nearest images of an embedded archive to a text or an image

Reading files only:
  audit-lookup   the audit log lines about a study, series, instance or caller request id, found by their keyed hashes
`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number> | number> = {
  eval: evalCommand,
  calibrate: calibrateCommand,
  embed: embedCommand,
  search: searchCommand,
  'audit-lookup': auditLookupCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(HELP);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) throw new UsageError(`unknown command "${name}" (commands: ${Object.keys(COMMANDS).join(', ')})`);
  return command(rest);
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError) {
    const command = process.argv[2] !== undefined && process.argv[2] in COMMANDS ? `${process.argv[2]} ` : '';
    process.stderr.write(`unimed: ${error.message}\n(unimed ${command}--help for usage)\n`);
    process.exitCode = 2;
  } else if (error instanceof CommandError || error instanceof ApiError) {
    process.stderr.write(`unimed: ${error.message}\n`);
    process.exitCode = 1;
  } else {
    throw error;
  }
}
