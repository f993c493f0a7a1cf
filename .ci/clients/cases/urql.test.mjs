// urql's core client as its docs show it: fetchExchange, which asks for multipart/mixed with
// every query and merges @defer's parts itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, fetchExchange, gql } from '@urql/core';
import { deferred, endpoint, headers, post, withoutDefer, withoutTypename } from './env.mjs';

const newClient = () => new Client({ url: endpoint, exchanges: [fetchExchange], fetchOptions: { headers }, requestPolicy: 'network-only' });

for (const q of deferred) {
  test(`@defer: ${q.name}, as without @defer`, { timeout: 30_000 }, async () => {
    const whole = await post(withoutDefer(q.query), q.variables);
    for (let round = 0; round < 2; round++) {
      const results = [];
      const source = newClient().query(gql(q.query), q.variables);
      const sub = source.subscribe((r) => results.push(r));
      const last = await source.toPromise();
      sub.unsubscribe();
      assert.ok(results.some((r) => r.hasNext), `round ${round}: no part before the last`);
      assert.deepEqual(withoutTypename(last.data), whole.data, `round ${round}`);
      assert.equal(last.error?.graphQLErrors.length ?? 0, whole.errors?.length ?? 0);
    }
  });
}

test('a query without @defer is answered whole, also from the response cache', async () => {
  const query = `query List($id: ID!) { contract(id: $id) { id history { tickets { id status subject } } } }`;
  const whole = await post(query, { id: '746839' });
  for (let round = 0; round < 2; round++) {
    const r = await newClient().query(gql(query), { id: '746839' }).toPromise();
    assert.equal(r.error, undefined);
    assert.deepEqual(withoutTypename(r.data), whole.data);
  }
});
