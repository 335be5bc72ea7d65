// Event filters (ClawGate extension): SUBSCRIBE.Options.x_filter holds an
// expression in the Common Expression Language (CEL, cel.dev: the
// language of Kubernetes' validation rules and Envoy's RBAC) over the
// event's `args`, `kwargs`, `details` (publisher identity only where it was
// disclosed, passthrough keys) and `topic`. A subscription with a filter
// gets only the events it is true for (filter-event.ts builds what it sees).
//
// Compiled once per subscription, here: parsed by @marcbachmann/cel-js,
// checked against an allowlist of operators and functions, measured,
// printed back in one normal form (the subscription's identity beside
// topic and match, and what the meta API shows), and type-checked. What a
// filter may cost is decided here, before it ever runs, because the
// library has no evaluation budget of its own and an evaluation can't be
// interrupted. Every allowed operation is constant time, or bounded by a
// literal of the expression, except a *scan*: an operation that may walk
// a whole value of the event (a list for `in`, a string for `size()` or
// `contains()`, two event values compared with each other). The realm
// bounds the characters, nodes and scans of one filter (options.limits:
// max_filter_length, max_filter_nodes, max_filter_scans), so one
// evaluation costs at most about nodes × a few hundred ns plus scans ×
// one pass over the event (docs/benchmarks.md has the numbers).
//
// Not allowed: the comprehension macros (all, exists, exists_one, map,
// filter: their cost multiplies with nested lists), cel.bind (a value
// doubled n times is 2^n long), matches() (this library runs the pattern
// on JavaScript's backtracking RegExp: exponential time on the wrong
// input), and the functions that build strings, lists or times
// (split, join, lowerAscii, substring, timestamp, ...).
import { Environment, type ASTNode, type ParseResult } from '@marcbachmann/cel-js';
import type { RealmLimits } from '../limits/limits-config.js';
import { MAX_FILTER_NODES } from '../limits/limits-config.js';
import { FILTER_OPTION } from '../messages/options.js';
import { describe } from '../messages/validate.js';
import type { FilterEvent, FilterReads } from './filter-event.js';

/** Nesting of a filter (parentheses, calls, operators): the parser, checker, evaluator and our walk recurse that deep. */
export const MAX_FILTER_DEPTH = 32;


export type FilterLimits = Pick<RealmLimits, 'maxFilterLength' | 'maxFilterNodes' | 'maxFilterScans'>;

const EVENT_VARIABLES = new Set(['args', 'kwargs', 'details']);

// One environment for every realm (it is costly to build); the realm's
// bounds are checked on our own walk, the library's limits only stop the
// parser early, above anything a config may allow.
const env = new Environment({
  // CEL's own default: [1, "a"] is a list of dyn.
  homogeneousAggregateLiterals: false,
  limits: { maxAstNodes: 2 * MAX_FILTER_NODES, maxDepth: MAX_FILTER_DEPTH, maxListElements: MAX_FILTER_NODES, maxMapEntries: MAX_FILTER_NODES, maxCallArguments: 4 },
})
  .registerVariable('args', 'list')
  .registerVariable('kwargs', 'map')
  .registerVariable('details', 'map')
  .registerVariable('topic', 'string');

/** Functions (f(x)): has() and the conversions. */
const FUNCTIONS = new Set(['has', 'size', 'int', 'uint', 'double', 'string', 'bytes', 'bool', 'dyn', 'type']);
/** Conversions and size() may parse or count a whole string of the event. */
const SCANNING_FUNCTIONS = new Set(['size', 'int', 'uint', 'double', 'string', 'bytes', 'bool']);
/** Methods (x.f(y)): string searches and size. */
const METHODS = new Set(['size', 'contains', 'startsWith', 'endsWith', 'indexOf', 'lastIndexOf']);
const MACROS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);
const COMPARISONS = new Set(['==', '!=', '<', '<=', '>', '>=']);
/** Binary operators: comparisons, `in`, arithmetic (numbers, or + on strings and lists), logic. */
const BINARY = new Set([...COMPARISONS, 'in', '+', '-', '*', '/', '%', '&&', '||']);

/** Why a function is not offered, for the error a client gets. */
function unavailable(name: string, method: boolean): string {
  if (method && MACROS.has(name)) return `the macro ${name}() is not available in event filters (its cost grows with the event's lists, and multiplies when nested); use \`in\` for membership`;
  if (method && name === 'matches') return 'matches() is not available in event filters (this CEL implementation runs regular expressions on a backtracking engine, where a pattern can take exponential time); use contains(), startsWith() or endsWith()';
  if (method && name === 'bind') return 'cel.bind() is not available in event filters';
  const offered = method ? [...METHODS].map((m) => `.${m}()`) : [...FUNCTIONS].map((f) => `${f}()`);
  return `${method ? '.' : ''}${name}() is not available in event filters (available: ${offered.join(', ')})`;
}

