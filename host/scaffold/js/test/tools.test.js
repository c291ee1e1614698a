// The tools of tools.js in Node (`npm test`), through the same wire shape pier calls.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Plugin } from 'pier-plugin/core';
import { register } from '../tools.js';

function wire() {
  const plugin = new Plugin();
  // pier's host functions exist only inside a component; stand in for them here.
  plugin.host = { config: (key, fallback) => (key === 'greeting' ? 'Hi' : fallback), log: () => {}, progress: () => {} };
  return register(plugin).exports().tools;
}

const cx = { requestId: '1', session: undefined, identity: undefined, meta: [] };

test('greet uses the configured greeting', () => {
  assert.deepEqual(wire().callTool(cx, 'greet', '{"name": "Ada"}').content, [{ tag: 'text', val: 'Hi, Ada!' }]);
});

test('sum answers with structured output', () => {
  const answer = wire().callTool(cx, 'sum', '{"numbers": [1.5, 2.5]}');
  assert.equal(answer.isError, false);
  assert.deepEqual(JSON.parse(answer.structured), { count: 2, total: 4 });
});

test('bad arguments are refused', () => {
  for (const args of ['{"numbers": []}', '{"numbers": "12"}']) {
    assert.throws(() => wire().callTool(cx, 'sum', args), (e) => e.tag === 'invalid-params');
  }
});
