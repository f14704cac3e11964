// `dsf`: the Deltaflow operator command (npm run dsf -- <args>; dsf --help).
import { runCli } from './run';

runCli(process.argv.slice(2), {
  env: process.env,
  out: (l) => console.log(l),
  err: (l) => console.error(l),
  ...(process.stdout.isTTY ? { terminal: process.stdout } : {}),
}).then(
  // stdout and stderr are synchronous on Linux (files, pipes, terminals): nothing is lost by exiting
  (code) => process.exit(code),
  (err) => {
    console.error(`dsf: ${err?.message ?? err}`);
    process.exit(3);
  },
);
