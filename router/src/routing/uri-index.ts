// Index of subscriptions or registrations by (uri, match policy). Lookups cost
// what the topic's shape costs, not what the number of non-matching entries
// costs: exact is one Map lookup; prefix is one lookup per distinct prefix
// length in use; wildcard walks a trie of URI components.
import type { MatchPolicy } from '../messages/options.js';

class TrieNode<T> {
  children = new Map<string, TrieNode<T>>();
  item: T | undefined;
}

export class UriIndex<T> {
  private readonly exact = new Map<string, T>();
  private readonly prefix = new Map<string, T>();
  /** How many prefix entries have each length, to try only lengths in use. */
  private readonly prefixLengths = new Map<number, number>();
  private sortedPrefixLengths: number[] = [];
  private readonly wildcardRoot = new TrieNode<T>();
  private readonly wildcard = new Map<string, T>();

  get(uri: string, match: MatchPolicy): T | undefined {
    return this.map(match).get(uri);
  }

  add(uri: string, match: MatchPolicy, item: T): void {
    this.map(match).set(uri, item);
    if (match === 'prefix') {
      this.prefixLengths.set(uri.length, (this.prefixLengths.get(uri.length) ?? 0) + 1);
      this.sortedPrefixLengths = [...this.prefixLengths.keys()].sort((a, b) => b - a);
    } else if (match === 'wildcard') {
      let node = this.wildcardRoot;
      for (const c of uri.split('.')) {
        let next = node.children.get(c);
        if (next === undefined) { next = new TrieNode<T>(); node.children.set(c, next); }
        node = next;
      }
      node.item = item;
    }
  }

  remove(uri: string, match: MatchPolicy): void {
    if (!this.map(match).delete(uri)) return;
    if (match === 'prefix') {
      const n = (this.prefixLengths.get(uri.length) ?? 1) - 1;
      if (n === 0) this.prefixLengths.delete(uri.length);
      else this.prefixLengths.set(uri.length, n);
      this.sortedPrefixLengths = [...this.prefixLengths.keys()].sort((a, b) => b - a);
    } else if (match === 'wildcard') {
      this.removeFromTrie(this.wildcardRoot, uri.split('.'), 0);
    }
  }

  private removeFromTrie(node: TrieNode<T>, parts: string[], i: number): boolean {
    if (i === parts.length) node.item = undefined;
    else {
      const child = node.children.get(parts[i]!);
      if (child && this.removeFromTrie(child, parts, i + 1)) node.children.delete(parts[i]!);
    }
    return node.item === undefined && node.children.size === 0;
  }

  /**
   * Every entry matching `uri`: exact, then prefixes (shortest first), then
   * wildcards — the order Crossbar delivers events in, which clients'
   * golden-output tests observe.
   */
  matchAll(uri: string): T[] {
    const out: T[] = [];
    const e = this.exact.get(uri);
    if (e !== undefined) out.push(e);
    if (this.prefix.size > 0) {
      for (let i = this.sortedPrefixLengths.length - 1; i >= 0; i--) {
        const len = this.sortedPrefixLengths[i]!;
        if (len > uri.length) break;
        const p = this.prefix.get(len === uri.length ? uri : uri.slice(0, len));
        if (p !== undefined) out.push(p);
      }
    }
    if (this.wildcard.size > 0) this.collectWildcards(this.wildcardRoot, uri.split('.'), 0, out);
    return out;
  }

  /** The single entry that governs `uri` (the dealer's rule): exact, longest prefix, most specific wildcard. */
  best(uri: string): T | undefined {
    const e = this.exact.get(uri);
    if (e !== undefined) return e;
    if (this.prefix.size > 0) {
      for (const len of this.sortedPrefixLengths) {
        if (len > uri.length) continue;
        const p = this.prefix.get(len === uri.length ? uri : uri.slice(0, len));
        if (p !== undefined) return p;
      }
    }
    if (this.wildcard.size === 0) return undefined;
    // Trie order visits concrete components before empty ones, so the first
    // hit is the most specific pattern component by component.
    const hits: T[] = [];
    this.collectWildcards(this.wildcardRoot, uri.split('.'), 0, hits);
    return hits[0];
  }

  private collectWildcards(node: TrieNode<T>, parts: string[], i: number, out: T[]): void {
    if (i === parts.length) {
      if (node.item !== undefined) out.push(node.item);
      return;
    }
    const exact = parts[i] === '' ? undefined : node.children.get(parts[i]!);
    if (exact) this.collectWildcards(exact, parts, i + 1, out);
    const any = node.children.get('');
    if (any) this.collectWildcards(any, parts, i + 1, out);
  }

  values(match: MatchPolicy): IterableIterator<T> {
    return this.map(match).values();
  }

  private map(match: MatchPolicy): Map<string, T> {
    return match === 'exact' ? this.exact : match === 'prefix' ? this.prefix : this.wildcard;
  }
}
