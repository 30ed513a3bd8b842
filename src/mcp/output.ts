/**
 * Outputs sized for a model: every tool result is capped at {@link MAX_OUTPUT_CHARS} characters of
 * JSON. A result over the cap loses rows from the end of its largest list (or, with no list, the end
 * of its longest string) and says so: `truncated: true`, `omitted`, and a `hint` naming how to get
 * the rest. A `next_page` that would skip the omitted rows is withdrawn (the hint says which smaller
 * page_size fits); an offset-based result gets a `next_offset` that resumes after the last row kept.
 *
 * @module
 */
import { z } from 'zod';

export const MAX_OUTPUT_CHARS = 60_000;

/** Added to every tool's output schema: what a capped result carries. */
export const truncationShape = {
  truncated: z.boolean().optional().describe('True when the output cap cut this result'),
  omitted: z.number().int().optional().describe('How many rows (or characters) the cap left out'),
  hint: z.string().optional().describe('How to get what was left out'),
};

type Obj = Record<string, unknown>;

/**
 * Cap a tool's value, returning it with its compact JSON for an object (the size check's own
 * serialisation, so the text block does not serialise the value a second time).
 *
 * @example
 * const { value, json } = capOutputJson({ total: 900, documents: rows, next_page: '…' }); // json === JSON.stringify(value)
 */
export function capOutputJson(value: unknown, max = MAX_OUTPUT_CHARS): { value: unknown; json: string | undefined } {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return { value, json: undefined };
  const json = JSON.stringify(value);
  if (json.length <= max) return { value, json };
  const capped = cut(value as Obj, json.length, max);
  return { value: capped, json: capped === value ? json : JSON.stringify(capped) };
}

/** Cut an object whose JSON (of `size` characters) is over `max`; see the module comment. */
function cut(value: Obj, size: number, max: number): unknown {
  const v = { ...value };
  const listKey = Object.keys(v)
    .filter((k) => Array.isArray(v[k]))
    .sort((a, b) => (v[b] as unknown[]).length - (v[a] as unknown[]).length)[0];
  if (listKey) {
    const rows = v[listKey] as unknown[];
    // Largest prefix that fits (binary search on the serialised size).
    let lo = 0;
    let hi = rows.length;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (JSON.stringify({ ...v, [listKey]: rows.slice(0, mid), ...marker(rows.length - mid, '') }).length <= max - 300)
        lo = mid;
      else hi = mid - 1;
    }
    const omitted = rows.length - lo;
    v[listKey] = rows.slice(0, lo);
    if (typeof v.returned === 'number') v.returned = lo;
    let hint = `Output capped at ${max} characters: ${omitted} of ${rows.length} ${listKey} left out.`;
    if (typeof v.offset === 'number') {
      const next = v.offset + lo;
      v.next_offset = next;
      hint += ` Continue with offset=${next}, or ask for fewer fields.`;
    } else {
      if ('next_page' in v) v.next_page = null;
      hint += ` Repeat with page_size=${Math.max(1, lo)} (or fewer fields) to page through all of them.`;
    }
    return { ...v, ...marker(omitted, hint) };
  }
  const longest = Object.keys(v)
    .filter((k) => typeof v[k] === 'string')
    .sort((a, b) => (v[b] as string).length - (v[a] as string).length)[0];
  if (!longest) return value;
  const s = v[longest] as string;
  const keep = Math.max(0, s.length - (size - max) - 400);
  v[longest] = s.slice(0, keep);
  return { ...v, ...marker(s.length - keep, `Output capped at ${max} characters: ${longest} was cut.`) };
}

function marker(omitted: number, hint: string) {
  return { truncated: true, omitted, hint };
}
