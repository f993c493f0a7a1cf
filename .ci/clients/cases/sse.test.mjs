// graphql-sse's client as its docs show it, in distinct connections mode (an event stream per
// operation): a query, an error before execution, @defer's payloads as server-sent events, and
// a subscription that hears Enneo's webhook.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'graphql-sse';
import { base, deferred, endpoint, headers, post, withoutDefer } from './env.mjs';

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

test("a subscription gets the contract when Enneo's webhook says it changed", { timeout: 30_000 }, async () => {
  const query = `subscription DeskUpdates { contractChanged(ids: ["100001", "746839"]) { id history { tickets { id status } } } }`;
  const whole = await post(`{ contract(id: "746839") { id history { tickets { id status } } } }`);
  const got = new Promise((resolve, reject) => {
    const unsubscribe = client.subscribe({ query }, {
      next: (r) => { unsubscribe(); resolve(r); },
      error: reject,
      complete: () => reject(new Error('completed without an event')),
    });
  });
  // The webhook until the subscription hears it: the first may come before it is made.
  let event;
  for (let i = 0; i < 50 && !event; i++) {
    const res = await fetch(`${base}/webhooks/enneo`, {
      method: 'POST',
      headers: { Authorization: 'Bearer clients-hook', 'Content-Type': 'application/json' },
      body: JSON.stringify({ event: 'TicketUpdated', contractId: '746839', ticketId: 1 }),
    });
    assert.equal(res.status, 200);
    event = await Promise.race([got, new Promise((r) => setTimeout(r, 200))]);
  }
  assert.ok(event, 'no event after 50 webhooks');
  assert.deepEqual(event.data.contractChanged, whole.data.contract);
});
