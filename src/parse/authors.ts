// A capitalised word in any script's capitals ("Élodie", "Ólafur"), an initial, a lower-case
// particle, or an Arabic article joined to the name ("al-Rashid", "el-Sayed").
const NAME_WORD =
  /^(?:\p{Lu}[\p{L}'’.-]*|\p{Lu}\.|(?:al|el|ad|ar|as|ash|at|an)-\p{Lu}[\p{L}'’.-]*|de|del|van|von|al|bin|da|la|le)$/u;

/**
 * Split a byline ("A, B, C, and D with E", "By A and B") into names; null when the text does not
 * read as a byline (every part must be 2–5 name-like words).
 */
export function parseAuthors(text: string): string[] | null {
  const line = text
    .replace(/^by\s+/i, '')
    .replace(/[.;]$/, '')
    .trim();
  if (line.length === 0 || line.length > 400) return null;
  const parts = line
    .split(/\s*,\s*(?:and\s+|&\s+)?|\s+and\s+|\s+&\s+|\s+with\s+/i)
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  if (parts.length === 0) return null;
  for (const part of parts) {
    const words = part.split(/\s+/);
    if (words.length < 2 || words.length > 5 || !words.every((w) => NAME_WORD.test(w))) return null;
  }
  return parts;
}
