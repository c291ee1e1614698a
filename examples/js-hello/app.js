// jshello: a pier plugin in JavaScript, built with the pier-plugin SDK.
//
// Two tools (one with structured output), a long-running tool that reports progress, a prompt
// whose argument the client can complete, a resource and a resource template.
// Build: `pier-js build app.js -o jshello.wasm`; install jshello.wasm and jshello.toml together.

import { Plugin, host, InvalidParams } from 'pier-plugin';

const plugin = new Plugin();

function greeting(name, excited = false) {
  return `${host.config('greeting', 'Hello')}, ${name}${excited ? '!' : '.'}`;
}

plugin.tool(
  {
    name: 'greet',
    title: 'Greet',
    description: "Greets someone by name, with the greeting from the manifest's [config].",
    input: {
      name: { type: 'string', description: 'who to greet' },
      excited: { type: 'boolean', default: false },
    },
    readOnly: true,
  },
  ({ name, excited }) => greeting(name, excited),
);

plugin.tool(
  {
    name: 'stats',
    description: 'Summary statistics of a list of numbers.',
    input: { numbers: { type: 'array', items: { type: 'number' }, description: 'the sample; at least one number' } },
    outputSchema: {
      type: 'object',
      properties: {
        count: { type: 'integer' },
        mean: { type: 'number' },
        minimum: { type: 'number' },
        maximum: { type: 'number' },
      },
      required: ['count', 'mean', 'minimum', 'maximum'],
    },
    readOnly: true,
  },
  ({ numbers }) => {
    // An empty list throws: the SDK answers with a tool error the model can read and writes
    // the stack to pier's log.
    if (numbers.length === 0) throw new RangeError('the mean of no numbers is undefined');
    const sum = numbers.reduce((a, b) => a + b, 0);
    return { count: numbers.length, mean: sum / numbers.length, minimum: Math.min(...numbers), maximum: Math.max(...numbers) };
  },
);

plugin.tool(
  {
    name: 'count',
    description:
      "Counts from 1 to `to` on the CPU, reporting progress ten times. A large `to` runs into the manifest's [limits] timeout, which stops the call; the plugin answers the next one.",
    input: { to: { type: 'integer', minimum: 1 } },
    readOnly: true,
  },
  ({ to }, ctx) => {
    const step = Math.max(Math.floor(to / 10), 1);
    const started = Date.now();
    for (let i = 1; i <= to; i++) {
      if (i % step === 0) ctx.progress(i, to, `counted to ${i}`);
    }
    return `counted to ${to} in ${((Date.now() - started) / 1000).toFixed(3)} s`;
  },
);

plugin.prompt(
  {
    name: 'review',
    title: 'Review code',
    description: 'Asks the model to review a piece of code.',
    arguments: [
      { name: 'code', description: 'the code to review', required: true },
      { name: 'language', description: 'its language (the client can complete it)', choices: ['javascript', 'python', 'rust'] },
    ],
  },
  ({ code, language = 'javascript' }) => `Review this ${language} code for bugs and unclear names:\n\n\`\`\`${language}\n${code}\n\`\`\``,
);

plugin.resource(
  { uri: 'hello://readme', name: 'readme', description: 'What this plugin is.', mimeType: 'text/markdown' },
  () => '# jshello\n\nA pier plugin written in JavaScript with the pier-plugin SDK.\n',
);

plugin.resourceTemplate(
  { uriTemplate: 'hello://greeting/{name}', name: 'greeting', description: 'A greeting for `name`, as a resource.', mimeType: 'text/plain' },
  ({ name }) => {
    if (!name.trim()) throw new InvalidParams('the name is empty');
    return greeting(name);
  },
);

export default plugin;
