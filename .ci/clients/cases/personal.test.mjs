// Personal data as the clients see it from a facade whose callers' policy masks it
// (PERSONAL_DATA=mask, FACADE_MASKED_URL, started by .ci/clients/run): Apollo Client's
// normalised cache holds the pseudonyms, and urql reads the refusal of a text filter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { Client, fetchExchange, gql as urqlGql } from '@urql/core';
import { headers, post } from './env.mjs';

const masked = `${process.env.FACADE_MASKED_URL ?? assert.fail('FACADE_MASKED_URL is unset: run .ci/clients/run')}/graphql`;
const pseudonym = /^masked:[0-9a-f]{16}$/;

test('Apollo Client caches masked answers: pseudonyms, postal code and city, no free text', async () => {
  const query = `query Holder($id: ID!) { contract(id: $id) { id email iban deliveryAddress history { tickets { id from subject } } } }`;
  const raw = (await post(query, { id: '746839' })).data.contract;
  const client = new ApolloClient({ link: new HttpLink({ uri: masked, headers }), cache: new InMemoryCache() });
  const { data, error } = await client.query({ query: gql(query), variables: { id: '746839' } });
  assert.equal(error, undefined);
  const c = data.contract;
  assert.match(c.email, pseudonym);
  assert.match(c.iban, pseudonym);
  assert.notEqual(c.email, raw.email);
  assert.ok(raw.deliveryAddress.endsWith(c.deliveryAddress), `${c.deliveryAddress} of ${raw.deliveryAddress}`);
  assert.ok(c.history.tickets.length > 0);
  for (const t of c.history.tickets) {
    assert.match(t.from ?? 'masked:0000000000000000', pseudonym);
    assert.equal(t.subject, null);
  }
  // What the normalised cache holds is what was answered: no raw value.
  const cached = JSON.stringify(client.cache.extract());
  for (const v of [raw.email, raw.iban, ...raw.history.tickets.map((t) => t.from).filter(Boolean)]) {
    assert.ok(!cached.includes(v), `the cache holds ${v}`);
  }
});

test('urql reads PERSONAL_DATA_FORBIDDEN for a text filter under mask, with the field path', async () => {
  const client = new Client({ url: masked, exchanges: [fetchExchange], fetchOptions: { headers }, requestPolicy: 'network-only' });
  const r = await client
    .query(urqlGql`query ByText($f: TicketFilter) { contract(id: "746839") { id history { tickets(filter: $f) { id } } } }`, { f: { text: 'Zähler' } })
    .toPromise();
  assert.equal(r.data, undefined);
  const [e] = r.error.graphQLErrors;
  assert.equal(e.extensions.code, 'PERSONAL_DATA_FORBIDDEN');
  assert.deepEqual(e.extensions.paths, ['contract.history.tickets']);
});
