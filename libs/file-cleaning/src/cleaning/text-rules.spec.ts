import { collapseWhitespace, isWhitespace, needsCollapse, needsTrim, titleCase } from './text-rules';

describe('text rules', () => {
  it('knows the whitespace characters trim() knows', () => {
    for (const ch of [' ', '\t', '\n', '\r', '\v', '\f', '\u00a0', '\u2003', '\u3000', '\ufeff']) {
      expect(isWhitespace(ch.charCodeAt(0))).toBe(true);
      expect(ch.trim()).toBe('');
    }
    for (const ch of ['a', '_', '\u200b', '0']) expect(isWhitespace(ch.charCodeAt(0))).toBe(false);
  });

  it('collapses runs of any whitespace into one space', () => {
    expect(needsCollapse('a b c')).toBe(false);
    expect(needsCollapse('a  b')).toBe(true);
    expect(needsCollapse('a\tb')).toBe(true);
    expect(needsCollapse('a\u00a0b')).toBe(true);
    expect(needsCollapse('a\nb')).toBe(true);
    expect(collapseWhitespace('a \t\n b\u00a0\u00a0c')).toBe('a b c');
  });

  it('tells when trimming would change a value', () => {
    expect(needsTrim(' a')).toBe(true);
    expect(needsTrim('a\u00a0')).toBe(true);
    expect(needsTrim('a b')).toBe(false);
    expect(needsTrim('')).toBe(false);
  });

  it.each([
    ['alice SMITH', 'Alice Smith'],
    ["o'neil", "O'Neil"],
    ["don't stop", "Don't Stop"],
    ['mary-jane van dyke', 'Mary-Jane Van Dyke'],
    ['émile zola', 'Émile Zola'],
    ['j.r.r. tolkien', 'J.R.R. Tolkien'],
    ['3rd street', '3rd Street'],
    ['(note) x/y', '(Note) X/Y'],
    ['ALREADY Title', 'Already Title'],
    ['', ''],
  ])('title case %p → %p', (value, expected) => expect(titleCase(value)).toBe(expected));
});
