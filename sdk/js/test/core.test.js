// The SDK's registry in Node (`node --test`): argument checking, answers, refusals, exports.
// The component side (the same code inside pier, through a real MCP client) is tested by
// tests/python/test_sdk_examples.py with examples/js-hello.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { InvalidParams, NotFound, Plugin, error, structured, text, user, assistant } from '../src/core.js';
import { problem } from '../src/schema.js';

function make() {
  const plugin = new Plugin();
  const logged = [];
  plugin.host = { log: (level, message) => logged.push([level, message]), progress: () => {} };
  plugin.tool(
    {
      name: 'add',
      description: 'Adds two integers.',
      input: { a: { type: 'integer', description: 'the first' }, b: { type: 'integer', default: 2 } },
      readOnly: true,
    },
    ({ a, b }) => String(a + b),
  );
  plugin.tool({ name: 'where', description: 'Echoes a point.', input: { p: { type: 'object', properties: { x: { type: 'number' } }, required: ['x'], additionalProperties: false } } }, ({ p }) => p);
  plugin.tool({ name: 'boom', description: 'Throws.', destructive: false }, () => {
    throw new RangeError('out of range');
  });
  plugin.tool({ name: 'many', description: 'Two blocks.' }, () => structured({ n: 1 }, 'one').add(text('and more')));
  plugin.tool({ name: 'refuse', description: 'Refuses.', input: { n: { type: 'integer' } } }, ({ n }) => {
    if (n < 0) throw new InvalidParams('n must not be negative');
    return error(`${n} is not allowed`);
  });
  plugin.tool({ name: 'later', description: 'Async by mistake.' }, async () => 'x');
  plugin.prompt(
    { name: 'ask', description: 'Asks.', arguments: [{ name: 'topic', required: true }, { name: 'tone', choices: ['kind', 'blunt'] }] },
    ({ topic, tone = 'kind' }) => [user(`Tell me about ${topic}, ${tone}ly.`), assistant('Gladly.')],
  );
  plugin.resource({ uri: 'demo://readme', mimeType: 'text/markdown' }, () => '# demo');
  plugin.resourceTemplate({ uriTemplate: 'demo://items/{item}' }, ({ item }) => new TextEncoder().encode(item));
  plugin.completion({ template: 'demo://items/{item}', argument: 'item' }, (value) => ['apple', 'avocado', 'banana'].filter((i) => i.startsWith(value)));
  return { plugin, logged, wire: plugin.exports() };
}

const cx = { requestId: '7', session: undefined, identity: undefined, meta: [['pier.time-limit-ms', '5000']] };

function refusal(run) {
  try {
    run();
  } catch (e) {
    return e;
  }
  assert.fail('expected a refusal');
}

test('tools list with schemas and annotations in the contract shape', () => {
  const { wire } = make();
  const tools = Object.fromEntries(wire.tools.listTools().map((t) => [t.name, t]));
  assert.deepEqual(JSON.parse(tools.add.inputSchema), {
    type: 'object',
    properties: { a: { type: 'integer', description: 'the first' }, b: { type: 'integer', default: 2 } },
    additionalProperties: false,
    required: ['a'],
  });
  assert.deepEqual(tools.add.annotations, { readOnly: true, destructive: false, idempotent: true, openWorld: false });
  assert.equal(tools.boom.annotations.destructive, false);
  assert.equal(tools.many.annotations.destructive, true);
  assert.equal(tools.add.outputSchema, undefined);
});

test('calls check arguments, fill defaults and convert answers', () => {
  const { wire } = make();
  assert.deepEqual(wire.tools.callTool(cx, 'add', '{"a": 1}'), { content: [{ tag: 'text', val: '3' }], structured: undefined, isError: false });
  const where = wire.tools.callTool(cx, 'where', '{"p": {"x": 1.5}}');
  assert.equal(where.structured, '{"x":1.5}');
  assert.deepEqual(JSON.parse(where.content[0].val), { x: 1.5 });
  const many = wire.tools.callTool(cx, 'many', '{}');
  assert.deepEqual(many.content.map((b) => b.val), ['one', 'and more']);
  const refused = wire.tools.callTool(cx, 'refuse', '{"n": 3}');
  assert.equal(refused.isError, true);
  assert.equal(refused.content[0].val, '3 is not allowed');
  for (const [args, message] of [
    ['{"b": 1}', "missing required argument 'a' (tool 'add')"],
    ['{"a": 1, "c": 2}', "unknown argument 'c'; tool 'add' takes: a, b"],
    ['{"a": "1"}', "argument 'a' must be an integer, not the string '1'"],
    ['{"a": 1.5}', "argument 'a' must be an integer, not the number 1.5"],
    ['[1]', 'the arguments must be a JSON object, not an array'],
  ]) {
    assert.deepEqual(refusal(() => wire.tools.callTool(cx, 'add', args)), { tag: 'invalid-params', val: message });
  }
  assert.deepEqual(refusal(() => wire.tools.callTool(cx, 'where', '{"p": {"x": 1, "y": 2}}')), {
    tag: 'invalid-params',
    val: "argument 'p' has no field 'y' (it has: x)",
  });
  assert.deepEqual(refusal(() => wire.tools.callTool(cx, 'refuse', '{"n": -1}')), { tag: 'invalid-params', val: 'n must not be negative' });
  assert.equal(refusal(() => wire.tools.callTool(cx, 'nope', '{}')).tag, 'not-found');
});

