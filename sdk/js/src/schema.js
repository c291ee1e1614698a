// Checks tool arguments against the JSON Schema the tool advertises, so a client that ignores
// the schema gets a sentence naming the argument, what it should be and what came instead.
//
// The subset plugins write by hand: type (one or a list), properties, required,
// additionalProperties (boolean or a schema), items, enum, const, anyOf/oneOf, minimum/maximum,
// minLength/maxLength, minItems/maxItems, default. Other keywords are left to the plugin.

/** A name or string as error messages quote it: 'name' (as the Python SDK does). */
export const quote = (s) => `'${String(s).replaceAll("'", "\\'")}'`;

const show = (v) => (typeof v === 'string' ? quote(v) : JSON.stringify(v));

/** How a JSON value reads in an error message. */
export function jsonKind(value) {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'string') {
    const shown = value.length <= 40 ? value : `${value.slice(0, 40)}…`;
    return `the string ${quote(shown)}`;
  }
  if (Array.isArray(value)) return 'an array';
  return 'an object';
}

const NAMES = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  null: 'null',
  array: 'an array',
  object: 'an object',
};

function isType(value, type) {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'null':
      return value === null;
    case 'array':
      return Array.isArray(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    default:
      return true;
  }
}

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** A problem with `value` at `where`, or null when it fits `schema`. */
export function problem(value, schema, where) {
  if (schema === true || schema === undefined || schema === null) return null;
  if (schema === false) return `${where} is not allowed`;
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => isType(value, t))) {
      const expected = types.map((t) => NAMES[t] ?? t).join(' or ');
      return `${where} must be ${expected}, not ${jsonKind(value)}`;
    }
  }
  if (schema.enum !== undefined && !schema.enum.some((e) => same(e, value))) {
    return `${where} must be one of ${schema.enum.map(show).join(', ')}, not ${jsonKind(value)}`;
  }
  if (schema.const !== undefined && !same(schema.const, value)) {
    return `${where} must be ${JSON.stringify(schema.const)}, not ${jsonKind(value)}`;
  }
  for (const key of ['anyOf', 'oneOf']) {
    if (Array.isArray(schema[key])) {
      const found = schema[key].map((s) => problem(value, s, where));
      if (!found.some((p) => p === null)) {
        return found.length === 1 ? found[0] : `${where} fits none of its types: ${found.join('; ')}`;
      }
    }
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) return `${where} must be at least ${schema.minimum}, not ${value}`;
    if (schema.maximum !== undefined && value > schema.maximum) return `${where} must be at most ${schema.maximum}, not ${value}`;
  }
  if (typeof value === 'string') {
    const n = [...value].length;
    if (schema.minLength !== undefined && n < schema.minLength) return `${where} must have at least ${schema.minLength} characters`;
    if (schema.maxLength !== undefined && n > schema.maxLength) return `${where} must have at most ${schema.maxLength} characters`;
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) return `${where} must have at least ${schema.minItems} items, not ${value.length}`;
    if (schema.maxItems !== undefined && value.length > schema.maxItems) return `${where} must have at most ${schema.maxItems} items, not ${value.length}`;
    if (schema.items !== undefined && typeof schema.items === 'object') {
      for (let i = 0; i < value.length; i++) {
        const p = problem(value[i], schema.items, `${where}[${i}]`);
        if (p) return p;
      }
    }
  }
  if (isType(value, 'object') && (schema.properties || schema.required || schema.additionalProperties !== undefined)) {
    return objectProblem(value, schema, (name) => `${where}.${name}`, where);
  }
  return null;
}

function objectProblem(value, schema, at, where) {
  const properties = schema.properties ?? {};
  for (const name of schema.required ?? []) {
    if (!(name in value)) return `${where} is missing ${quote(name)}`;
  }
  for (const [name, v] of Object.entries(value)) {
    if (name in properties) {
      const p = problem(v, properties[name], at(name));
      if (p) return p;
    } else if (schema.additionalProperties === false) {
      const has = Object.keys(properties).join(', ') || 'none';
      return `${where} has no field ${quote(name)} (it has: ${has})`;
    } else if (typeof schema.additionalProperties === 'object') {
      const p = problem(v, schema.additionalProperties, at(name));
      if (p) return p;
    }
  }
  return null;
}

/**
 * The arguments of a call checked against a tool's input schema, with defaults filled in;
 * throws `InvalidParams` (from `errors`) naming the first problem.
 */
export function checkArguments(args, schema, what, InvalidParams) {
  const properties = schema.properties ?? {};
  for (const name of schema.required ?? []) {
    if (!(name in args)) throw new InvalidParams(`missing required argument ${quote(name)} (${what})`);
  }
  const out = {};
  for (const [name, value] of Object.entries(args)) {
    if (name in properties) {
      const p = problem(value, properties[name], `argument ${quote(name)}`);
      if (p) throw new InvalidParams(p);
      out[name] = value;
    } else if (schema.additionalProperties === false) {
      const takes = Object.keys(properties).join(', ') || 'no arguments';
      throw new InvalidParams(`unknown argument ${quote(name)}; ${what} takes: ${takes}`);
    } else {
      out[name] = value;
    }
  }
  for (const [name, prop] of Object.entries(properties)) {
    if (!(name in out) && prop && prop.default !== undefined) out[name] = JSON.parse(JSON.stringify(prop.default));
  }
  return out;
}
