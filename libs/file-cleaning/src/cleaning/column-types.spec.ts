import { createPhoneParser, createValueParser, parseBoolean, parseEmail, parseInteger, parseNumber, parseUrl } from './column-types';

describe('column types', () => {
  it.each([
    ['42', '42'],
    ['+42', '42'],
    ['-42', '-42'],
    ['007', '7'],
    ['-0', '0'],
    ['42.0', '42'],
    ['42.000', '42'],
    ['123456789012345678901234567890', '123456789012345678901234567890'],
  ])('integer %p → %p', (value, expected) => expect(parseInteger(value)).toBe(expected));

  it.each(['', '-', '4 2', '42.5', '42.', '.0', '1e3', '1,000', 'abc', '0x10', '٤٢'])('integer refuses %p', (value) =>
    expect(parseInteger(value)).toBeUndefined(),
  );

  it.each([
    ['3.14', '3.14'],
    ['+3.140', '3.14'],
    ['-0.50', '-0.5'],
    ['.5', '0.5'],
    ['5.', '5'],
    ['007.10', '7.1'],
    ['1E3', '1e3'],
    ['1.50e-03', '1.5e-3'],
    ['2e+0', '2'],
    ['-0.0', '0'],
    ['12345678901234567890.123456789', '12345678901234567890.123456789'],
  ])('number %p → %p (digit for digit, no float rounding)', (value, expected) => expect(parseNumber(value)).toBe(expected));

  it.each(['', '.', '-', '1,5', '1.2.3', 'e5', '1e', '1e+', 'NaN', 'Infinity', '1 000', '0x1A'])('number refuses %p', (value) =>
    expect(parseNumber(value)).toBeUndefined(),
  );

  it.each([
    ['true', 'true'],
    ['TRUE', 'true'],
    ['Yes', 'true'],
    ['y', 'true'],
    ['1', 'true'],
    ['on', 'true'],
    ['t', 'true'],
    ['false', 'false'],
    ['No', 'false'],
    ['N', 'false'],
    ['0', 'false'],
    ['off', 'false'],
    ['F', 'false'],
  ])('boolean %p → %p', (value, expected) => expect(parseBoolean(value)).toBe(expected));

  it.each(['', 'maybe', '2', 'yes!', 'truee'])('boolean refuses %p', (value) => expect(parseBoolean(value)).toBeUndefined());

  it.each([
    ['alice@example.com', 'alice@example.com'],
    ['Alice.Smith+tag@Example.COM', 'Alice.Smith+tag@example.com'],
    ["o'neil@mail.example.co.uk", "o'neil@mail.example.co.uk"],
    ['jörg@bücher.de', 'jörg@bücher.de'],
  ])('email %p → %p (domain lower-cased)', (value, expected) => expect(parseEmail(value)).toBe(expected));

  it.each([
    'x@',
    '@example.com',
    'alice',
    'alice@example',
    'a@@example.com',
    'a@b@example.com',
    '.alice@example.com',
    'alice.@example.com',
    'al..ice@example.com',
    'alice@-example.com',
    'alice@example-.com',
    'alice@example..com',
    'alice@example.c',
    'alice@example.123',
    'al ice@example.com',
    `${'a'.repeat(65)}@example.com`,
    `a@${'b'.repeat(250)}.com`,
  ])('email refuses %p', (value) => expect(parseEmail(value)).toBeUndefined());

  it.each([
    ['https://Example.COM/Path?q=1', 'https://example.com/Path?q=1'],
    ['HTTP://example.com', 'http://example.com/'],
    ['www.example.com/a b', undefined],
    ['www.example.com/x', 'https://www.example.com/x'],
    ['http://localhost:3000/x', 'http://localhost:3000/x'],
  ])('url %p → %p', (value, expected) => expect(parseUrl(value)).toBe(expected));

  it.each(['example.com', 'ftp://example.com', 'https://', 'https://exa mple.com', 'https://intranet/x', 'javascript:alert(1)', 'mailto:a@b.c'])(
    'url refuses %p',
    (value) => expect(parseUrl(value)).toBeUndefined(),
  );

  it('phone: E.164 from international numbers, or national ones with a default country', () => {
    const german = createPhoneParser('DE');
    expect(german('+49 30 1234567')).toBe('+49301234567');
    expect(german('030 1234567')).toBe('+49301234567');
    expect(german('0049 30 1234567')).toBe('+49301234567');
    expect(german('+1 (415) 555-2671')).toBe('+14155552671');
    expect(german('030 1234567 ext. 12')).toBe('+49301234567;ext=12');
    const noCountry = createPhoneParser(undefined);
    expect(noCountry('+39 06 1234 5678')).toBe('+390612345678'); // Italy keeps its leading 0
    expect(noCountry('030 1234567')).toBeUndefined(); // national, and no country to assume
  });

  it.each(['12', 'call me', '+49 12', '++49301234567', ''])('phone refuses %p', (value) => expect(createPhoneParser('DE')(value)).toBeUndefined());

  it('builds a parser per rule; string columns need none', () => {
    expect(createValueParser({ type: 'string' })).toBeUndefined();
    expect(createValueParser({ type: 'integer' })).toMatchObject({ json: 'raw', csvSafe: true });
    expect(createValueParser({ type: 'email' })).toMatchObject({ json: 'string' });
    const date = createValueParser({ type: 'date', formats: ['DD/MM/YYYY'] })!;
    expect(date.parse('03/04/2024')).toBe('2024-04-03');
    const defaults = createValueParser({ type: 'date' })!;
    expect(defaults.parse('03/04/2024')).toBeUndefined();
    expect(defaults.explain!('03/04/2024')).toMatch(/ambiguous.*MM\/DD\/YYYY.*DD\/MM\/YYYY/);
    expect(defaults.explain!('yesterday')).toBeUndefined();
    expect(createValueParser({ type: 'datetime' })!.parse('2024-01-05 10:00')).toBe('2024-01-05T10:00:00');
  });
});
