// Hive Gateway configuration of the load benchmark. The composed subgraph has
// Query.contractHistory(id) (one upstream GET); the type definitions and resolvers below give it
// the facade's shape, contract(id) { history { tickets { ... } } }, so that the same query texts
// run unchanged: history delegates to contractHistory with the caller's selection.
//
// HIVE_RESPONSE_CACHE=1 turns on the response cache, keyed per Authorization header (the
// facade's cache is per credential too), with an LRU large enough for the whole working set:
// each cached response also stores two entries per entity it holds, so the default 1,000
// entries would evict the q3 answers and make the cache miss.
import { defineConfig } from '@graphql-hive/gateway';
import InMemoryLRUCache from '@graphql-mesh/cache-inmemory-lru';

const responseCache = process.env.HIVE_RESPONSE_CACHE === '1';

export const gatewayConfig = defineConfig({
  supergraph: './supergraph.graphql',
  logging: 'error',
  additionalTypeDefs: /* GraphQL */ `
    type Contract {
      id: ID!
      history: ContractHistory
    }
    extend type Query {
      contract(id: ID!): Contract
    }
  `,
  additionalResolvers: {
    Query: {
      contract: (_root: unknown, args: { id: string }) => ({ id: args.id }),
    },
    Contract: {
      history: (root: { id: string }, _args: unknown, context: any, info: any) =>
        context.Enneo.Query.contractHistory({ root, args: { id: root.id }, context, info }),
    },
  },
  cache: new InMemoryLRUCache({ max: 1_000_000 }),
  responseCaching: responseCache
    ? {
        ttl: 600_000,
        session: (request: Request) => request.headers.get('authorization'),
      }
    : undefined,
});
