// The GraphQL-over-HTTP audit (graphql-http's serverAudits) against a running facade:
//   node audit.mjs http://127.0.0.1:PORT/graphql
// .ci/run copies this file next to its own install of graphql-http and runs it. Every audit's
// outcome other than "ok" is printed; a failed MUST fails the run.
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
const audits = serverAudits({ url });
let failed = 0;
for (const audit of audits) {
  const result = await audit.fn();
  if (result.status !== 'ok') {
    console.log(`${result.status.toUpperCase()} ${audit.name}: ${result.reason}`);
    if (result.status === 'error' && audit.name.startsWith('MUST')) failed++;
  }
}
console.log(`${audits.length} audits, ${failed} MUST failures`);
process.exit(failed ? 1 : 0);
