// {{name}}: a pier plugin in JavaScript, built with the pier-plugin SDK.
//
// Build: `npm run build` (pier-js build app.js -o {{name}}.wasm); install {{name}}.wasm beside
// {{name}}.toml in pier's plugin folder. `npm test` runs the tools in Node.

import { Plugin } from 'pier-plugin';
import { register } from './tools.js';

export default register(new Plugin());
