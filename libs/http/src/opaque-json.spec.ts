import { IsArray, IsObject, IsString } from 'class-validator';
import { DomainError } from '@conveyor/errors';
import { NestedDto, OpaqueJson } from './opaque-json';
import { createValidationPipe } from './validation';

class Item {
  @IsString()
  name: string;

  @IsObject()
  @OpaqueJson()
  payload: Record<string, unknown>;
}

class Batch {
  @IsArray()
  @NestedDto(() => Item)
  items: Item[];
}

describe('OpaqueJsonValidationPipe', () => {
  const pipe = createValidationPipe();

  it('hands @OpaqueJson values over as parsed (the same object), not copied', async () => {
    const payload = { a: { b: [1, 2] }, unknownKeysAreFine: true };
    const item = (await pipe.transform({ name: 'x', payload }, { type: 'body', metatype: Item })) as Item;
    expect(item).toBeInstanceOf(Item);
    expect(item.payload).toBe(payload);
    const batchPayloads = [{ n: 1 }, { n: 2 }];
    const body = { items: batchPayloads.map((p, i) => ({ name: `t${i}`, payload: p })) };
    const batch = (await pipe.transform(body, { type: 'body', metatype: Batch })) as Batch;
    expect(batch.items[0]).toBeInstanceOf(Item);
    expect(batch.items.map((i) => i.payload)).toEqual(batchPayloads);
    expect(batch.items[1].payload).toBe(batchPayloads[1]);
    // The parsed body itself is left as it was.
    expect(body.items[0].payload).toBe(batchPayloads[0]);
  });

  it('still validates the kind of an opaque value and every other field', async () => {
    for (const payload of [[1, 2], 'text', null, undefined]) {
      const error = await pipe.transform({ name: 'x', payload }, { type: 'body', metatype: Item }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).details?.map((d) => d.field)).toEqual(['payload']);
    }
    const nestedError = await pipe
      .transform(
        {
          items: [
            { name: 1, payload: {} },
            { name: 'ok', payload: [] },
          ],
        },
        { type: 'body', metatype: Batch },
      )
      .catch((e: unknown) => e);
    expect((nestedError as DomainError).details?.map((d) => d.field).sort()).toEqual(['items[0].name', 'items[1].payload']);
    const extra = await pipe.transform({ name: 'x', payload: {}, extra: 1 }, { type: 'body', metatype: Item }).catch((e: unknown) => e);
    expect((extra as DomainError).details?.map((d) => d.field)).toEqual(['extra']);
  });

  it('leaves queries and params to the plain ValidationPipe', async () => {
    await expect(pipe.transform('\u0000', { type: 'param', metatype: String, data: 'id' })).resolves.toBe('\u0000');
  });
});
