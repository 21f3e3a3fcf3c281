import { ApiProperty } from '@nestjs/swagger';
import { SCOPES } from '@conveyor/http';

/** An API key as operators see it: never the key itself (nor its hash). */
export class ApiKeyView {
  @ApiProperty({ format: 'uuid' })
  id: string;
  @ApiProperty({ example: 'acme' })
  tenant: string;
  @ApiProperty({ enum: SCOPES, isArray: true })
  scopes: string[];
  /** The first characters of the key, to recognise it. */
  @ApiProperty({ example: 'cvk_3f9a' })
  prefix: string;
  name: string | null;
  @ApiProperty({ format: 'date-time' })
  createdAt: string;
}

/** `POST /v1/admin/keys`: the only answer that shows the key. */
export class CreatedApiKeyView extends ApiKeyView {
  @ApiProperty({ example: 'cvk_3f9a…', description: 'The key; shown once' })
  key: string;
}

export class ApiKeyListView {
  keys: ApiKeyView[];
}
