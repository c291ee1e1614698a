// pier-plugin: write pier plugins in JavaScript. `pier-js build app.js -o app.wasm` bundles the
// module (which must `export default` its Plugin) with this SDK and makes a component of it.
//
// This module imports pier's host functions (`pier:mcp/host@0.1.0`), so it loads only inside a
// component; `pier-plugin/core` is the same registry without them, for tests in Node.

import * as pier from 'pier:mcp/host@0.1.0';
import { Plugin as CorePlugin } from './core.js';

export {
  InvalidParams,
  NotFound,
  Result,
  assistant,
  audio,
  error,
  image,
  link,
  resource,
  structured,
  text,
  user,
} from './core.js';

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error']);

/** pier's host functions: its log, progress, and the manifest's `[config]`. */
export const host = {
  /** Writes to pier's log, tagged with the plugin. `level`: trace, debug, info, warn, error. */
  log(level, message) {
    pier.log(LEVELS.has(level) ? level : 'info', String(message));
  },
  /** Reports progress of the call `requestId` (`ctx.progress` knows its id). */
  progress(requestId, progress, total, message) {
    pier.progress(requestId, Number(progress), total === undefined ? undefined : Number(total), message);
  },
  /** One `[config]` value (non-string TOML values arrive as JSON text), or `fallback`. */
  config(key, fallback = undefined) {
    return pier.configGet(key) ?? fallback;
  },
  /** Every `[config]` key with its value. */
  configAll() {
    return Object.fromEntries(pier.configList());
  },
  /** The name pier loaded this plugin under (its tool prefix). */
  pluginName() {
    return pier.pluginName();
  },
  /** The plugin's manifest path, to quote when a grant is missing. */
  manifestPath() {
    return pier.manifestPath();
  },
};

/** A pier plugin whose handlers reach pier's host functions. */
export class Plugin extends CorePlugin {
  constructor() {
    super();
    this.host = host;
  }
}
