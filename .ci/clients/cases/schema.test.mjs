// The schema file is what is served, as the tools that generate code from it or compare it see
// it: graphql-codegen (its schema-ast output from the endpoint and from schema.graphqls) and
// graphql-inspector (no change between the two).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { buildClientSchema, buildSchema, getIntrospectionQuery, introspectionFromSchema } from 'graphql';
import { diff } from '@graphql-inspector/core';
import { post } from './env.mjs';

const schemaFile = new URL('../../../schema.graphqls', import.meta.url);

test('graphql-inspector finds no change between schema.graphqls and introspection', async () => {
  const served = await post(getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, inputValueDeprecation: true }));
  assert.equal(served.errors, undefined);
  // The file is read as a client reads the endpoint, through introspection: inspector compares
  // the directives a field's SDL spells out, which introspection has no place for.
  const file = buildClientSchema(introspectionFromSchema(buildSchema(readFileSync(schemaFile, 'utf8'))));
  const changes = await diff(file, buildClientSchema(served.data));
  assert.deepEqual(changes.map((c) => c.message), []);
});

test('graphql-codegen writes the same schema from the endpoint and from the file', () => {
  execFileSync('npx', ['graphql-codegen', '--config', 'codegen.mjs', '--silent'], { cwd: new URL('..', import.meta.url), stdio: 'inherit' });
  const read = (name) => readFileSync(new URL(`../generated/${name}`, import.meta.url), 'utf8');
  const served = read('served.graphql');
  assert.match(served, /directive @defer/);
  assert.equal(served, read('file.graphql'));
});
