// Relay as its persisted-queries guide shows it: relay-compiler persists each operation into a
// manifest (generated/persisted.json, which the facade is started with), and the network layer
// sends {doc_id, variables} instead of the text. relay-runtime's store normalises what comes back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Environment, Network, RecordSource, Store, fetchQuery } from 'relay-runtime';
import ContractTicketsQuery from '../generated/__generated__/ContractTicketsQuery.graphql.js';
import ContractTicketsDeskQuery from '../generated/__generated__/ContractTicketsDeskQuery.graphql.js';
import { demoContracts, endpoint, headers, post } from './env.mjs';

const persisted = JSON.parse(readFileSync(new URL('../generated/persisted.json', import.meta.url)));

// The guide's fetch function: POST {doc_id, variables}.
const newEnvironment = () =>
  new Environment({
    network: Network.create(async (params, variables) => {
      const res = await fetch(endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...headers },
        body: JSON.stringify({ doc_id: params.id, variables }),
      });
      return res.json();
    }),
    store: new Store(new RecordSource()),
  });

for (const [request, variables] of [
  [ContractTicketsQuery, { id: '746839' }],
  [ContractTicketsDeskQuery, { ids: demoContracts.slice(0, 20) }],
]) {
  test(`${request.params.name} by doc_id, as its text`, async () => {
    assert.equal(request.params.text, null, 'relay-compiler left the text in: nothing is persisted');
    const text = persisted[request.params.id];
    assert.ok(text, `${request.params.id} is not in the manifest`);
    const whole = await post(text, variables);
    const data = await fetchQuery(newEnvironment(), request, variables).toPromise();
    assert.deepEqual(JSON.parse(JSON.stringify(data)), whole.data);
  });
}

test('doc_id over GET', async () => {
  const { id } = ContractTicketsQuery.params;
  const variables = { id: '100001' };
  const res = await fetch(`${endpoint}?doc_id=${id}&variables=${encodeURIComponent(JSON.stringify(variables))}`, { headers });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  assert.deepEqual(body.data, (await post(persisted[id], variables)).data);
});
