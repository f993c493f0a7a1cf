// Apollo Client 4 as its docs show it: HttpLink, InMemoryCache, an incrementalHandler for
// @defer in each of the two forms it speaks (Defer20220824Handler, GraphQL17Alpha9Handler),
// automatic persisted queries (createPersistedQueryLink), and subscriptions over graphql-ws
// (GraphQLWsLink) and graphql-sse (the link its docs write for it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, Observable, gql } from '@apollo/client';
import { Defer20220824Handler, GraphQL17Alpha9Handler } from '@apollo/client/incremental';
import { createPersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { print } from 'graphql';
import { createClient as createWsClient } from 'graphql-ws';
import { createClient as createSseClient } from 'graphql-sse';
import WebSocket from 'ws';
import { base, deferred, demoContracts, endpoint, headers, post, withoutTypename, withoutDefer } from './env.mjs';

const newClient = (incrementalHandler) =>
  new ApolloClient({ link: new HttpLink({ uri: endpoint, headers }), cache: new InMemoryCache(), incrementalHandler });


// watch runs query and collects what the client emits until its result is complete.
function watch(client, query, variables) {
  const results = [];
  return new Promise((resolve, reject) => {
    const sub = client.watchQuery({ query: gql(query), variables, fetchPolicy: 'network-only' }).subscribe({
      next(r) {
        results.push(r);
        if (r.dataState === 'complete' || r.error) {
          sub.unsubscribe();
          r.error ? reject(r.error) : resolve(results);
        }
      },
      error: reject,
    });
  });
}

for (const [form, Handler] of [['deferSpec=20220824', Defer20220824Handler], ['incrementalSpec=v0.2', GraphQL17Alpha9Handler]]) {
  for (const q of deferred) {
    test(`@defer over multipart/mixed;${form}: ${q.name}, as without @defer`, { timeout: 30_000 }, async () => {
      const whole = await post(withoutDefer(q.query), q.variables);
      for (let round = 0; round < 2; round++) {
        const client = newClient(new Handler());
        const results = await watch(client, q.query, q.variables);
        const last = results.at(-1);
        assert.ok(results.some((r) => r.dataState === 'streaming'), `round ${round}: no streamed result: ${JSON.stringify(results.map((r) => r.dataState))}`);
        assert.deepEqual(withoutTypename(last.data), whole.data, `round ${round}`);
      }
    });
  }
}

// Contract:<id> is one record in the cache whichever query reached it: a contract's own fields
// (productName, status) agree between contracts(ids) and another contract's customer.contracts,
// also for a contract without tickets (its own record, issue 20).
test('a normalised cache shows every ticket and contract as its own has it (ids are unique)', { timeout: 60_000 }, async () => {
  const query = `query Desk($ids: [ID!]!) {
    contracts(ids: $ids) {
      id productName status
      history { tickets { id subject status agent { id firstName lastName } tags { id name } intents { code outcome { sources { id name } } } customer { id firstname lastname contracts { id productName status } } } }
    }
  }`;
  // Ten queries into one cache, read back after the last: an id that stood for two objects
  // would show the later one in both places. (Each query within MAX_COST.)
  const client = newClient();
  const ids = [...demoContracts, '746839', 'C-1001'];
  const chunks = [];
  for (let i = 0; i < ids.length; i += 10) chunks.push(ids.slice(i, i + 10));
  const wholes = [];
  for (const chunk of chunks) {
    const whole = await post(query, { ids: chunk });
    assert.equal(whole.errors, undefined, JSON.stringify(whole.errors));
    wholes.push(whole.data);
    await client.query({ query: gql(query), variables: { ids: chunk } });
  }
  chunks.forEach((chunk, i) => {
    const cached = client.readQuery({ query: gql(query), variables: { ids: chunk } });
    assert.deepEqual(withoutTypename(cached), wholes[i], `contracts ${chunk.join(', ')}`);
  });
});

test('automatic persisted queries: the hash alone once the facade knows it', async () => {
  const sha256 = (q) => createHash('sha256').update(q).digest('hex');
  const bodies = [];
  const newAPQClient = () => new ApolloClient({
    link: createPersistedQueryLink({ sha256 }).concat(new HttpLink({
      uri: endpoint,
      headers,
      fetch: (uri, options) => { bodies.push(JSON.parse(options.body)); return fetch(uri, options); },
    })),
    cache: new InMemoryCache(),
  });
  const query = gql`query APQTickets { contract(id: "100007") { id history { tickets { id status createdAt } } } }`;
  const whole = await post(print(query));
  const first = await newAPQClient().query({ query, fetchPolicy: 'network-only' });
  assert.deepEqual(withoutTypename(first.data), whole.data);
  assert.deepEqual(bodies.map((b) => 'query' in b), [false, true], 'the hash, then the text with it');
  bodies.length = 0;
  const second = await newAPQClient().query({ query, fetchPolicy: 'network-only' });
  assert.deepEqual(withoutTypename(second.data), whole.data);
  assert.deepEqual(bodies.map((b) => 'query' in b), [false], 'the hash alone');
});

// SSELink is the link Apollo's docs write for graphql-sse.
class SSELink extends ApolloLink {
  constructor(options) { super(); this.client = createSseClient(options); }
  request(operation) {
    return new Observable((sink) => this.client.subscribe({ ...operation, query: print(operation.query) }, {
      next: sink.next.bind(sink), complete: sink.complete.bind(sink), error: sink.error.bind(sink),
    }));
  }
}

const subscriptionLinks = {
  'graphql-ws (GraphQLWsLink)': () => new GraphQLWsLink(createWsClient({
    url: base.replace(/^http/, 'ws') + '/graphql', webSocketImpl: WebSocket, connectionParams: headers, retryAttempts: 0,
  })),
  'graphql-sse (SSELink)': () => new SSELink({ url: endpoint, headers, retryAttempts: 0 }),
};

for (const [name, newLink] of Object.entries(subscriptionLinks)) {
  test(`a subscription over ${name} hears Enneo's webhook`, { timeout: 30_000 }, async () => {
    const link = newLink();
    const client = new ApolloClient({ link, cache: new InMemoryCache() });
    const query = gql`subscription DeskUpdates { contractChanged(ids: ["100001", "746839"]) { id history { tickets { id status } } } }`;
    const whole = await post(`{ contract(id: "746839") { id history { tickets { id status } } } }`);
    let sub;
    const got = new Promise((resolve, reject) => {
      sub = client.subscribe({ query }).subscribe({ next: resolve, error: reject });
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
    sub.unsubscribe();
    assert.ok(event, 'no event after 50 webhooks');
    assert.deepEqual(withoutTypename(event.data.contractChanged), whole.data.contract);
    if (link.client?.dispose) link.client.dispose();
  });
}
