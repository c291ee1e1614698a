// The plugin registry and its dispatch, in plain JavaScript: no WIT imports here, so Node runs
// and tests it. `index.js` connects it to pier's host functions inside the component, and
// `exports()` turns it into the four interfaces of the contract (tools, resources, prompts,
// completions) in the shapes componentize-js expects: camelCase records, `{tag, val}`
// variants, optional values as `undefined`, and errors thrown as the contract's `error` variant.

import { checkArguments, jsonKind, quote } from './schema.js';

const NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** Refusals: the request is not run. Anything else a handler throws is a failure while running. */
export class PierError extends Error {}
/** No such tool, prompt or resource. */
export class NotFound extends PierError {}
/** The arguments do not fit the schema; the message names the argument and why. */
export class InvalidParams extends PierError {}

/** A tool's answer: content blocks, optional structured JSON, whether it failed. */
export class Result {
  constructor(content = [], structured = undefined, isError = false) {
    this.content = content;
    this.structured = structured;
    this.isError = isError;
  }

  /** Appends a block or the blocks of another result; returns this. */
  add(block) {
    if (block instanceof Result) this.content.push(...block.content);
    else this.content.push(block);
    return this;
  }
}

export const text = (value) => new Result([{ tag: 'text', val: String(value) }]);

/** Structured content (a JSON object) with a text block: `summary`, or the JSON itself. */
export function structured(value, summary) {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError('structured content must be a JSON object');
  }
  return new Result([{ tag: 'text', val: summary ?? JSON.stringify(value) }], value);
}

const media = (tag) => (data, mimeType) => new Result([{ tag, val: { data: toBytes(data), mimeType } }]);
/** An image block (pier base64-encodes it). */
export const image = media('image');
export const audio = media('audio');

/** A resource embedded in full: text for a string, a blob for bytes. */
export const resource = (uri, body, mimeType) =>
  new Result([{ tag: 'embedded', val: contents(uri, mimeType, body) }]);

/** A link the client may read later (title, description, mimeType, size). */
export const link = (uri, name, details = {}) => new Result([{ tag: 'link', val: info(uri, name, details) }]);

/** A failure the model should read and may correct. */
export const error = (message) => new Result([{ tag: 'text', val: String(message) }], undefined, true);

/** A prompt message spoken by the user / the assistant. */
export const user = (content) => ({ role: 'user', content: block(content) });
export const assistant = (content) => ({ role: 'assistant', content: block(content) });

function block(content) {
  if (typeof content === 'string') return { tag: 'text', val: content };
  if (content instanceof Result) return content.content[0];
  return content;
}

function toBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (typeof data === 'string') return new TextEncoder().encode(data);
  return new Uint8Array(data);
}

function contents(uri, mimeType, body) {
  const isText = typeof body === 'string';
  return {
    uri,
    mimeType: mimeType ?? (isText ? 'text/plain' : undefined),
    body: isText ? { tag: 'text', val: body } : { tag: 'blob', val: toBytes(body) },
  };
}

function info(uri, name, d) {
  return {
    uri,
    name,
    title: d.title,
    description: d.description,
    mimeType: d.mimeType,
    // u64 in the contract: a BigInt for componentize-js.
    size: d.size === undefined ? undefined : BigInt(d.size),
  };
}

/** A handler's return value as a Result. */
export function asResult(value) {
  if (value instanceof Result) return value;
  if (value === undefined || value === null) return text('done');
  if (typeof value === 'string') return text(value);
  if (typeof value === 'object' && !Array.isArray(value)) return structured(value);
  return text(JSON.stringify(value));
}

function asMessages(value) {
  const list = Array.isArray(value) ? value : [value];
  return list.map((m) => {
    if (typeof m === 'string') return user(m);
    if (m && (m.role === 'user' || m.role === 'assistant')) return { role: m.role, content: block(m.content) };
    throw new TypeError(`a prompt returns a string, a message or a list of them, not ${jsonKind(m)}`);
  });
}

