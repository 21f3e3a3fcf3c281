import { bomEncoding, INVALID_UTF8_MARK, InputDecoder, sniffEncoding } from './input-decoder';

function decodeAll(decoder: InputDecoder, chunks: Buffer[]): string {
  return chunks.map((chunk) => decoder.decode(chunk)).join('') + decoder.end();
}

describe('InputDecoder', () => {
  it('drops a UTF-8 BOM and says it saw one', () => {
    const decoder = new InputDecoder('utf-8');
    expect(decodeAll(decoder, [Buffer.from('\ufeffa,b\n')])).toBe('a,b\n');
    expect(decoder.bom).toBe(true);
  });

  it('joins multi-byte characters split across chunks', () => {
    const bytes = Buffer.from('€ müller 😀');
    for (let cut = 1; cut < bytes.length; cut++) {
      const decoder = new InputDecoder('utf-8');
      expect(decodeAll(decoder, [bytes.subarray(0, cut), bytes.subarray(cut)])).toBe('€ müller 😀');
      expect(decoder.invalidBytes).toBe(0);
    }
  });

  it('marks each invalid byte, including a sequence cut off at the end', () => {
    const decoder = new InputDecoder('utf-8');
    const text = decodeAll(decoder, [Buffer.from([0x61, 0xff, 0x62, 0xc3, 0x28]), Buffer.from([0x63, 0xe2, 0x82])]);
    expect(text).toBe(`a${INVALID_UTF8_MARK}b${INVALID_UTF8_MARK}(c${INVALID_UTF8_MARK}${INVALID_UTF8_MARK}`);
    expect(decoder.invalidBytes).toBe(4);
  });

  it('refuses overlong encodings and UTF-16 surrogates written as UTF-8', () => {
    const decoder = new InputDecoder('utf-8');
    decodeAll(decoder, [Buffer.from([0xc0, 0xaf, 0xed, 0xa0, 0x80])]);
    expect(decoder.invalidBytes).toBe(5);
  });

  it('reads latin1 as Windows-1252', () => {
    const decoder = new InputDecoder('latin1');
    expect(decodeAll(decoder, [Buffer.from([0x4d, 0xfc, 0x6c, 0x6c, 0x65, 0x72, 0x20, 0x80, 0x93, 0x94])])).toBe('Müller €“”');
  });

  it('guesses the encoding from the first bytes', () => {
    expect(sniffEncoding(Buffer.from('plain ascii'))).toBe('utf-8');
    expect(sniffEncoding(Buffer.from('müller'))).toBe('utf-8');
    expect(sniffEncoding(Buffer.from([0xef, 0xbb, 0xbf, 0x61]))).toBe('utf-8');
    expect(sniffEncoding(Buffer.from('müller', 'latin1'))).toBe('latin1');
    // Mostly valid UTF-8 with one bad byte: UTF-8 with damage, reported per row.
    expect(sniffEncoding(Buffer.concat([Buffer.from('müller '), Buffer.from([0xff])]))).toBe('utf-8');
    // A character cut off at the end of the sample is not held against it.
    expect(sniffEncoding(Buffer.from('müller').subarray(0, 2))).toBe('utf-8');
  });

  it('names the encoding of a byte order mark', () => {
    expect(bomEncoding(Buffer.from([0xef, 0xbb, 0xbf, 0x61]))).toBe('utf-8');
    expect(bomEncoding(Buffer.from([0xff, 0xfe, 0x61, 0x00]))).toBe('utf-16le');
    expect(bomEncoding(Buffer.from([0xfe, 0xff, 0x00, 0x61]))).toBe('utf-16be');
    expect(bomEncoding(Buffer.from([0xff, 0xfe, 0x00, 0x00]))).toBe('utf-32le');
    expect(bomEncoding(Buffer.from([0x00, 0x00, 0xfe, 0xff]))).toBe('utf-32be');
    expect(bomEncoding(Buffer.from('a,b'))).toBeUndefined();
    expect(bomEncoding(Buffer.alloc(0))).toBeUndefined();
  });

  it('decodes UTF-16 in both byte orders, whatever the chunk boundaries', () => {
    const text = 'name,city\nZoë,Köln 😀\n';
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    const be = Buffer.from(le);
    be.swap16();
    for (const [encoding, bytes] of [
      ['utf-16le', le],
      ['utf-16be', be],
    ] as const) {
      for (let cut = 1; cut < bytes.length; cut++) {
        const decoder = new InputDecoder(encoding);
        expect(decodeAll(decoder, [bytes.subarray(0, cut), bytes.subarray(cut)])).toBe(text);
        expect(decoder.bom).toBe(true);
      }
    }
  });
});
