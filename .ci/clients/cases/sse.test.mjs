// graphql-sse's client as its docs show it, in distinct connections mode (an event stream per
// operation): a query, an error before execution, and @defer's payloads as server-sent events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'graphql-sse';
import { deferred, endpoint, headers, post, withoutDefer } from './env.mjs';

const client = createClient({ url: endpoint, headers, retryAttempts: 0 });

// run collects what the client hands its sink for one operation, until complete.
const run = (payload) =>
  new Promise((resolve, reject) => {
    const results = [];
    client.subscribe(payload, { next: (r) => results.push(r), error: reject, complete: () => resolve(results) });
  });

// merge applies @defer's payloads (deferSpec=20220824: data, then incremental by path) as a
// client does, and returns the data and the errors.
function merge(results) {
  const data = structuredClone(results[0].data);
  const errors = [...(results[0].errors ?? [])];
  for (const r of results.slice(1)) {
    for (const inc of r.incremental ?? []) {
      let at = data;
      for (const p of inc.path) at = at[p];
      Object.assign(at, inc.data); // the deferred fields are absent until delivered
      errors.push(...(inc.errors ?? []));
    }
  }
  return { data, errors };
}

test('a query over server-sent events', async () => {
  const query = `query Tickets($id: ID!) { contract(id: $id) { id productName history { tickets { id status subject } } } }`;
  const whole = await post(query, { id: '746839' });
  const results = await run({ query, variables: { id: '746839' } });
  assert.equal(results.length, 1);
  assert.deepEqual(results[0].data, whole.data);
});

test('an error before execution is a next event', async () => {
  const results = await run({ query: '{ contract(id: "746839") { nope } }' });
  assert.equal(results.length, 1);
  assert.equal(results[0].data, undefined);
  assert.equal(results[0].errors[0].extensions.code, 'GRAPHQL_VALIDATION_FAILED');
});

for (const q of deferred) {
  test(`@defer over server-sent events: ${q.name}, as without @defer`, { timeout: 30_000 }, async () => {
    const whole = await post(withoutDefer(q.query), q.variables);
    const results = await run({ query: q.query, variables: q.variables });
    assert.ok(results.length > 1, 'one payload: nothing was deferred');
    assert.equal(results.at(-1).hasNext, false);
    const { data, errors } = merge(results);
    assert.deepEqual(data, whole.data);
    assert.equal(errors.length, whole.errors?.length ?? 0);
  });
}
