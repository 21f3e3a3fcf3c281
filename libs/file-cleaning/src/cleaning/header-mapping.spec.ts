import { HeaderMapper, normalizeHeaderName } from './header-mapping';

describe('header mapping', () => {
  it.each([
    ['First Name', 'first_name', 'firstName', 'first name'],
    ['firstName', 'first_name', 'firstName', 'firstname'],
    ['E-Mail Address', 'e_mail_address', 'eMailAddress', 'e-mail address'],
    ['userID', 'user_id', 'userId', 'userid'],
    ['HTTPServer', 'http_server', 'httpServer', 'httpserver'],
    ['Prénom', 'prenom', 'prenom', 'prénom'],
    ['Phone #', 'phone', 'phone', 'phone #'],
    ['  Zip   Code ', 'zip_code', 'zipCode', 'zip code'],
    ['2nd Line', '2nd_line', '2ndLine', '2nd line'],
  ])('normalises %p', (name, snake, camel, lower) => {
    expect(normalizeHeaderName(name, 'snake_case')).toBe(snake);
    expect(normalizeHeaderName(name, 'camelCase')).toBe(camel);
    expect(normalizeHeaderName(name, 'lower')).toBe(lower);
    expect(normalizeHeaderName(name, 'none')).toBe(name);
  });

  it('renames by the name as written, trimmed, or normalised', () => {
    const mapper = new HeaderMapper({ normalize: 'snake_case', rename: { 'E-Mail': 'email', first_name: 'given_name', ' Age ': 'years' } });
    expect(mapper.map('E-Mail', 'E-Mail', 0)).toBe('email');
    expect(mapper.map('First Name', 'First Name', 1)).toBe('given_name');
    expect(mapper.map(' Age ', 'Age', 2)).toBe('years');
    expect(mapper.unusedEntries()).toEqual([]);
  });

  it('drops by original, normalised or renamed name', () => {
    const mapper = new HeaderMapper({ normalize: 'snake_case', rename: { Notes: 'remarks' }, drop: ['Internal ID', 'tmp_col', 'remarks'] });
    expect(mapper.map('Internal ID', 'Internal ID', 0)).toBeUndefined();
    expect(mapper.map('Tmp Col', 'Tmp Col', 1)).toBeUndefined();
    expect(mapper.map('Notes', 'Notes', 2)).toBeUndefined();
    expect(mapper.map('Kept', 'Kept', 3)).toBe('kept');
  });

  it('makes names unique and names empty headers by position', () => {
    const mapper = new HeaderMapper({ normalize: 'snake_case' });
    expect(['First Name', 'first_name', 'FIRST NAME', '', '###'].map((name, i) => mapper.map(name, name, i))).toEqual([
      'first_name',
      'first_name_2',
      'first_name_3',
      'column_4',
      'column_5',
    ]);
    expect(mapper.warnings).toHaveLength(2);
  });

  it('reports rename and drop entries that matched nothing', () => {
    const mapper = new HeaderMapper({ rename: { Emial: 'email' }, drop: ['nope'] });
    mapper.map('Email', 'Email', 0);
    expect(mapper.unusedEntries()).toEqual(['headers.rename: no column "Emial"', 'headers.drop: no column "nope"']);
  });
});
