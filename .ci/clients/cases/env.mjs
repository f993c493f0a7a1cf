// What every client test needs: the facade under test (FACADE_URL, started by .ci/clients/run),
// a plain POST to compare the clients' results with, and the demo token.
import assert from 'node:assert/strict';

export const base = process.env.FACADE_URL ?? assert.fail('FACADE_URL is unset: run .ci/clients/run');
export const endpoint = `${base}/graphql`;
export const token = 'demo-token';
export const headers = { Authorization: `Bearer ${token}` };

// post sends a query the plainest way (fetch, JSON) and returns the parsed answer.
export async function post(query, variables, extra = {}) {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...headers, ...extra },
    body: JSON.stringify({ query, variables }),
  });
  assert.equal(res.status, 200, `POST ${query}: ${res.status}`);
  return res.json();
}

// The demo's contracts 100001..100100, as docs/bi.md's BI example names them.
export const demoContracts = Array.from({ length: 100 }, (_, i) => String(100001 + i));

// withoutTypename drops the __typename fields clients add to every selection.
export function withoutTypename(v) {
  if (Array.isArray(v)) return v.map(withoutTypename);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).filter(([k]) => k !== '__typename').map(([k, x]) => [k, withoutTypename(x)]));
  }
  return v;
}

// deferred are operations with @defer the clients run, and compare with the same operation
// without it (withoutDefer).
export const deferred = [
  {
    name: "the issue's query",
    query: `query DeferredHistory { contract(id: "100022") { id productName ... @defer { history { tickets { id subject status } } } } }`,
  },
  {
    name: 'nested, in a list, with a contract that fails',
    query: `query DeferredDesk($ids: [ID!]!) {
      contracts(ids: $ids) {
        id
        ... @defer(label: "history") { history { tickets { id subject intents { code ... @defer(label: "tags") { tags } } } } }
      }
    }`,
    variables: { ids: ['100001', '746839', 'C-1001'] },
  },
];

export const withoutDefer = (query) => query.replace(/ @defer(\(label: "\w+"\))?/g, '');