test('a throw is a tool error and its stack goes to the log', () => {
  const { wire, logged } = make();
  const answer = wire.tools.callTool(cx, 'boom', '{}');
  assert.equal(answer.isError, true);
  assert.equal(answer.content[0].val, "boom failed: RangeError: out of range (the stack is in pier's log)");
  assert.equal(logged[0][0], 'error');
  assert.match(logged[0][1], /^tool 'boom' threw:\nRangeError: out of range\n.*core\.test\.js/s);
  const later = wire.tools.callTool(cx, 'later', '{}');
  assert.equal(later.isError, true);
  assert.match(later.content[0].val, /returned a Promise; handlers must be synchronous/);
});

test('prompts, resources and completions', () => {
  const { wire } = make();
  assert.deepEqual(wire.prompts.listPrompts()[0].arguments.map((a) => [a.name, a.required]), [['topic', true], ['tone', false]]);
  const filled = wire.prompts.getPrompt(cx, 'ask', [['topic', 'owls'], ['tone', 'blunt']]);
  assert.deepEqual(filled.messages.map((m) => [m.role, m.content.val]), [['user', 'Tell me about owls, bluntly.'], ['assistant', 'Gladly.']]);
  assert.deepEqual(refusal(() => wire.prompts.getPrompt(cx, 'ask', [['topic', 'owls'], ['tone', 'rude']])), {
    tag: 'invalid-params',
    val: "argument 'tone' must be one of 'kind', 'blunt', not the string 'rude'",
  });
  const [readme] = wire.resources.readResource(cx, 'demo://readme');
  assert.deepEqual(readme, { uri: 'demo://readme', mimeType: 'text/markdown', body: { tag: 'text', val: '# demo' } });
  const [blob] = wire.resources.readResource(cx, 'demo://items/pear%20s');
  assert.equal(blob.body.tag, 'blob');
  assert.equal(new TextDecoder().decode(blob.body.val), 'pear s');
  assert.equal(refusal(() => wire.resources.readResource(cx, 'demo://other')).tag, 'not-found');
  assert.deepEqual(wire.resources.listTemplates().map((t) => t.uriTemplate), ['demo://items/{item}']);
  assert.deepEqual(wire.completions.complete(cx, { tag: 'prompt', val: 'ask' }, 'tone', 'b', []), ['blunt']);
  assert.deepEqual(wire.completions.complete(cx, { tag: 'resource-template', val: 'demo://items/{item}' }, 'item', 'a', []), ['apple', 'avocado']);
});

test('schema problems name the place', () => {
  assert.equal(problem([1, 'x'], { type: 'array', items: { type: 'integer' } }, "argument 'n'"), "argument 'n'[1] must be an integer, not the string 'x'");
  assert.equal(problem('green', { enum: ['red', 'blue'] }, 'c'), "c must be one of 'red', 'blue', not the string 'green'");
  assert.equal(problem(null, { type: ['string', 'null'] }, 'x'), null);
  assert.equal(problem(5, { type: 'integer', maximum: 3 }, 'x'), 'x must be at most 3, not 5');
});

test('mistakes are caught when registering', () => {
  const plugin = new Plugin();
  assert.throws(() => plugin.tool({ name: 'has space', description: 'x' }, () => ''), /must match/);
  assert.throws(() => plugin.tool({ name: 'x' }, () => ''), /give a description/);
  plugin.tool({ name: 'x', description: 'x' }, () => '');
  assert.throws(() => plugin.tool({ name: 'x', description: 'x' }, () => ''), /registered twice/);
});
