#!/usr/bin/env node
// Re-prints the summary table from JSONL results:
//   node bench/report.js bench/results/2025-01-01.jsonl [--since ISO-TIME]
import { readFileSync } from 'node:fs';
import { printTable } from './lib/report.js';
import { median } from './lib/stats.js';

const args = process.argv.slice(2);
const si = args.indexOf('--since');
const since = si >= 0 ? args.splice(si, 2)[1] : '';
const rows = args.flatMap((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)))
  .filter((r) => r.ts >= since);
if (rows.length === 0) { console.error('usage: node bench/report.js FILE.jsonl... [--since ISO-TIME]'); process.exit(2); }
printTable(rows, median);
