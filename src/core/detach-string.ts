/**
 * Returns a copy of `text` that does not share memory with a larger string. JSON.parse and split may return
 * slices that keep a whole source line (or a whole 1 MB read chunk) alive; state kept for a long time
 * (ids in explanations, user and account keys, trait values) must not pin those.
 */
export function detachString(text: string): string {
  // Concatenation then slice makes V8 flatten into a new string of just these characters.
  return (' ' + text).slice(1);
}
