// graphql-ws's client as its docs show it for Node (webSocketImpl from ws), over a WebSocket on
// /graphql: the caller's token in connectionParams, a query, and a subscription that hears
// Enneo's webhook.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { base, headers, post } from './env.mjs';

const client = createClient({
  url: base.replace(/^http/, 'ws') + '/graphql',
  webSocketImpl: WebSocket,
  connectionParams: headers,
  retryAttempts: 0,
});

test('a query over graphql-ws', async () => {
  const query = `query Tickets($id: ID!) { contract(id: $id) { id productName history { tickets { id status subject } } } }`;
  const whole = await post(query, { id: '746839' });
  const results = [];
  for await (const r of client.iterate({ query, variables: { id: '746839' } })) results.push(r);
  assert.equal(results.length, 1);
  assert.deepEqual(results[0].data, whole.data);
});

test("a subscription over graphql-ws gets the contract when Enneo's webhook says it changed", { timeout: 30_000 }, async () => {
  const query = `subscription DeskUpdates { contractChanged(ids: ["100001", "746839"]) { id history { tickets { id status } } } }`;
  const whole = await post(`{ contract(id: "746839") { id history { tickets { id status } } } }`);
  const got = new Promise((resolve, reject) => {
    const unsubscribe = client.subscribe({ query }, {
      next: (r) => { unsubscribe(); resolve(r); },
      error: reject,
      complete: () => {},
    });
  });
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
  await client.dispose();
});
