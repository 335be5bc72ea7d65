// What an event the broker keeps (a retained event, one a persistent
// subscription keeps while detached) counts against its byte bounds.
import type { PublicationData } from '../routing/publication.js';
import { jsonSerializer } from '../serializers/json.js';

/**
 * The PUBLISH as it arrived (`wireSize`), or, for in-process publishers,
 * meta events and testaments, its payload as JSON (a rare path: only kept
 * events are measured).
 */
export function eventSize(data: PublicationData, wireSize: number | undefined): number {
  if (wireSize !== undefined) return wireSize;
  if (data.payload !== undefined) return typeof data.payload === 'string' ? data.payload.length : data.payload.byteLength;
  const json = jsonSerializer.encode([data.args ?? [], data.kwargs ?? {}]);
  return typeof json === 'string' ? Buffer.byteLength(json) : json.byteLength;
}