/** A regex for an RFC 6570 level-1 template: each `{var}` matches one path segment. */
function templatePattern(template) {
  const names = [];
  const source = template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}|[.*+?^${}()|[\]\\/]/g, (m, name) => {
    if (name) {
      names.push(name);
      return '([^/?#]+)';
    }
    return `\\${m}`;
  });
  return { regex: new RegExp(`^${source}$`), names };
}

/** The `input` shorthand (a map of properties) as an object schema. */
function schemaFromInput(input) {
  const properties = {};
  const required = [];
  for (const [name, spec] of Object.entries(input)) {
    const { optional, ...schema } = spec;
    properties[name] = schema;
    if (!optional && schema.default === undefined) required.push(name);
  }
  const schema = { type: 'object', properties, additionalProperties: false };
  if (required.length) schema.required = required;
  return schema;
}

function parseArguments(text) {
  let value;
  try {
    value = text.trim() ? JSON.parse(text) : {};
  } catch (e) {
    throw new InvalidParams(`the arguments are not JSON: ${e.message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidParams(`the arguments must be a JSON object, not ${jsonKind(value)}`);
  }
  return value;
}

/**
 * A handler's value; a Promise is refused: the contract's functions are synchronous in
 * componentize-js, which cannot wait for one.
 */
function settled(value, what) {
  if (value && typeof value.then === 'function') {
    throw new TypeError(`${what} returned a Promise; handlers must be synchronous (componentize-js exports cannot wait)`);
  }
  return value;
}

const describe = (e) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

/**
 * A pier plugin: make one, register handlers, and `export default plugin` from the module
 * `pier-js build` builds.
 */
export class Plugin {
  constructor() {
    this.tools = new Map();
    this.prompts = new Map();
    this.resources = new Map();
    this.templates = [];
    this.completers = new Map();
    /** Host functions; `index.js` sets pier's, tests set their own. */
    this.host = { log() {}, progress() {} };
  }

  /**
   * Registers a tool. `spec`: name, description, title, `input` (a map of property schemas; a
   * property is required unless it has a `default` or `optional: true`) or `inputSchema` (a
   * whole JSON Schema), outputSchema, readOnly, destructive, idempotent, openWorld, and `parse`
   * (a function that validates or transforms the checked arguments, e.g. a zod schema's
   * `parse`; what it throws is answered as invalid arguments). `handler(args, ctx)` returns a
   * string, an object (structured content) or a Result, synchronously.
   */
  tool(spec, handler) {
    const name = this.#name(spec.name, 'tool', this.tools);
    if (typeof handler !== 'function') throw new TypeError(`tool ${name}: the handler must be a function`);
    if (!spec.description) throw new TypeError(`tool ${name}: give a description (the model reads it to choose the tool)`);
    const readOnly = !!spec.readOnly;
    this.tools.set(name, {
      name,
      title: spec.title,
      description: spec.description,
      inputSchema: spec.inputSchema ?? schemaFromInput(spec.input ?? {}),
      outputSchema: spec.outputSchema,
      annotations: {
        readOnly,
        destructive: readOnly ? false : spec.destructive ?? true,
        idempotent: spec.idempotent ?? readOnly,
        openWorld: !!spec.openWorld,
      },
      parse: spec.parse,
      handler,
    });
    return this;
  }

  /**
   * Registers a prompt. `spec.arguments`: [{name, description, required, choices}] (choices are
   * offered as completions and checked). `handler(args, ctx)` returns a string (one user
   * message), a message (`user(...)`, `assistant(...)`) or a list of them.
   */
  prompt(spec, handler) {
    const name = this.#name(spec.name, 'prompt', this.prompts);
    this.prompts.set(name, { ...spec, name, arguments: spec.arguments ?? [], handler });
    return this;
  }

  /** Registers a resource at a fixed URI; `handler(ctx)` returns its body (string or bytes). */
  resource(spec, handler) {
    if (!spec.uri) throw new TypeError('resource: give a uri');
    if (this.resources.has(spec.uri)) throw new TypeError(`resource ${spec.uri} is registered twice`);
    this.resources.set(spec.uri, { ...spec, name: spec.name ?? spec.uri, handler });
    return this;
  }

  /**
   * Registers a family of resources (`notes://{name}`); `handler(vars, ctx)` gets each `{var}`
   * URL-decoded.
   */
  resourceTemplate(spec, handler) {
    if (!spec.uriTemplate) throw new TypeError('resourceTemplate: give a uriTemplate');
    this.templates.push({ ...spec, name: spec.name ?? spec.uriTemplate, pattern: templatePattern(spec.uriTemplate), handler });
    return this;
  }

  /** Suggestions for one argument: `{prompt | template, argument}`, `handler(value, context)`. */
  completion(spec, handler) {
    const kind = spec.prompt !== undefined ? 'prompt' : spec.template !== undefined ? 'resource-template' : null;
    if (!kind || !spec.argument) throw new TypeError('completion: give prompt or template, and argument');
    this.completers.set(`${kind}\u0000${spec.prompt ?? spec.template}\u0000${spec.argument}`, handler);
    return this;
  }

  #name(name, what, taken) {
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new TypeError(`${what} name ${quote(name)} must match ^[a-zA-Z0-9_-]{1,64}$`);
    }
    if (taken.has(name)) throw new TypeError(`${what} ${name} is registered twice`);
    return name;
  }

  #failed(what, e) {
    this.host.log('error', `${what} threw:\n${e instanceof Error && e.stack ? `${describe(e)}\n${e.stack}` : describe(e)}`);
  }

  // ---- dispatch (plain values; `exports()` adapts them) ---------------------------------

  callTool(ctx, name, argumentsText) {
    const tool = this.tools.get(name);
    if (!tool) throw new NotFound(`no tool ${quote(name)}; this plugin has: ${[...this.tools.keys()].join(', ') || 'none'}`);
    let args = checkArguments(parseArguments(argumentsText), tool.inputSchema, `tool ${quote(name)}`, InvalidParams);
    if (tool.parse) {
      try {
        args = tool.parse(args);
      } catch (e) {
        throw new InvalidParams(e instanceof Error ? e.message : String(e));
      }
    }
    try {
      return asResult(settled(tool.handler(args, ctx), `tool ${name}`));
    } catch (e) {
      if (e instanceof PierError) throw e;
      this.#failed(`tool ${quote(name)}`, e);
      return error(`${name} failed: ${describe(e)} (the stack is in pier's log)`);
    }
  }

  getPrompt(ctx, name, args) {
    const prompt = this.prompts.get(name);
    if (!prompt) throw new NotFound(`no prompt ${quote(name)}; this plugin has: ${[...this.prompts.keys()].join(', ') || 'none'}`);
    const known = new Map(prompt.arguments.map((a) => [a.name, a]));
    for (const key of Object.keys(args)) {
      if (!known.has(key)) throw new InvalidParams(`unknown argument ${quote(key)}; prompt ${name} takes: ${[...known.keys()].join(', ') || 'none'}`);
    }
    for (const a of prompt.arguments) {
      if (a.required && !(a.name in args)) throw new InvalidParams(`missing required argument ${quote(a.name)} (prompt ${name})`);
      if (a.choices && a.name in args && !a.choices.includes(args[a.name])) {
        throw new InvalidParams(`argument ${quote(a.name)} must be one of ${a.choices.map(quote).join(', ')}, not ${jsonKind(args[a.name])}`);
      }
    }
    return { description: prompt.description, messages: asMessages(this.#guarded(`prompt ${name}`, () => prompt.handler(args, ctx))) };
  }

  readResource(ctx, uri) {
    const fixed = this.resources.get(uri);
    if (fixed) return [contents(uri, fixed.mimeType, this.#guarded(`resource ${uri}`, () => fixed.handler(ctx)))];
    for (const t of this.templates) {
      const m = t.pattern.regex.exec(uri);
      if (m) {
        const vars = Object.fromEntries(t.pattern.names.map((n, i) => [n, decodeURIComponent(m[i + 1])]));
        return [contents(uri, t.mimeType, this.#guarded(`resource ${uri}`, () => t.handler(vars, ctx)))];
      }
    }
    throw new NotFound(`no resource ${uri} in this plugin`);
  }

  complete(kind, target, argument, value, context) {
    const completer = this.completers.get(`${kind}\u0000${target}\u0000${argument}`);
    if (completer) {
      const found = this.#guarded(`completion of ${argument}`, () => completer(value, context));
      return [...found].map(String).slice(0, 100);
    }
    if (kind === 'prompt') {
      const arg = this.prompts.get(target)?.arguments.find((a) => a.name === argument);
      return (arg?.choices ?? []).filter((c) => c.toLowerCase().startsWith(value.toLowerCase()));
    }
    return [];
  }

  #guarded(what, run) {
    try {
      return settled(run(), what);
    } catch (e) {
      if (e instanceof PierError) throw e;
      this.#failed(what, e);
      throw new PierError(`${what} failed: ${describe(e)} (the stack is in pier's log)`);
    }
  }

  /** The component's four export interfaces over this plugin. */
  exports() {
    const plugin = this;
    const context = (cx) => {
      const meta = Object.fromEntries(cx.meta);
      return {
        requestId: cx.requestId,
        session: cx.session,
        identity: cx.identity,
        meta,
        timeLimitMs: meta['pier.time-limit-ms'] ? Number(meta['pier.time-limit-ms']) : undefined,
        progress: (progress, total, message) => plugin.host.progress(cx.requestId, progress, total, message),
        log: (level, message) => plugin.host.log(level, message),
      };
    };
    // componentize-js answers a thrown `{tag, val}` as the `error` variant of a result.
    const refused = (run) => {
      try {
        return run();
      } catch (e) {
        if (e instanceof NotFound) throw { tag: 'not-found', val: e.message };
        if (e instanceof InvalidParams) throw { tag: 'invalid-params', val: e.message };
        if (e instanceof PierError) throw { tag: 'internal', val: e.message };
        plugin.#failed('pier-plugin', e);
        throw { tag: 'internal', val: describe(e) };
      }
    };
    const wireResult = (r) => ({
      content: r.content.length ? r.content : [{ tag: 'text', val: '' }],
      structured: r.structured === undefined ? undefined : JSON.stringify(r.structured),
      isError: r.isError,
    });
    return {
      tools: {
        listTools: () =>
          [...plugin.tools.values()].map((t) => ({
            name: t.name,
            title: t.title,
            description: t.description,
            inputSchema: JSON.stringify(t.inputSchema),
            outputSchema: t.outputSchema === undefined ? undefined : JSON.stringify(t.outputSchema),
            annotations: t.annotations,
          })),
        callTool: (cx, name, args) => refused(() => wireResult(plugin.callTool(context(cx), name, args))),
      },
      resources: {
        listResources: () => [...plugin.resources.values()].map((r) => info(r.uri, r.name, r)),
        listTemplates: () =>
          plugin.templates.map((t) => ({ uriTemplate: t.uriTemplate, name: t.name, title: t.title, description: t.description, mimeType: t.mimeType })),
        readResource: (cx, uri) => refused(() => plugin.readResource(context(cx), uri)),
      },
      prompts: {
        listPrompts: () =>
          [...plugin.prompts.values()].map((p) => ({
            name: p.name,
            title: p.title,
            description: p.description,
            arguments: p.arguments.map((a) => ({ name: a.name, title: a.title, description: a.description, required: !!a.required })),
          })),
        getPrompt: (cx, name, args) => refused(() => plugin.getPrompt(context(cx), name, Object.fromEntries(args))),
      },
      completions: {
        complete: (cx, target, argument, value, ctx) =>
          refused(() => plugin.complete(target.tag, target.val, argument, value, Object.fromEntries(ctx))),
      },
    };
  }
}
