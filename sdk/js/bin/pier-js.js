#!/usr/bin/env node
// `pier-js build app.js -o app.wasm`: bundles the plugin module (its `export default` Plugin,
// this SDK and its other imports) into one ES module with esbuild, adds the exports the
// contract names, and makes a component of it with componentize-js against the bundled WIT
// (`full-plugin`: the SDK answers for what a plugin does not use).

import { mkdtemp, rm, writeFile, stat } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const WIT = resolve(here, '..', 'wit');
const FEATURES = ['stdio', 'random', 'clocks', 'http'];

function usage(message) {
  if (message) console.error(`pier-js: ${message}`);
  console.error(`usage: pier-js build APP.js [-o OUT.wasm] [--enable http] [--disable stdio|random|clocks] [--no-seal]
       pier-js wit      (prints the folder of the bundled WIT)`);
  process.exit(2);
}

function parse(argv) {
  const [command, ...rest] = argv;
  if (command === 'wit') return { command };
  if (command !== 'build') usage(command ? `unknown command ${command}` : undefined);
  const opts = { command, app: undefined, out: undefined, enable: new Set(), disable: new Set(), seal: true };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === '-o' || a === '--output') opts.out = rest[++i];
    else if (a === '--no-seal') opts.seal = false;
    else if (a === '--enable' || a === '--disable') {
      const feature = rest[++i];
      if (!FEATURES.includes(feature)) usage(`${a} takes one of ${FEATURES.join(', ')}`);
      opts[a.slice(2)].add(feature);
    } else if (a.startsWith('-')) usage(`unknown option ${a}`);
    else if (opts.app) usage('give one APP.js');
    else opts.app = a;
  }
  if (!opts.app) usage('give the plugin module, e.g. pier-js build app.js');
  return opts;
}

async function build(opts) {
  const app = resolve(opts.app);
  if (!existsSync(app)) usage(`${opts.app}: no such file`);
  const out = resolve(opts.out ?? app.replace(/\.[cm]?js$/, '') + '.wasm');
  const work = await mkdtemp(join(tmpdir(), 'pier-js-'));
  try {
    const entry = join(work, 'entry.js');
    await writeFile(
      entry,
      `// Written by pier-js build: the contract's exports from ${app}'s default Plugin.
import plugin from ${JSON.stringify(app)};
if (!plugin || typeof plugin.exports !== 'function') {
  throw new Error(${JSON.stringify(`${opts.app} must \`export default\` a Plugin from pier-plugin`)});
}
const all = plugin.exports();
export const tools = all.tools;
export const resources = all.resources;
export const prompts = all.prompts;
export const completions = all.completions;
`,
    );
    const bundle = join(work, 'bundle.js');
    const esbuild = await import('esbuild');
    await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      mainFields: ['module', 'main'],
      // The WIT imports are the component's; componentize-js links them.
      external: ['pier:*', 'wasi:*'],
      outfile: bundle,
      logLevel: 'warning',
      // The plugin is built against the SDK that builds it; its own dependencies resolve
      // from its folder's node_modules as usual.
      alias: { 'pier-plugin': resolve(here, '..', 'src', 'index.js'), 'pier-plugin/core': resolve(here, '..', 'src', 'core.js') },
    });
    // http is off unless asked for: fetch() would import wasi:http, which pier refuses to
    // route without an [grants].http origin anyway, and `pier inspect` would flag it.
    const disabled = FEATURES.filter((f) => (f === 'http' ? !opts.enable.has(f) : opts.disable.has(f)));
    const { componentize } = await import('@bytecodealliance/componentize-js');
    console.error(`+ componentize ${bundle} (world full-plugin, disabled: ${disabled.join(', ') || 'none'})`);
    const { component } = await componentize({
      sourcePath: bundle,
      witPath: WIT,
      worldName: 'full-plugin',
      disableFeatures: [...disabled, 'fetch-event'],
    });
    await writeFile(out, component);
    const size = (await stat(out)).size;
    console.error(`wrote ${out} (${(size / 1e6).toFixed(1)} MB)`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  if (opts.seal) seal(out);
}

// Writes the component's listing into it with `pier seal` ($PIER_BIN, else `pier` on the PATH),
// so pier lists its tools at once on a first start instead of after its compile. The lists are
// fixed when the component is built (the module ran at build time), so the listing stays true;
// pier checks it against the code anyway.
function seal(out) {
  const pier = process.env.PIER_BIN || 'pier';
  const done = spawnSync(pier, ['seal', out], { stdio: 'inherit' });
  if (done.error?.code === 'ENOENT') {
    console.error(`tip: \`pier seal ${out}\` lets pier list its tools before compiling it (seconds sooner on a first start)`);
  } else if (done.status !== 0) {
    throw new Error(`\`${pier} seal ${out}\` failed (the component is built; --no-seal skips this)`);
  }
}

const opts = parse(process.argv.slice(2));
if (opts.command === 'wit') console.log(WIT);
else
  build(opts).catch((e) => {
    console.error(`pier-js: ${e?.message ?? e}`);
    process.exit(1);
  });