class FilterRefusal extends Error {}

/** A literal as CEL source, exactly (the key must tell 1.5 from 1.50000001). */
function literal(v: unknown): string {
  switch (typeof v) {
    case 'string': return JSON.stringify(v);
    case 'bigint': case 'boolean': return String(v);
    case 'number': {
      const s = String(v);
      return /^-?\d+$/.test(s) ? `${s}.0` : s;
    }
    case 'object': {
      if (v === null) return 'null';
      if (v instanceof Uint8Array) return `b"${[...v].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')}"`;
      const inner = (v as { valueOf(): unknown }).valueOf();
      if (typeof inner === 'bigint') return `${inner}u`;
    }
  }
  throw new FilterRefusal(`${FILTER_OPTION} has a literal of a kind event filters don't take`);
}

interface Walked {
  /** The subtree in normal form: every operation in parentheses, literals exact. */
  readonly text: string;
  /** Reads no value of the event (literals, type names, `topic`): its size is bounded by the expression. */
  readonly bounded: boolean;
  /** A number, string, bytes, bool or null literal (or its negation). */
  readonly scalar: boolean;
}

/** The parts of the syntax tree we read: operator and operands (cel-js's ASTNode, loosely). */
type Node = { readonly op: string; readonly args: unknown };

class Walk {
  nodes = 0;
  readonly scans: string[] = [];
  readonly reads = { args: false, kwargs: false, details: false, topic: false };

  node(n: Node): Walked {
    this.nodes++;
    const a = n.args as never;
    switch (n.op) {
      case 'value': {
        const text = literal(a);
        return { text, bounded: true, scalar: true };
      }
      case 'id': {
        const name = a as string;
        if (Object.hasOwn(this.reads, name)) this.reads[name as keyof Walk['reads']] = true;
        return { text: name, bounded: !EVENT_VARIABLES.has(name), scalar: false };
      }
      case '.': {
        const [obj, field] = a as [Node, string];
        const o = this.node(obj);
        return { text: `${o.text}.${field}`, bounded: o.bounded, scalar: false };
      }
      case '[]': {
        const [obj, key] = a as [Node, Node];
        const o = this.node(obj);
        const k = this.node(key);
        return { text: `${o.text}[${k.text}]`, bounded: o.bounded && k.bounded, scalar: false };
      }
      case 'list': {
        const items = (a as Node[]).map((x) => this.node(x));
        return { text: `[${items.map((i) => i.text).join(', ')}]`, bounded: items.every((i) => i.bounded), scalar: false };
      }
      case 'map': {
        const entries = (a as [Node, Node][]).map(([k, v]) => [this.node(k), this.node(v)] as const);
        return { text: `{${entries.map(([k, v]) => `${k.text}: ${v.text}`).join(', ')}}`, bounded: entries.every(([k, v]) => k.bounded && v.bounded), scalar: false };
      }
      case '?:': {
        const [c, x, y] = (a as Node[]).map((p) => this.node(p)) as [Walked, Walked, Walked];
        return { text: `(${c.text} ? ${x.text} : ${y.text})`, bounded: c.bounded && x.bounded && y.bounded, scalar: false };
      }
      case '!_': case '-_': {
        const x = this.node(a as Node);
        return { text: `${n.op[0]}${x.text}`, bounded: x.bounded, scalar: x.scalar && n.op === '-_' };
      }
      case 'call': {
        const [name, params] = a as [string, Node[]];
        if (!FUNCTIONS.has(name)) throw new FilterRefusal(`${FILTER_OPTION}: ${unavailable(name, false)}`);
        const ps = params.map((p) => this.node(p));
        const bounded = ps.every((p) => p.bounded);
        if (!bounded && SCANNING_FUNCTIONS.has(name)) this.scans.push(`${name}() of an event value`);
        return { text: `${name}(${ps.map((p) => p.text).join(', ')})`, bounded, scalar: false };
      }
      case 'rcall': {
        const [name, receiver, params] = a as [string, Node, Node[]];
        if (!METHODS.has(name)) throw new FilterRefusal(`${FILTER_OPTION}: ${unavailable(name, true)}`);
        const r = this.node(receiver);
        const ps = params.map((p) => this.node(p));
        const argsBounded = ps.every((p) => p.bounded);
        // startsWith/endsWith compare as much of the receiver as their argument is long; the others walk the receiver.
        const walksReceiver = name !== 'startsWith' && name !== 'endsWith';
        if ((walksReceiver && !r.bounded) || !argsBounded) this.scans.push(`.${name}() on an event value`);
        return { text: `${r.text}.${name}(${ps.map((p) => p.text).join(', ')})`, bounded: r.bounded && argsBounded, scalar: false };
      }
      default: {
        if (!BINARY.has(n.op)) throw new FilterRefusal(`${FILTER_OPTION} uses the operator "${n.op}", which event filters don't take`);
        const [l, r] = (a as [Node, Node]).map((p) => this.node(p)) as [Walked, Walked];
        // A comparison is bounded by its smaller side, `in` by its right side;
        // + of an event value and a literal number or string adds or links,
        // anything else may copy a list or string of the event.
        if (COMPARISONS.has(n.op) && !l.bounded && !r.bounded) this.scans.push(`${n.op} between two event values`);
        if (n.op === 'in' && !r.bounded) this.scans.push('in over an event value');
        if (n.op === '+' && !(l.bounded && r.bounded) && !l.scalar && !r.scalar) this.scans.push('+ of event values');
        return { text: `(${l.text} ${n.op} ${r.text})`, bounded: l.bounded && r.bounded, scalar: false };
      }
    }
  }
}

