import { parseInstant } from './instant';

describe('parseInstant', () => {
  it.each([
    ['2030-01-01T10:00:00Z', Date.UTC(2030, 0, 1, 10)],
    ['2030-01-01T10:00Z', Date.UTC(2030, 0, 1, 10)],
    ['2030-01-01t10:00:00.5z', Date.UTC(2030, 0, 1, 10, 0, 0, 500)],
    ['2030-01-01T10:00:00.123456789+00:00', Date.UTC(2030, 0, 1, 10, 0, 0, 123)],
    // The forms Date.parse cannot read, which used to run at once although they name a future time.
    ['2030-01-01T10:00+14', Date.UTC(2029, 11, 31, 20)],
    ['2030-01-01T10:00+1400', Date.UTC(2029, 11, 31, 20)],
    ['2030-01-01T10:00:00-05:30', Date.UTC(2030, 0, 1, 15, 30)],
    ['2030-01-01 10:00:00,25Z', Date.UTC(2030, 0, 1, 10, 0, 0, 250)],
    ['2028-02-29T00:00:00Z', Date.UTC(2028, 1, 29)],
  ])('reads %s', (text, expected) => {
    expect(parseInstant(text)).toBe(expected);
  });

  it.each([
    '2030-W01-1', // week date
    '20300101', // basic format
    '2030-001', // ordinal date
    '2030-01-01', // a date is not an instant
    '2030-01-01T10:00:00', // no offset: local to whom?
    '2029-02-29T00:00:00Z', // not a leap year
    '2030-04-31T00:00:00Z',
    '2030-13-01T00:00:00Z',
    '2030-01-01T24:00:00Z',
    '2030-01-01T10:60:00Z',
    '2030-01-01T10:00:60Z',
    '2030-01-01T10:00+24:00',
    '2030-01-01T10:00+5',
    ' 2030-01-01T10:00:00Z',
    '2030-01-01T10:00:00Z\n',
    '+102030-01-01T10:00:00Z',
    '',
  ])('refuses %j', (text) => {
    expect(parseInstant(text)).toBeUndefined();
  });
});
