// {{name}}'s tools, registered on a Plugin: the component's (app.js) inside pier, or the
// registry of `pier-plugin/core` in Node for the tests. Handlers are synchronous.

import { InvalidParams, structured } from 'pier-plugin/core';

export function register(plugin) {
  plugin.tool(
    {
      name: 'greet',
      description: "Greets someone by name, with the greeting from the manifest's [config].",
      input: { name: { type: 'string', description: 'who to greet' } },
      readOnly: true,
    },
    ({ name }) => `${plugin.host.config('greeting', 'Hello')}, ${name}!`,
  );

  plugin.tool(
    {
      name: 'sum',
      description: 'Adds up a list of numbers.',
      input: { numbers: { type: 'array', items: { type: 'number' }, description: 'at least one number' } },
      outputSchema: {
        type: 'object',
        properties: { count: { type: 'integer' }, total: { type: 'number' } },
        required: ['count', 'total'],
      },
      readOnly: true,
    },
    ({ numbers }) => {
      // The client is told its arguments were wrong, and why.
      if (numbers.length === 0) throw new InvalidParams('give at least one number');
      const total = numbers.reduce((a, b) => a + b, 0);
      return structured({ count: numbers.length, total }, String(total));
    },
  );
  return plugin;
}