/** A compiled event filter: one per filtered subscription, shared by its subscribers. */
export class ContentFilter {
  constructor(
    /** The expression in normal form: with (topic, match) it identifies the subscription. */
    readonly text: string,
    readonly reads: FilterReads,
    private readonly program: ParseResult,
  ) {}

  /**
   * Is the event for this filter's subscribers? A string when the filter
   * failed on it (a missing key, a type mismatch, not a bool): the event is
   * not delivered, and the broker counts it. An opaque (passthrough)
   * payload is not delivered to a filter that reads Arguments or
   * ArgumentsKw, without counting.
   */
  test(event: FilterEvent): boolean | string {
    const vars = event.variables(this.reads);
    if (vars === null) return false;
    let result: unknown;
    try {
      result = this.program(vars);
    } catch (e) {
      return (e as { summary?: string }).summary ?? (e as Error).message;
    }
    return typeof result === 'boolean' ? result : `the filter gave ${celType(result)}, not a bool`;
  }
}

function celType(v: unknown): string {
  if (typeof v === 'bigint') return 'an int';
  if (typeof v === 'number') return 'a double';
  if (v instanceof Map) return 'a map';
  if (v === null) return 'null';
  return `a ${describe(v)}`;
}

/** Trims a library message to its first line (the rest is a source excerpt for humans at a console). */
function summary(e: unknown): string {
  const s = (e as { summary?: unknown }).summary;
  return typeof s === 'string' ? s : String((e as Error).message).split('\n')[0]!;
}

function at(e: unknown): string {
  const start = (e as { range?: { start?: unknown } }).range?.start;
  return typeof start === 'number' ? ` (at character ${start + 1})` : '';
}

/**
 * Compiles SUBSCRIBE.Options.x_filter under the realm's bounds: the filter,
 * or why it is refused (the message of ERROR wamp.error.invalid_option).
 */
export function compileFilter(source: unknown, limits: FilterLimits): ContentFilter | string {
  if (typeof source !== 'string') return `${FILTER_OPTION} must be a string, got ${describe(source)}`;
  if (source.trim() === '') return `${FILTER_OPTION} must not be empty`;
  if (source.length > limits.maxFilterLength) {
    return `${FILTER_OPTION} has ${source.length} characters, more than max_filter_length (${limits.maxFilterLength})`;
  }
  let program: ParseResult;
  try {
    program = env.parse(source);
  } catch (e) {
    const s = summary(e);
    if (/maxDepth/.test(s)) return `${FILTER_OPTION} is nested deeper than ${MAX_FILTER_DEPTH} levels`;
    if (/maxAstNodes|maxListElements|maxMapEntries/.test(s)) return `${FILTER_OPTION} has more than ${limits.maxFilterNodes} nodes (max_filter_nodes)`;
    return `${FILTER_OPTION} is not a valid CEL expression: ${s}${at(e)}`;
  }
  const walk = new Walk();
  let text: string;
  try {
    text = walk.node(program.ast as ASTNode as Node).text;
  } catch (e) {
    if (e instanceof FilterRefusal) return e.message;
    throw e;
  }
  if (walk.nodes > limits.maxFilterNodes) return `${FILTER_OPTION} has ${walk.nodes} nodes, more than max_filter_nodes (${limits.maxFilterNodes})`;
  if (walk.scans.length > limits.maxFilterScans) {
    return `${FILTER_OPTION} walks whole event values ${walk.scans.length} times (${walk.scans.join(', ')}), more than max_filter_scans (${limits.maxFilterScans}); compare event values with literals instead`;
  }
  const checked = program.check();
  if (!checked.valid) return `${FILTER_OPTION} is not a valid CEL expression: ${summary(checked.error)}${at(checked.error)}`;
  if (checked.type !== 'bool' && checked.type !== 'dyn') return `${FILTER_OPTION} must be a boolean expression, this one gives ${checked.type}`;
  // The outermost parentheses of the normal form (an operator's, see Walk) add nothing.
  if (BINARY.has(program.ast.op) || program.ast.op === '?:') text = text.slice(1, -1);
  const { args, kwargs, details } = walk.reads;
  return new ContentFilter(text, { args, kwargs, details }, program);
}
