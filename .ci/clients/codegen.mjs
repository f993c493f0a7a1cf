// graphql-codegen's configuration for cases/schema.test.mjs: the schema as codegen reads it from
// the running facade and from schema.graphqls, printed by its schema-ast plugin.
const url = `${process.env.FACADE_URL}/graphql`;
export default {
  overwrite: true,
  generates: {
    'generated/served.graphql': { schema: { [url]: { headers: { Authorization: 'Bearer demo-token' } } }, plugins: ['schema-ast'] },
    'generated/file.graphql': { schema: '../../schema.graphqls', plugins: ['schema-ast'] },
  },
};
