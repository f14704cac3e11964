// `dsf`: the Delta Save operator command (npm run dsf -- <args>).
import { runCli } from './run';

runCli(process.argv.slice(2), { env: process.env, out: (l) => console.log(l), err: (l) => console.error(l) }).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`dsf: ${err?.message ?? err}`);
    process.exit(3);
  },
);
