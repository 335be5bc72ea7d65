// What a log line carries of a peer's text or data (a close reason, an error
// message, a payload): bounded, so that nothing a peer sends grows a log line
// without limit. One definition for every Node program.

/** Longest client-controlled text a log line carries. */
export const PREVIEW_CHARS = 200;

/**
 * `value` as at most `max` characters of text, marked when cut: strings as
 * they are, an Error as "Name: message", anything else as JSON. Never throws.
 */
export function preview(value: unknown, max = PREVIEW_CHARS): string {
  let text: string;
  if (typeof value === 'string') text = value;
  else if (value instanceof Error) text = String(value);
  else {
    try { text = JSON.stringify(value) ?? String(value); } catch { text = Object.prototype.toString.call(value); }
  }
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} chars)`;
}
